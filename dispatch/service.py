"""The dispatcher's I/O: cases and work orders in the database, plans from the solver."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from asset_registry.database import session_scope
from asset_registry.tables import Customer, Device, Site
from dispatch import sla
from dispatch.booking import propose_windows
from dispatch.diff import Change, plan_diff
from dispatch.emergency import insert_emergency
from dispatch.plan_stats import plan_stats
from dispatch.problem import Break, Job, Location, Problem
from dispatch.problem import Engineer as SolverEngineer
from dispatch.proposals import (
    KEPT,
    Proposal,
    StaleProposal,
    new_proposal_id,
    what_changed,
)
from dispatch.shifts import lunch_break, next_shift_window
from dispatch.solver import Plan, Route, Stop, Unassigned, points_of, solve
from dispatch.tables import (
    OPEN_STATUSES,
    WORK_ORDER_STATUSES,
    Case,
    DispatchPlan,
    Engineer,
    WorkOrder,
    WorkOrderEvent,
)
from dispatch.travel import travel_matrix

log = logging.getLogger("fieldpulse.dispatch")

HORIZON_S = 48 * 3600
# The reason an open order carries until a plan has looked at it.
NOT_PLANNED = "not planned yet"
# Work orders at this priority or above are inserted into the plan at once.
URGENT_PRIORITY = 5
# Plans (with their changes) the dispatcher keeps for the console.
HISTORY = 20


def now_ms() -> int:
    return int(time.time() * 1000)


def open_case(
    session: Session, *, device_id: str, source: str, title: str, skill: str,
    duration_min: int, priority: int, description: str = "", contact: str = "",
    alert_id: int | None = None, at: int | None = None, planned_for: int | None = None,
) -> tuple[Case, WorkOrder]:
    """Open a service case with one work order, ready for the next plan.

    Every channel comes through here, so every case gets its SLA clocks from the
    customer's contract level; the work order's `sla_due` is the response clock,
    which the solver tries to arrive by. Planned work (`planned_for`: a
    maintenance visit's due date) is due by that date instead.
    """
    at = now_ms() if at is None else at
    level = _contract_level(session, device_id)
    due = sla.due_times(sla.policy_for(level), priority, at, planned_for)
    case = Case(device_id=device_id, source=source, alert_id=alert_id, title=title,
                description=description, contact=contact, created_at=at, sla_level=level,
                response_due=due.response_due, resolution_due=due.resolution_due)
    session.add(case)
    session.flush()
    order = WorkOrder(case_id=case.id, device_id=device_id, skill=skill,
                      duration_min=duration_min, priority=priority, created_at=at, updated_at=at,
                      sla_due=due.response_due)
    session.add(order)
    session.flush()
    session.add(WorkOrderEvent(work_order_id=order.id, status="new", at=at, note=title))
    log.info("case %s opened (%s) with work order %s for %s", case.id, source, order.id, device_id)
    return case, order


def _contract_level(session: Session, device_id: str) -> str:
    level = session.exec(select(Customer.contract_level)
                         .join(Site, col(Site.customer_id) == Customer.id)
                         .join(Device, col(Device.site_id) == Site.id)
                         .where(Device.id == device_id)).first()
    return level or sla.DEFAULT_LEVEL


class StatusError(ValueError):
    pass


def set_status(session: Session, order: WorkOrder, status: str, note: str = "") -> None:
    """Move a work order forward in its life cycle; going backwards is refused."""
    if status not in WORK_ORDER_STATUSES:
        raise StatusError(f"unknown status '{status}' (one of {WORK_ORDER_STATUSES})")
    if WORK_ORDER_STATUSES.index(status) <= WORK_ORDER_STATUSES.index(order.status):
        raise StatusError(f"work order {order.id} is already '{order.status}'")
    order.status, order.updated_at = status, now_ms()
    session.add(order)
    session.add(WorkOrderEvent(work_order_id=order.id, status=status, at=order.updated_at,
                               note=note))
    if status == "accepted":
        # Taken by the engineer: later plans keep it with them.
        order.pinned_engineer_id = order.engineer_id
    if status == "done":
        case = session.get(Case, order.case_id)
        if case is not None:
            case.status = "closed"
            session.add(case)


def give_back(session: Session, order: WorkOrder, reason: str) -> None:
    """The engineer cannot complete the job: it returns to the dispatcher with the
    reason on its timeline, to be planned again (urgent ones at once)."""
    if order.status == "done":
        raise StatusError(f"work order {order.id} is already 'done'")
    if not reason.strip():
        raise StatusError("say why the job cannot be completed")
    at = now_ms()
    session.add(WorkOrderEvent(work_order_id=order.id, status="cannot_complete", at=at,
                               note=f"{order.engineer_id or 'engineer'}: {reason.strip()}"))
    order.status, order.updated_at = "new", at
    order.engineer_id = order.eta = order.route_seq = order.pinned_engineer_id = None
    order.unassigned_reason = None
    session.add(order)


@dataclass(frozen=True, slots=True)
class PlanSummary:
    plan_id: int
    assigned: int
    unassigned: int
    # What the plan changed against the one stored before it, per engineer.
    changes: tuple[Change, ...] = ()


def replan(engine: Engine, tz: ZoneInfo, time_limit_s: float = 2.0,
           at_ms: int | None = None) -> PlanSummary:
    """Plan every open work order onto engineers and store the result."""
    at_ms = now_ms() if at_ms is None else at_ms
    problem, rows = _load(engine, tz, at_ms)
    before = _stored_plan(problem, rows, at_ms)
    plan = solve(problem, time_limit_s=time_limit_s)
    return _store(engine, rows, plan, at_ms, plan_diff(before, plan))


def propose_plan(engine: Engine, tz: ZoneInfo, time_limit_s: float = 2.0,
                 at_ms: int | None = None, made_by: str = "dispatcher") -> Proposal:
    """Solve like ``replan`` but store nothing: the plan and its changes against the
    stored one, for a dispatcher to review and accept (``apply_proposal``)."""
    at_ms = now_ms() if at_ms is None else at_ms
    problem, rows = _load(engine, tz, at_ms)
    before = _stored_plan(problem, rows, at_ms)
    plan = solve(problem, time_limit_s=time_limit_s)
    times = travel_matrix(points_of(problem))
    return Proposal(new_proposal_id(), at_ms, made_by, problem, tuple(rows), before, plan,
                    plan_diff(before, plan), plan_stats(problem, before, times),
                    plan_stats(problem, plan, times))


def apply_proposal(engine: Engine, tz: ZoneInfo, proposal: Proposal,
                   at_ms: int | None = None) -> PlanSummary:
    """Store a proposal as the plan in force, if what it was solved for still holds;
    otherwise raise ``StaleProposal`` saying what changed. The changes returned are
    against the plan stored now (another plan may have been stored meanwhile)."""
    at_ms = now_ms() if at_ms is None else at_ms
    if at_ms > proposal.expires_at:
        raise StaleProposal(f"proposal {proposal.id} is {(at_ms - proposal.made_at) // 60_000} "
                            "min old: its arrival times are out of date; propose again")
    # Loaded as of the proposal's own time, the problem is equal unless the work,
    # the pins or the engineers' day changed.
    problem, rows = _load(engine, tz, proposal.made_at)
    if problem != proposal.problem:
        raise StaleProposal(f"proposal {proposal.id} no longer fits: "
                            f"{what_changed(proposal.problem, problem)}; propose again")
    current = _stored_plan(problem, rows, proposal.made_at)
    return _store(engine, rows, proposal.plan, proposal.made_at,
                  plan_diff(current, proposal.plan))


def place_emergency(engine: Engine, tz: ZoneInfo, order_id: int,
                    at_ms: int | None = None) -> PlanSummary:
    """Put one new urgent work order into the stored plan at once (under a
    second), bumping lower-priority work if needed; the caller then asks the
    ``Dispatcher`` for a full re-optimisation in the background."""
    at_ms = now_ms() if at_ms is None else at_ms
    full, rows = _load(engine, tz, at_ms)
    key = str(order_id)
    job = next((j for j in full.jobs if j.id == key), None)
    if job is None:
        raise ValueError(f"work order {order_id} is not open")
    problem = Problem(full.engineers, tuple(j for j in full.jobs if j.id != key), full.horizon)
    current = _stored_plan(problem, rows, at_ms)
    times = travel_matrix(points_of(problem))
    result = insert_emergency(problem, times, current, job)
    log.info("emergency work order %s -> %s (bumped %s)", order_id, result.engineer_id,
             result.bumped)
    return _store(engine, rows, result.plan, at_ms, result.changes)


@dataclass(frozen=True, slots=True)
class WindowOffer:
    start_ms: int
    end_ms: int


# Windows a customer may be offered: two hours wide, within the working day.
OFFER_HOURS = ((8, 10), (10, 12), (12, 14), (14, 16), (16, 18))


def offer_windows(engine: Engine, tz: ZoneInfo, device_id: str, skill: str,
                  duration_min: int, at_ms: int | None = None, days: int = 2,
                  best: int = 3) -> list[WindowOffer]:
    """Arrival windows to offer a customer who reports a fault on `device_id`: the ones
    the plan of each coming day can absorb without bumping anyone, cheapest extra
    driving first (dispatch.booking), at least an hour from now. Empty when no
    engineer with the skill can come."""
    at_ms = now_ms() if at_ms is None else at_ms
    with Session(engine) as session:
        site = session.exec(select(Site).join(Device, col(Device.site_id) == Site.id)
                            .where(Device.id == device_id)).first()
    if site is None:
        return []
    job = Job(id="offer", location=Location(site.lat, site.lon), skill=skill,
              duration=duration_min * 60, priority=3)
    today = datetime.fromtimestamp(at_ms / 1000, tz).replace(hour=0, minute=0, second=0,
                                                             microsecond=0)
    ranked: list[tuple[int, WindowOffer]] = []
    for day in range(days):
        date = today + timedelta(days=day)  # wall-clock days, right across DST
        # Each day is planned from its own start: the engineers' shifts of that day,
        # and the stops already planned for it.
        origin = at_ms if day == 0 else int(date.timestamp() * 1000)
        problem, rows = _load(engine, tz, origin)
        if not problem.engineers:
            continue
        windows = []
        for begin, end in OFFER_HOURS:
            start = int(date.replace(hour=begin).timestamp() * 1000)
            stop = int(date.replace(hour=end).timestamp() * 1000)
            if start >= at_ms + 3_600_000:
                windows.append(((start - origin) // 1000, (stop - origin) // 1000))
        if not windows:
            continue
        plan = _stored_plan(problem, rows, origin, planned_from=origin)
        times = travel_matrix(points_of(problem))
        ranked += [(o.extra_travel, WindowOffer(origin + o.window_start * 1000,
                                                origin + o.window_end * 1000))
                   for o in propose_windows(problem, times, plan, job, windows, best=best)]
    ranked.sort(key=lambda r: (r[0], r[1].start_ms))
    return sorted((offer for _, offer in ranked[:best]), key=lambda w: w.start_ms)


def _stored_plan(problem: Problem, rows: list, at_ms: int,
                 planned_from: int | None = None) -> Plan:
    """The plan as the database holds it (engineer, route order, ETA per order);
    with `planned_from`, only the stops planned at or after it (a later day's view)."""
    known = {e.id for e in problem.engineers}
    by_engineer: dict[str, list[tuple[int, Stop]]] = {e.id: [] for e in problem.engineers}
    routed = set()
    durations = {j.id: j.duration for j in problem.jobs}
    for wo, _lat, _lon in rows:
        key = str(wo.id)
        if key in durations and wo.engineer_id in known and wo.eta is not None \
                and (planned_from is None or wo.eta >= planned_from):
            arrival = max(0, (wo.eta - at_ms) // 1000)
            stop = Stop(key, arrival, arrival + durations[key])
            by_engineer[wo.engineer_id].append((wo.route_seq or 0, stop))
            routed.add(key)
    reasons = {str(wo.id): wo.unassigned_reason or NOT_PLANNED for wo, _a, _b in rows}
    return Plan(
        routes=tuple(
            Route(e.id, tuple(stop for _seq, stop in sorted(by_engineer[e.id],
                                                             key=lambda x: x[0])))
            for e in problem.engineers
        ),
        unassigned=tuple(Unassigned(j.id, reasons[j.id]) for j in problem.jobs
                         if j.id not in routed),
        objective=0,
    )


def _load(engine: Engine, tz: ZoneInfo, at_ms: int) -> tuple[Problem, list]:
    now = datetime.fromtimestamp(at_ms / 1000, tz)
    with Session(engine) as session:
        engineers = session.exec(select(Engineer).order_by(Engineer.id)).all()
        rows = list(session.exec(
            select(WorkOrder, Site.lat, Site.lon)
            .join(Device, Device.id == WorkOrder.device_id)
            .join(Site, Site.id == Device.site_id)
            .where(col(WorkOrder.status).in_(OPEN_STATUSES))
            .order_by(WorkOrder.id)
        ).all())
        busy = _busy_engineers(session, at_ms)
    solver_engineers = []
    for e in engineers:
        shift_start, shift_end = next_shift_window(e.shift_start, e.shift_end, now)
        home = Location(e.home_lat, e.home_lon)
        start = home
        if e.id in busy:  # in-day: continue from the job under way, once it is done
            start, free_s = busy[e.id]
            shift_start = max(shift_start, free_s)
        if shift_start >= shift_end:
            continue  # busy past the end of the shift: nothing more today
        lunch = lunch_break(e.shift_start, e.shift_end, e.lunch_from, e.lunch_to,
                            e.lunch_minutes, now)
        if lunch is not None and lunch.earliest < shift_start:
            # Busy with the job under way until shift_start: lunch after it, if it still fits.
            lunch = (Break(shift_start, lunch.latest, lunch.duration)
                     if lunch.latest >= shift_start else None)
        solver_engineers.append(SolverEngineer(
            id=e.id, skills=e.skill_set(), start=start, end=home,
            shift_start=shift_start, shift_end=shift_end, levels=e.level_pairs(), lunch=lunch,
        ))

    def rel(ms: int | None) -> int | None:
        """An epoch time as seconds after the plan's origin (the past clamps to now)."""
        return None if ms is None else min(HORIZON_S, max(0, (ms - at_ms) // 1000))

    problem = Problem(
        engineers=tuple(solver_engineers),
        jobs=tuple(
            Job(id=str(wo.id), location=Location(lat, lon), skill=wo.skill,
                duration=wo.duration_min * 60, priority=wo.priority, level=wo.level,
                window_start=rel(wo.window_start) or 0, window_end=rel(wo.window_end),
                sla_due=rel(wo.sla_due), pinned_start=rel(wo.pinned_start),
                # A pin to an engineer off today stays a pin: the job is left out
                # with its reason rather than silently given to someone else.
                pinned_engineer=wo.pinned_engineer_id)
            for wo, lat, lon in rows
        ),
        horizon=HORIZON_S,
    )
    return problem, rows


def _store(engine: Engine, rows: list, plan: Plan, at_ms: int,
           changes: tuple[Change, ...] = ()) -> PlanSummary:
    assignment = {
        stop.job_id: (route.engineer_id, seq, at_ms + stop.arrival * 1000)
        for route in plan.routes
        for seq, stop in enumerate(route.stops)
    }
    reasons = {u.job_id: u.reason for u in plan.unassigned}
    with session_scope(engine) as session:
        for wo, _lat, _lon in rows:
            order = session.get(WorkOrder, wo.id)
            if order is None or order.status not in OPEN_STATUSES:
                continue  # moved on (e.g. engineer started it) while we solved
            engineer_id, seq, eta = assignment.get(str(wo.id), (None, None, None))
            if engineer_id != order.engineer_id:
                status = "assigned" if engineer_id else "new"
                note = f"assigned to {engineer_id}" if engineer_id else reasons.get(str(wo.id), "")
                session.add(WorkOrderEvent(work_order_id=order.id, status=status, at=at_ms,
                                           note=note))
                order.status = status
            order.engineer_id, order.route_seq, order.eta = engineer_id, seq, eta
            order.unassigned_reason = reasons.get(str(wo.id))
            order.updated_at = at_ms
            session.add(order)
        record = DispatchPlan(created_at=at_ms, assigned=len(assignment),
                              unassigned=len(plan.unassigned), objective=plan.objective)
        session.add(record)
        session.flush()
        summary = PlanSummary(record.id, len(assignment), len(plan.unassigned), changes)
    log.info("plan %s: %s assigned, %s unassigned", summary.plan_id, summary.assigned,
             summary.unassigned)
    return summary


ACTIVE_STATUSES = ("en_route", "on_site")


def _busy_engineers(session: Session, at_ms: int) -> dict[str, tuple[Location, int]]:
    """Engineer -> (site of the job under way, seconds from now until it is done).

    On site: started when the status changed, takes its estimated duration.
    En route: arrives at the planned ETA (or now, if that has passed) first.
    An overrun job counts as finishing now: the engineer reports when done.
    """
    rows = session.exec(
        select(WorkOrder, Site.lat, Site.lon)
        .join(Device, Device.id == WorkOrder.device_id)
        .join(Site, Site.id == Device.site_id)
        .where(col(WorkOrder.status).in_(ACTIVE_STATUSES))
        .where(col(WorkOrder.engineer_id).is_not(None))
        .order_by(WorkOrder.id)
    ).all()
    busy: dict[str, tuple[Location, int]] = {}
    for wo, lat, lon in rows:
        begun = wo.updated_at if wo.status == "on_site" else max(at_ms, wo.eta or at_ms)
        done_s = max(0, -(-(begun + wo.duration_min * 60_000 - at_ms) // 1000))
        prev = busy.get(wo.engineer_id)
        if prev is None or done_s > prev[1]:
            busy[wo.engineer_id] = (Location(lat, lon), done_s)
    return busy


class Dispatcher:
    """Replans in the background when asked (new work), and periodically.

    Urgent work orders (priority 5 and up, e.g. from a critical alert) that no
    plan has placed yet are inserted into the stored plan first, at once, and
    the full re-optimisation follows; the loop also looks for them every
    `urgent_poll_s`, so orders opened by other processes are placed promptly.

    With `review=True` the loop's re-optimisations are only proposed: they wait
    in `proposals` until a dispatcher accepts one (emergencies still go in at once).
    """

    def __init__(self, engine: Engine, tz: ZoneInfo, period_s: float = 60.0,
                 debounce_s: float = 1.0, time_limit_s: float = 2.0,
                 urgent_poll_s: float = 2.0, clock: Callable[[], int] = now_ms,
                 review: bool = False) -> None:
        self._engine, self._tz = engine, tz
        self._clock = clock  # ms epoch "now" of every plan (tests pin it to a shift)
        self._period_s, self._debounce_s, self._time_limit_s = period_s, debounce_s, time_limit_s
        self._urgent_poll_s = urgent_poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)
        self._lock = threading.Lock()  # one plan is written at a time
        self.review = review
        self._proposals: dict[int, Proposal] = {}
        self.last: PlanSummary | None = None
        # The latest plans' changes, newest last: what the console shows as a diff.
        self.history: deque[tuple[str, PlanSummary]] = deque(maxlen=HISTORY)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def request(self) -> None:
        self._wake.set()

    def emergency(self, order_id: int) -> PlanSummary:
        """Place an urgent work order now (insertion, well under a second),
        then let the background loop re-optimise the whole plan."""
        with self._lock:
            summary = place_emergency(self._engine, self._tz, order_id, at_ms=self._clock())
            self.history.append(("emergency", summary))
        self.request()
        return summary

    def propose(self, made_by: str = "dispatcher") -> Proposal:
        """Solve the open work now and keep the result for review; nothing is stored."""
        proposal = propose_plan(self._engine, self._tz, self._time_limit_s,
                                at_ms=self._clock(), made_by=made_by)
        with self._lock:
            self._proposals[proposal.id] = proposal
            for old in sorted(self._proposals)[:-KEPT]:
                del self._proposals[old]
        return proposal

    def proposals(self) -> list[Proposal]:
        """Proposals still open for review, newest first."""
        now = self._clock()
        with self._lock:
            return sorted((p for p in self._proposals.values() if p.expires_at >= now),
                          key=lambda p: p.id, reverse=True)

    def proposal(self, proposal_id: int) -> Proposal | None:
        return next((p for p in self.proposals() if p.id == proposal_id), None)

    def accept(self, proposal_id: int) -> PlanSummary:
        """Store a proposal as the plan in force (``StaleProposal`` if it no longer
        fits, ``KeyError`` if there is no such proposal)."""
        with self._lock:
            proposal = self._proposals.get(proposal_id)
            if proposal is None:
                raise KeyError(proposal_id)
            try:
                summary = apply_proposal(self._engine, self._tz, proposal, at_ms=self._clock())
            finally:
                # Accepted, or useless from now on: either way it is no longer open.
                del self._proposals[proposal_id]
            self.last = summary
            self.history.append(("accepted", summary))
        return summary

    def discard(self, proposal_id: int) -> bool:
        with self._lock:
            return self._proposals.pop(proposal_id, None) is not None

    def place_urgent(self) -> list[PlanSummary]:
        """Insert every urgent order that no plan has looked at yet."""
        placed = []
        for order_id in urgent_unplanned(self._engine):
            try:
                placed.append(self.emergency(order_id))
            except Exception:
                log.exception("emergency insertion of work order %s failed; the next plan "
                              "will place it", order_id)
        return placed

    def _loop(self) -> None:
        next_plan = time.monotonic() + self._period_s
        while not self._stop.is_set():
            woken = self._wake.wait(min(self._urgent_poll_s, self._period_s))
            if self._stop.is_set():
                return
            try:
                if self.place_urgent():
                    woken = True  # then re-optimise around them
            except Exception:
                log.exception("looking for urgent work orders failed; will retry")
            if not woken and time.monotonic() < next_plan:
                continue
            # Let a burst of new work orders settle into one plan.
            time.sleep(self._debounce_s)
            self._wake.clear()
            next_plan = time.monotonic() + self._period_s
            try:
                if self.review:
                    proposal = self.propose(made_by="dispatcher (periodic)")
                    log.info("plan proposal %s waits for review: %s engineers' routes change",
                             proposal.id, len(proposal.changes))
                else:
                    with self._lock:
                        self.last = replan(self._engine, self._tz, self._time_limit_s,
                                           at_ms=self._clock())
                        self.history.append(("replan", self.last))
            except Exception:
                log.exception("dispatch plan failed; will retry")


def urgent_unplanned(engine: Engine) -> list[int]:
    """Open urgent orders no plan has placed or explained yet (oldest first)."""
    with Session(engine) as session:
        return list(session.exec(
            select(WorkOrder.id).where(WorkOrder.status == "new",
                                       col(WorkOrder.priority) >= URGENT_PRIORITY,
                                       col(WorkOrder.engineer_id).is_(None),
                                       or_(col(WorkOrder.unassigned_reason).is_(None),
                                           WorkOrder.unassigned_reason == NOT_PLANNED))
            .order_by(WorkOrder.id)).all())
