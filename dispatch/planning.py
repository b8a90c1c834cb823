"""The dispatcher's use cases, each from the database to the database: plan everything
open, propose a plan for review and accept it, place one emergency at once, the
arrival windows a customer may be offered, and who could take a job now.

Each loads the problem as of a time (`plan_store.load_problem`), works on it with
the solver or the insertion heuristics, and stores or returns the result.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from asset_registry.tables import Device, Site
from dispatch.diff import plan_diff
from dispatch.heuristics.booking import propose_windows
from dispatch.heuristics.emergency import extend_times, insert_emergency
from dispatch.plan import REASON_LATER_DAY, Plan
from dispatch.plan_stats import plan_stats
from dispatch.plan_store import OpenOrder, PlanSummary, load_problem, store_plan, stored_plan
from dispatch.problem import Job, Location, Problem
from dispatch.proposals import Proposal, StaleProposal, new_proposal_id, what_changed
from dispatch.solver import solve
from dispatch.travel import great_circle_seconds, points_of, travel_matrix
from foundations.clock import now_ms

log = logging.getLogger("fieldpulse.dispatch")


def replan(engine: Engine, tz: ZoneInfo, time_limit_s: float = 2.0,
           at_ms: int | None = None, parts: str = "prefer") -> PlanSummary:
    """Plan every open work order onto engineers and store the result (`parts`: how
    the plan minds the parts jobs need, `problem.PARTS_MODES`)."""
    at_ms = now_ms() if at_ms is None else at_ms
    problem, rows = load_problem(engine, tz, at_ms, parts)
    before = stored_plan(problem, rows, at_ms)
    plan = solve(problem, time_limit_s=time_limit_s)
    return store_plan(engine, rows, plan, at_ms, plan_diff(before, plan))


def propose_plan(engine: Engine, tz: ZoneInfo, time_limit_s: float = 2.0,
                 at_ms: int | None = None, made_by: str = "dispatcher",
                 parts: str = "prefer") -> Proposal:
    """Solve like ``replan`` but store nothing: the plan and its changes against the
    stored one, for a dispatcher to review and accept (``apply_proposal``)."""
    at_ms = now_ms() if at_ms is None else at_ms
    problem, rows = load_problem(engine, tz, at_ms, parts)
    before = stored_plan(problem, rows, at_ms)
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
    problem, rows = load_problem(engine, tz, proposal.made_at, proposal.problem.parts)
    if problem != proposal.problem:
        raise StaleProposal(f"proposal {proposal.id} no longer fits: "
                            f"{what_changed(proposal.problem, problem)}; propose again")
    current = stored_plan(problem, rows, proposal.made_at)
    return store_plan(engine, rows, proposal.plan, proposal.made_at,
                      plan_diff(current, proposal.plan))


def _without(engine: Engine, tz: ZoneInfo, order_id: int, at_ms: int, refusal: str
             ) -> tuple[Problem, Job, list[OpenOrder]]:
    """The problem without one open order (to try it somewhere), and that order's job."""
    full, rows = load_problem(engine, tz, at_ms)
    key = str(order_id)
    job = next((j for j in full.jobs if j.id == key), None)
    if job is None:
        raise ValueError(f"work order {order_id} {refusal}")
    return dataclasses.replace(full, jobs=tuple(j for j in full.jobs if j.id != key)), job, rows


def place_emergency(engine: Engine, tz: ZoneInfo, order_id: int,
                    at_ms: int | None = None) -> PlanSummary:
    """Put one new urgent work order into the stored plan at once (under a
    second), bumping lower-priority work if needed; the caller then asks the
    ``Dispatcher`` for a full re-optimisation in the background."""
    at_ms = now_ms() if at_ms is None else at_ms
    problem, job, rows = _without(engine, tz, order_id, at_ms, "is not open")
    current = stored_plan(problem, rows, at_ms)
    times = travel_matrix(points_of(problem))
    result = insert_emergency(problem, times, current, job)
    log.info("emergency work order %s -> %s (bumped %s)", order_id, result.engineer_id,
             result.bumped)
    return store_plan(engine, rows, result.plan, at_ms, result.changes)


@dataclass(frozen=True, slots=True)
class Candidate:
    engineer_id: str
    drive_s: int  # from where the engineer is (or will be free) to the job's site
    eta: int | None  # ms epoch of arrival if given the job; None: no room today
    reason: str = ""  # why there is no ETA


def candidates(engine: Engine, tz: ZoneInfo, order_id: int, at_ms: int | None = None
               ) -> list[Candidate]:
    """Who could take an open work order now (the dispatcher's emergency view):
    every engineer with the skill (and level) tried by insertion into the stored plan,
    pinned to them and without bumping anyone, so an ETA shown is one their route can
    absorb; those with an ETA first (earliest first), then by drive time from where
    they are. Raises ValueError for an order that is not open."""
    at_ms = now_ms() if at_ms is None else at_ms
    problem, job, rows = _without(engine, tz, order_id, at_ms,
                                  "is not open (new, assigned or accepted)")
    plan = stored_plan(problem, rows, at_ms)
    times = travel_matrix(points_of(problem))
    grown = extend_times(problem, times, job)
    out = []
    for engineer in problem.engineers:
        if engineer.level(job.skill) < job.level:
            continue
        drive = great_circle_seconds(engineer.start, job.location)
        trial = dataclasses.replace(job, pinned_engineer=engineer.id)
        result = insert_emergency(problem, times, plan, trial, bump=False, grown_times=grown)
        if result.engineer_id is None:
            later = job.pinned_start is None and job.window_start >= engineer.shift_end
            out.append(Candidate(engineer.id, drive, None, REASON_LATER_DAY if later
                                 else "no room in today's route"))
            continue
        stop = next(s for s in result.plan.route_of(engineer.id).stops if s.job_id == job.id)
        out.append(Candidate(engineer.id, drive, at_ms + stop.arrival * 1000))
    return sorted(out, key=lambda c: (c.eta is None, c.eta or 0, c.drive_s))


@dataclass(frozen=True, slots=True)
class WindowOffer:
    start_ms: int
    end_ms: int


# Windows a customer may be offered: two hours wide, within the working day.
OFFER_HOURS = ((8, 10), (10, 12), (12, 14), (14, 16), (16, 18))


def offer_windows(engine: Engine, tz: ZoneInfo, device_id: str, skill: str,
                  duration_min: int, at_ms: int | None = None, days: int = 2,
                  best: int = 3, level: int = 1) -> list[WindowOffer]:
    """Arrival windows to offer a customer who reports a fault on `device_id`: the ones
    a qualified engineer's shift of each coming day can take beside everything already
    planned or promised for that day, without bumping anyone, cheapest extra driving
    first (heuristics.booking), at least an hour from now. Empty when no qualified
    engineer can come."""
    at_ms = now_ms() if at_ms is None else at_ms
    ranked: list[tuple[int, WindowOffer]] = []
    for day in _booking_days(engine, tz, device_id, skill, duration_min, level, at_ms, days):
        windows = [w for w in day.windows if w[0] >= (at_ms + 3_600_000 - day.origin) // 1000]
        ranked += [(o.extra_travel, WindowOffer(day.origin + o.window_start * 1000,
                                                day.origin + o.window_end * 1000))
                   for o in propose_windows(day.problem, day.times, day.plan, day.job,
                                            windows, best=best)]
    ranked.sort(key=lambda r: (r[0], r[1].start_ms))
    return sorted((offer for _, offer in ranked[:best]), key=lambda w: w.start_ms)


def window_available(engine: Engine, tz: ZoneInfo, device_id: str, skill: str,
                     duration_min: int, start_ms: int, end_ms: int,
                     at_ms: int | None = None, level: int = 1) -> bool:
    """Whether the window (start_ms, end_ms) can still be promised for a visit to
    `device_id`, as `offer_windows` judges it (another customer may just have taken the
    room it had when it was offered)."""
    at_ms = now_ms() if at_ms is None else at_ms
    for day in _booking_days(engine, tz, device_id, skill, duration_min, level, at_ms, 2):
        window = ((start_ms - day.origin) // 1000, (end_ms - day.origin) // 1000)
        if window in day.windows and start_ms >= at_ms + 3_600_000 and propose_windows(
                day.problem, day.times, day.plan, day.job, [window], best=1):
            return True
    return False


@dataclass(frozen=True, slots=True)
class _BookingDay:
    origin: int  # ms epoch the day's problem counts from
    problem: Problem
    times: np.ndarray
    plan: Plan  # the day's stored stops plus the orders promised a window that day
    job: Job  # the visit to book
    windows: tuple[tuple[int, int], ...]  # OFFER_HOURS of that date, after the origin


def _booking_days(engine: Engine, tz: ZoneInfo, device_id: str, skill: str,
                  duration_min: int, level: int, at_ms: int, days: int) -> list[_BookingDay]:
    """Each coming day as booking sees it: the engineers' shifts of that day, the stops
    already planned for it, and the orders promised a window on it that no plan has
    placed yet (a later day's promises are kept only once its shift is next, so each
    booking must leave room for the ones before it)."""
    with Session(engine) as session:
        site = session.exec(select(Site).join(Device, col(Device.site_id) == Site.id)
                            .where(Device.id == device_id)).first()
    if site is None:
        return []
    job = Job(id="offer", location=Location(site.lat, site.lon), skill=skill,
              duration=duration_min * 60, priority=3, level=level)
    today = datetime.fromtimestamp(at_ms / 1000, tz).replace(hour=0, minute=0, second=0,
                                                             microsecond=0)
    out = []
    for day in range(days):
        date = today + timedelta(days=day)  # wall-clock days, right across DST
        # Each day is planned from its own start: the engineers' shifts of that day,
        # and the stops already planned for it.
        # Today counts from now in whole seconds: the windows are whole-second offsets
        # from the origin, so an offer is exactly its hour (08:00:00.000), and the same
        # offer is recognised at booking time, a moment (and some milliseconds) later.
        origin = at_ms - at_ms % 1000 if day == 0 else int(date.timestamp() * 1000)
        day_end = int((date + timedelta(days=1)).timestamp() * 1000)
        problem, rows = load_problem(engine, tz, origin)
        if not any(e.level(skill) >= level for e in problem.engineers):
            continue
        bounds = [(int(date.replace(hour=begin).timestamp() * 1000),
                   int(date.replace(hour=end).timestamp() * 1000)) for begin, end in OFFER_HOURS]
        windows = tuple(((start - origin) // 1000, (stop - origin) // 1000)
                        for start, stop in bounds if start >= origin)
        if not windows:
            continue
        plan = stored_plan(problem, rows, origin, planned_from=origin)
        promised = [str(wo.id) for wo, _lat, _lon in rows
                    if wo.window_start is not None and origin <= wo.window_start < day_end]
        problem, times, plan = _with_promises(problem, plan, promised)
        out.append(_BookingDay(origin, problem, times, plan, job, windows))
    return out


def _with_promises(problem: Problem, plan: Plan, promised: list[str]
                   ) -> tuple[Problem, np.ndarray, Plan]:
    """`plan` with every promised order it has not placed put in where it fits, in
    the order of their windows (without bumping anyone)."""
    placed = {s.job_id for r in plan.routes for s in r.stops}
    waiting = sorted((j for j in problem.jobs if j.id in promised and j.id not in placed),
                     key=lambda j: (j.window_start, j.id))
    ids = {j.id for j in waiting}
    base = dataclasses.replace(problem, jobs=tuple(j for j in problem.jobs if j.id not in ids))
    plan = Plan(plan.routes, tuple(u for u in plan.unassigned if u.job_id not in ids),
                plan.objective)
    times = travel_matrix(points_of(base))
    for job in waiting:
        result = insert_emergency(base, times, plan, job, bump=False)
        base, times, plan = result.problem, result.times, result.plan
    return base, times, plan
