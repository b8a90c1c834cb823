"""Emergency insertion: put one critical job into the current plan, now.

The full solver takes seconds to minutes; a burst pipe cannot wait. So the
new job goes in by cheapest feasible insertion over the existing routes
(every engineer with the skill and level, every position, timed by
``schedule.time_route``); if no route has room, one lower-priority, unpinned
job is bumped from a route to make room (lowest priority first, then the
cheapest). Nothing else moves but the timing of the route that takes the
job, so the dispatcher's diff stays small; the dispatcher then re-optimises the
whole plan in the background (`dispatch/dispatcher.py`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.diff import Change, plan_diff
from dispatch.heuristics.schedule import Timing, time_route
from dispatch.plan import Plan, Route, Stop, Unassigned
from dispatch.problem import Job, Location, Problem
from dispatch.travel import GreatCircle, TravelTimes, great_circle_seconds, points_of

log = logging.getLogger("fieldpulse.dispatch")

REASON_BUMPED = "bumped by an emergency job"
REASON_NO_ROOM = "no qualified engineer can fit it today, even by bumping lower-priority work"


@dataclass(frozen=True, slots=True)
class Insertion:
    problem: Problem  # the old problem plus the new job (last)
    times: np.ndarray  # travel matrix of ``problem`` (rows as in ``points_of``)
    plan: Plan
    changes: tuple[Change, ...]  # per engineer with a change: added, removed, moved
    engineer_id: str | None  # who takes the job; None when it could not be placed
    bumped: str | None  # job id moved to unassigned to make room
    extra_travel: int = 0  # seconds of driving added by the insertion


def extend_times(
    problem: Problem, times: np.ndarray, job: Job, travel: TravelTimes | None = None
) -> np.ndarray:
    """The matrix for ``problem`` plus ``job``: the new job's row goes after the
    old jobs (as ``points_of`` orders it); only that row and column are computed."""
    others = points_of(problem)
    to_new, from_new = _drives(travel or GreatCircle(), job.location, others)
    n, m = len(problem.jobs), len(others)
    old = np.r_[0:n, n + 1 : m + 1]
    out = np.zeros((m + 1, m + 1), dtype=np.int64)
    out[np.ix_(old, old)] = times
    out[n, old], out[old, n] = from_new, to_new
    return out


def _drives(
    travel: TravelTimes, new: Location, others: Sequence[Location]
) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(travel, GreatCircle):
        # The same scalar function the full matrix uses, so the entries are
        # bit-identical; symmetric, so one pass gives both directions.
        row = np.array(
            [great_circle_seconds(new, p, travel.road_factor, travel.speed_kmh) for p in others],
            dtype=np.int64,
        )
        return row, row
    full = np.asarray(travel.matrix([new, *others]), dtype=np.int64)
    return full[1:, 0], full[0, 1:]


def insert_emergency(
    problem: Problem,
    times: np.ndarray,
    plan: Plan,
    job: Job,
    travel: TravelTimes | None = None,
    bump: bool = True,
    grown_times: np.ndarray | None = None,
) -> Insertion:
    """``plan`` (a sound plan of ``problem``) with ``job`` added, and the diff.

    ``bump=False`` only uses free room (booking offers must not cancel anyone).
    The plan's ``objective`` is carried over, not recomputed: its penalties
    are the solver's; the background re-optimisation reports a fresh one.
    """
    new_problem = dataclasses.replace(problem, jobs=(*problem.jobs, job))
    new_times = extend_times(problem, times, job, travel) if grown_times is None else grown_times
    jobs = new_problem.jobs
    n = len(jobs)
    row_of = {j.id: k for k, j in enumerate(jobs)}
    by_id = {j.id: j for j in jobs}

    def timing(e: int, ids: Sequence[str]) -> Timing | None:
        eng = new_problem.engineers[e]
        return time_route(eng, [by_id[i] for i in ids], [row_of[i] for i in ids],
                          n + 2 * e, n + 2 * e + 1, new_times, problem.horizon)

    routes = {r.engineer_id: [s.job_id for s in r.stops] for r in plan.routes}
    candidates = [
        e for e, eng in enumerate(new_problem.engineers)
        if eng.level(job.skill) >= job.level
        and (job.pinned_engineer is None or job.pinned_engineer == eng.id)
    ]
    best: tuple[tuple[int, ...], int, list[str], Timing, str | None] | None = None
    before: dict[int, Timing | None] = {}
    for e in candidates:
        ids = routes.get(new_problem.engineers[e].id, [])
        base = before[e] = timing(e, ids)
        if base is None:
            continue  # a route that no longer times out (stale plan) is left alone
        placed = _cheapest_place(job.id, ids, base, e, timing)
        if placed is not None and (best is None or (0, 0, placed[0]) < best[0]):
            best = ((0, 0, placed[0]), e, placed[1], placed[2], None)
    if best is None and bump:
        best = _best_bump(job, candidates, routes, new_problem, by_id, before, timing)

    if best is None:
        unassigned = (*plan.unassigned, Unassigned(job.id, REASON_NO_ROOM))
        new_plan = Plan(plan.routes, unassigned, plan.objective)
        return Insertion(new_problem, new_times, new_plan, (), None, None)
    _, e, trial, t, bumped = best
    eng_id = new_problem.engineers[e].id
    stops = tuple(
        Stop(i, a, a + by_id[i].duration) for i, a in zip(trial, t.arrivals, strict=True)
    )
    new_routes = tuple(
        Route(eng_id, stops, t.break_start) if r.engineer_id == eng_id else r
        for r in plan.routes
    )
    unassigned = plan.unassigned
    if bumped is not None:
        unassigned = (*unassigned, Unassigned(bumped, REASON_BUMPED))
    new_plan = Plan(new_routes, tuple(sorted(unassigned, key=lambda u: row_of[u.job_id])),
                    plan.objective)
    base = before[e]
    assert base is not None  # only routes that time out are candidates
    extra = t.travel - base.travel
    return Insertion(new_problem, new_times, new_plan, plan_diff(plan, new_plan), eng_id, bumped,
                     extra)


def _best_bump(
    job: Job,
    candidates: list[int],
    routes: dict[str, list[str]],
    problem: Problem,
    by_id: dict[str, Job],
    before: dict[int, Timing | None],
    timing: Callable[[int, Sequence[str]], Timing | None],
) -> tuple[tuple[int, ...], int, list[str], Timing, str | None] | None:
    """Remove one lower-priority, unpinned job, then insert: lowest priority
    bumped first, then the cheapest change in travel and lateness."""
    best = None
    for e in candidates:
        base = before.get(e)
        if base is None:
            continue
        ids = routes.get(problem.engineers[e].id, [])
        for q, victim in enumerate(ids):
            v = by_id[victim]
            if v.priority >= job.priority or v.pinned_engineer or v.pinned_start is not None:
                continue
            placed = _cheapest_place(job.id, ids[:q] + ids[q + 1 :], base, e, timing)
            if placed is not None and (best is None or (1, v.priority, placed[0]) < best[0]):
                best = ((1, v.priority, placed[0]), e, placed[1], placed[2], victim)
    return best


def _cheapest_place(job_id: str, ids: list[str], base: Timing, e: int,
                    timing: Callable[[int, Sequence[str]], Timing | None]
                    ) -> tuple[int, list[str], Timing] | None:
    """The cheapest position of `job_id` in route `ids` of engineer `e` (first on ties):
    (extra travel and lateness against `base`, the route, its timing)."""
    found: tuple[int, list[str], Timing] | None = None
    for p in range(len(ids) + 1):
        trial = [*ids[:p], job_id, *ids[p:]]
        t = timing(e, trial)
        if t is None:
            continue
        cost = (t.travel - base.travel) + (t.lateness_cost - base.lateness_cost)
        if found is None or cost < found[0]:
            found = (cost, trial, t)
    return found
