"""Problem in, plan out: the OR-Tools routing model behind the dispatcher.

Pipeline: ``screen`` (cheap checks that give unassigned jobs an honest reason
and keep hopeless jobs out of the model) → ``build`` (model.py) → ``search``
(search.py, where determinism is explained) → ``_read_routes``.

Big days (more than ``LARGE`` candidate jobs) start from the greedy plan
instead of the construction heuristic, and with more than two regions'
worth of engineers are solved region by region (regions.py, which says why).
"""

from __future__ import annotations

import numpy as np
from ortools.constraint_solver import pywrapcp

from dispatch.heuristics.greedy import greedy_plan
from dispatch.plan import (
    REASON_CAPACITY,
    Note,
    Plan,
    Route,
    Stop,
    Unassigned,
    parts_text,
)
from dispatch.problem import PICKUP_S, Problem
from dispatch.solver.model import Model, build
from dispatch.solver.regions import REGION, solve_by_regions
from dispatch.solver.screen import Screen, late_cost, penalties, screen
from dispatch.solver.search import DETERMINISTIC_PATIENCE, search
from dispatch.travel import GreatCircle, TravelTimes, points_of

__all__ = ["DETERMINISTIC_PATIENCE", "solve"]


def solve(
    problem: Problem,
    time_limit_s: float = 5.0,
    deterministic: bool = True,
    travel: TravelTimes | None = None,
    times: np.ndarray | None = None,
    first_only: bool = False,
    start: Plan | None = None,
) -> Plan:
    """Plan ``problem``; always returns a plan, never raises for hard days.

    ``times`` (rows as in ``points_of``) skips computing the matrix again
    when the caller already has it, e.g. a re-optimisation after an emergency.
    ``first_only`` returns the first feasible plan, before any local search.
    ``start``: a sound plan to improve on (else one is built; for big days the
    greedy plan, see ``LARGE``).
    """
    if not time_limit_s > 0:
        raise ValueError(f"time_limit_s: must be > 0, got {time_limit_s}")
    jobs, engineers = problem.jobs, problem.engineers
    if times is None:
        times = (travel or GreatCircle()).matrix(points_of(problem))
    times = np.asarray(times, dtype=np.int64)

    screened = screen(problem, times)
    penalty = penalties(problem, screened.usable)
    routes: dict[str, Route] = {e.id: Route(e.id, ()) for e in engineers}
    dropped = dict(screened.rejected)
    objective = sum(penalty[j] for j in screened.rejected)

    big = len(screened.allowed) > LARGE
    if big and not first_only and len(screened.usable) > 2 * REGION:
        def part(sub: Problem, sub_times: np.ndarray, sub_start: Plan, limit: float) -> Plan:
            return solve(sub, limit, deterministic, times=sub_times, start=sub_start)

        found, unplaced = solve_by_regions(
            problem, times, screened.allowed, screened.usable,
            start or greedy_plan(problem, times), part, time_limit_s,
        )
        routes.update(found)
        dropped.update({j: REASON_CAPACITY for j in screened.allowed if jobs[j].id in unplaced})
        objective = _cost(problem, times, routes) + sum(penalty[j] for j in dropped)
    elif screened.allowed:  # no jobs, no engineers, nothing feasible: OR-Tools is not needed
        if start is None and big:
            start = greedy_plan(problem, times)
        found = _solve_model(problem, times, screened, penalty, time_limit_s, deterministic,
                             first_only, start)
        routes.update(found)
        visited = {stop.job_id for route in routes.values() for stop in route.stops}
        dropped.update({j: REASON_CAPACITY for j in screened.allowed if jobs[j].id not in visited})
        objective = _cost(problem, times, routes) + sum(penalty[j] for j in dropped)

    return Plan(
        routes=tuple(routes[e.id] for e in engineers),
        unassigned=tuple(Unassigned(jobs[j].id, dropped[j]) for j in sorted(dropped)),
        objective=int(objective),
        notes=part_notes(problem, routes),
    )


def part_notes(problem: Problem, routes: dict[str, Route]) -> tuple[Note, ...]:
    """For each routed job that needs parts: whether its engineer carries them."""
    if problem.parts == "ignore":
        return ()
    jobs = {job.id: job for job in problem.jobs}
    notes = []
    for engineer in problem.engineers:
        for stop in routes[engineer.id].stops:
            job = jobs[stop.job_id]
            if not job.parts:
                continue
            text = parts_text(job.parts)
            if stop.via is not None:
                notes.append(Note(job.id, f"picks up {text} at {stop.via} on the way"))
                continue
            notes.append(Note(job.id, f"carries {text}" if engineer.carries(job.parts) else
                              f"sent without {text}: no engineer or warehouse within reach "
                              "holds it"))
    return tuple(sorted(notes, key=lambda n: n.job_id))


# Above this many candidate jobs the search starts from the greedy plan
# (greedy.py, ~2 s for 1,000 jobs x 100 engineers): parallel cheapest
# insertion is worse than quadratic and, measured on the field benchmark,
# found no plan at all for 1,000 jobs in 60 s.
LARGE = 200


def _routes_of(problem: Problem, plan: Plan, model: Model) -> list[list[int]]:
    """``plan`` as model node numbers per vehicle (jobs outside the model dropped)."""
    row = {job.id: j for j, job in enumerate(problem.jobs)}
    depot = {d.id: k for k, d in enumerate(problem.depots)}
    stops = {r.engineer_id: r.stops for r in plan.routes}
    routes = []
    for e in model.vehicles:
        engineer = problem.engineers[e]
        nodes = (model.node_of(row[s.job_id], engineer.carries(problem.jobs[row[s.job_id]].parts),
                               depot.get(s.via) if s.via else None)
                 for s in stops.get(engineer.id, ()))
        routes.append([k for k in nodes if k is not None])
    return routes


def _solve_model(
    problem: Problem,
    times: np.ndarray,
    screened: Screen,
    penalty: list[int],
    time_limit_s: float,
    deterministic: bool,
    first_only: bool,
    start: Plan | None,
) -> dict[str, Route]:
    """One routing model for the whole problem: routes of the engineers in it."""
    model = build(problem, times, screened, penalty)
    initial = None if start is None else _routes_of(problem, start, model)
    solution = search(model, time_limit_s, deterministic, first_only, initial)
    if solution is not None:
        return _read_routes(problem, model, solution)
    if start is not None:
        # No better plan read back in time: the plan we started from is sound.
        return {r.engineer_id: r for r in start.routes}
    # Not expected: all-empty routes are always feasible. Still, the caller
    # gets a plan, with every candidate marked as not fitted.
    return {}


def _cost(problem: Problem, times: np.ndarray, routes: dict[str, Route]) -> int:
    """Travel plus SLA lateness cost, as the routing model counts them."""
    n, row = len(problem.jobs), {j.id: k for k, j in enumerate(problem.jobs)}
    depot = {d.id: n + 2 * len(problem.engineers) + k for k, d in enumerate(problem.depots)}
    total = 0
    for e, eng in enumerate(problem.engineers):
        stops = routes[eng.id].stops
        at = n + 2 * e
        for stop in stops:
            k = row[stop.job_id]
            if stop.via is not None:  # by way of the depot
                total += int(times[at, depot[stop.via]]) + PICKUP_S
                at = depot[stop.via]
            total += int(times[at, k])
            at = k
        if stops:
            total += int(times[at, n + 2 * e + 1])
        for stop in stops:
            job = problem.jobs[row[stop.job_id]]
            if job.sla_due is not None:
                total += late_cost(job) * max(0, stop.arrival - job.sla_due)
    return total


def _read_routes(
    problem: Problem, model: Model, solution: pywrapcp.Assignment
) -> dict[str, Route]:
    routing, found = model.routing, {}
    for v, e in enumerate(model.vehicles):
        stops = []
        index = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            node = model.manager.IndexToNode(index)
            job = problem.jobs[model.cand[node]]
            # Min of the cumul is the earliest start consistent with the route
            # (the engineer leaves at shift start and waits on site if early).
            arrival = solution.Min(model.time.CumulVar(index))
            depot = model.depots[node]
            stops.append(Stop(job.id, arrival, arrival + job.duration,
                              None if depot is None else problem.depots[depot].id))
            index = solution.Value(routing.NextVar(index))
        lunch = model.breaks.get(v)
        break_start = solution.StartValue(lunch) if lunch is not None and stops else None
        engineer_id = problem.engineers[e].id
        found[engineer_id] = Route(engineer_id, tuple(stops), break_start)
    return found
