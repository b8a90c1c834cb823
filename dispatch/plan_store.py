"""Between the database and the solver: the problem as the database holds it now, the
plan stored on the work orders, and storing a new plan.

A plan is kept on the work orders themselves (engineer, route position, ETA, or the
reason it is unplanned) plus one `DispatchPlan` row with its figures. Times in a
`Problem` are seconds after the plan's origin (`at_ms`), clamped to `HORIZON_S`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from asset_registry.tables import Device, Site
from dispatch.diff import Change
from dispatch.plan import REASON_LATER_DAY, Plan, Route, Stop, Unassigned
from dispatch.problem import Break, Depot, Job, Location, Problem
from dispatch.problem import Engineer as SolverEngineer
from dispatch.shifts import lunch_break, next_shift_window
from dispatch.tables import DispatchPlan
from foundations.database import session_scope
from service import work_orders
from service.parts_needed import needs_of
from service.stock import vans_for_planning, warehouses_for_planning
from service.tables import OPEN_STATUSES, Engineer, WorkOrder

log = logging.getLogger("fieldpulse.dispatch")

HORIZON_S = 48 * 3600
# The reason an open order carries until a plan has looked at it.
NOT_PLANNED = "not planned yet"
# Statuses of a job under way: its engineer is busy with it.
UNDER_WAY = ("en_route", "on_site")

# An open work order with its site's position, as the problem was loaded from.
OpenOrder = tuple[WorkOrder, float, float]


@dataclass(frozen=True, slots=True)
class PlanSummary:
    """What storing a plan did: its row, how much it placed, what it changed."""

    plan_id: int
    assigned: int
    unassigned: int
    # What the plan changed against the one stored before it, per engineer.
    changes: tuple[Change, ...] = ()


def load_problem(engine: Engine, tz: ZoneInfo, at_ms: int, parts: str = "prefer"
                 ) -> tuple[Problem, list[OpenOrder]]:
    """Every open work order and every engineer's coming shift, as of `at_ms`; the
    parts each order needs and each van holds for them (`parts`: see PARTS_MODES)."""
    now = datetime.fromtimestamp(at_ms / 1000, tz)
    with Session(engine) as session:
        engineers = session.exec(select(Engineer).order_by(col(Engineer.id))).all()
        rows = [(wo, lat, lon) for wo, lat, lon in session.exec(
            select(WorkOrder, Site.lat, Site.lon)
            .join(Device, col(Device.id) == WorkOrder.device_id)
            .join(Site, col(Site.id) == Device.site_id)
            .where(col(WorkOrder.status).in_(OPEN_STATUSES))
            .order_by(col(WorkOrder.id))
        ).all()]
        busy = _busy_engineers(session, at_ms)
        open_ids = {wo.id for wo, _lat, _lon in rows if wo.id is not None}
        vans = vans_for_planning(session, open_ids)
        depots = tuple(Depot(loc.id, Location(loc.lat or 0.0, loc.lon or 0.0),
                             tuple(sorted(stock.items())))
                       for loc, stock in warehouses_for_planning(session, open_ids))
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
            van=tuple(sorted(vans.get(e.id, {}).items())),
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
                pinned_engineer=wo.pinned_engineer_id,
                parts=tuple((n.part, n.qty) for n in needs_of(wo.parts_needed)))
            for wo, lat, lon in rows
        ),
        horizon=HORIZON_S,
        parts=parts,
        depots=depots,
    )
    return problem, rows


def stored_plan(problem: Problem, rows: list[OpenOrder], at_ms: int,
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
            assert wo.engineer_id is not None
            arrival = max(0, (wo.eta - at_ms) // 1000)
            stop = Stop(key, arrival, arrival + durations[key], wo.pickup_from)
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


def store_plan(engine: Engine, rows: list[OpenOrder], plan: Plan, at_ms: int,
               changes: tuple[Change, ...] = ()) -> PlanSummary:
    """Put `plan` in force on the open work orders it was solved for."""
    assignment = {
        stop.job_id: (route.engineer_id, seq, at_ms + stop.arrival * 1000)
        for route in plan.routes
        for seq, stop in enumerate(route.stops)
    }
    pickups = {stop.job_id: stop.via for route in plan.routes for stop in route.stops}
    reasons = {u.job_id: u.reason for u in plan.unassigned}
    notes = {n.job_id: n.text for n in plan.notes}
    with session_scope(engine) as session:
        for wo, _lat, _lon in rows:
            order = session.get(WorkOrder, wo.id)
            if order is None or order.status not in OPEN_STATUSES:
                continue  # moved on (e.g. engineer started it) while we solved
            engineer_id, seq, eta = assignment.get(str(wo.id), (None, None, None))
            before = promise(order, at_ms)
            work_orders.plan(session, order, engineer_id, seq, eta, reasons.get(str(wo.id)),
                             at_ms, notes.get(str(wo.id)), pickups.get(str(wo.id)))
            if before in ("kept", "booked") and promise(order, at_ms) == "broken":
                work_orders.window_missed(session, order, reasons.get(str(wo.id)) or "", at_ms)
        record = DispatchPlan(created_at=at_ms, assigned=len(assignment),
                              unassigned=len(plan.unassigned), objective=plan.objective)
        session.add(record)
        session.flush()
        assert record.id is not None
        summary = PlanSummary(record.id, len(assignment), len(plan.unassigned), changes)
    log.info("plan %s: %s assigned, %s unassigned", summary.plan_id, summary.assigned,
             summary.unassigned)
    return summary


def _busy_engineers(session: Session, at_ms: int) -> dict[str, tuple[Location, int]]:
    """Engineer -> (site of the job under way, seconds from now until it is done).

    On site: started when the status changed, takes its estimated duration.
    En route: arrives at the planned ETA (or now, if that has passed) first.
    An overrun job counts as finishing now: the engineer reports when done.
    """
    rows = session.exec(
        select(WorkOrder, Site.lat, Site.lon)
        .join(Device, col(Device.id) == WorkOrder.device_id)
        .join(Site, col(Site.id) == Device.site_id)
        .where(col(WorkOrder.status).in_(UNDER_WAY))
        .where(col(WorkOrder.engineer_id).is_not(None))
        .order_by(col(WorkOrder.id))
    ).all()
    busy: dict[str, tuple[Location, int]] = {}
    for wo, lat, lon in rows:
        assert wo.engineer_id is not None
        begun = wo.updated_at if wo.status == "on_site" else max(at_ms, wo.eta or at_ms)
        done_s = max(0, -(-(begun + wo.duration_min * 60_000 - at_ms) // 1000))
        prev = busy.get(wo.engineer_id)
        if prev is None or done_s > prev[1]:
            busy[wo.engineer_id] = (Location(lat, lon), done_s)
    return busy


def promise(order: WorkOrder, at_ms: int) -> str | None:
    """How the arrival window promised to the order's customer stands: None (none
    promised, or the visit has begun), "kept" (an engineer's route arrives within it),
    "booked" (its day's plan has not been made yet) or "broken" (the plan left it out,
    or the window passed without an arrival): then the customer must be told."""
    if order.window_start is None or order.window_end is None \
            or order.status not in (*OPEN_STATUSES, "en_route"):
        return None
    if order.engineer_id is not None and order.eta is not None \
            and order.window_start <= order.eta <= order.window_end:
        return "kept"
    if at_ms <= order.window_end and order.engineer_id is None \
            and order.unassigned_reason in (None, NOT_PLANNED, REASON_LATER_DAY):
        return "booked"
    return "broken"
