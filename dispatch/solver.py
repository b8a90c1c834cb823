"""Problem in, plan out: the OR-Tools routing model behind the dispatcher.

Pipeline: ``_screen`` (cheap checks that give unassigned jobs an honest
reason and keep hopeless jobs out of the model) → ``_build`` (one vehicle per
engineer, a time dimension with waiting, skills as allowed vehicles, every
job optional at a priority-dependent price) → ``_search`` → ``_read_routes``.

Determinism. The routing local search is single-threaded and seeded, so for
the same model and parameters it tries the same moves in the same order.
Only stops based on the clock break that: ``time_limit`` ends the search
after however many moves this machine managed, and ``lns_time_limit`` bounds
the CP sub-searches of the LNS operators. Guided local search never
converges by itself, and ``solution_limit`` counts accepted moves, of which
there may be none at all (then GLS spins until the clock stops it). So
``deterministic=True`` stops on a count of search steps instead: after
``DETERMINISTIC_PATIENCE`` steps (about one neighbour tried each) without a
new best plan. It also pins the clock-bounded LNS operators off and logs
nothing. ``time_limit_s`` stays a safety cap; if it fires first (a bigger
problem than the budget suits, or a starved machine) the plan depends on
timing and a warning is logged. ``deterministic=False`` searches for the
whole time limit and keeps the best plan found.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_parameters_pb2
from ortools.util import optional_boolean_pb2

from dispatch.problem import MAX_PRIORITY, MIN_PRIORITY, Engineer, Job, Problem
from dispatch.travel import GreatCircle, TravelTimes

log = logging.getLogger("fieldpulse.dispatch")

REASON_CAPACITY = "no capacity left in qualified engineers' shifts"
REASON_WINDOW = "window unreachable in any engineer's shift"


def reason_no_skill(skill: str) -> str:
    return f"no engineer has skill {skill!r}"


# Search steps (about one neighbour tried each) without a new best plan
# before a deterministic search stops. Measured (2-core box): 12 jobs and
# 3 engineers stop after ~0.6 s, 40 jobs ~0.6 s, 100 jobs over 8 engineers
# ~1.4 s; 2.5x more steps bought nothing on 40 jobs and 3% less driving on 100.
DETERMINISTIC_PATIENCE = 200_000
# Keep the objective well inside int64: OR-Tools saturates instead of
# overflowing, and a saturated objective can no longer tell plans apart.
_MAX_OBJECTIVE = 2**62


@dataclass(frozen=True, slots=True)
class Stop:
    job_id: str
    arrival: int  # start of service, after any wait for the window
    departure: int  # arrival + duration


@dataclass(frozen=True, slots=True)
class Route:
    engineer_id: str
    stops: tuple[Stop, ...]


@dataclass(frozen=True, slots=True)
class Unassigned:
    job_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    routes: tuple[Route, ...]  # one per engineer, in problem order, possibly empty
    unassigned: tuple[Unassigned, ...]  # in problem order
    objective: int  # travel seconds + penalty of every unassigned job


def solve(
    problem: Problem,
    time_limit_s: float = 5.0,
    deterministic: bool = True,
    travel: TravelTimes | None = None,
) -> Plan:
    """Plan ``problem``; always returns a plan, never raises for hard days."""
    if not time_limit_s > 0:
        raise ValueError(f"time_limit_s: must be > 0, got {time_limit_s}")
    jobs, engineers = problem.jobs, problem.engineers
    # One matrix for everything: jobs first, then each engineer's start, end.
    points = [job.location for job in jobs]
    for engineer in engineers:
        points += [engineer.start, engineer.end]
    times = np.asarray((travel or GreatCircle()).matrix(points), dtype=np.int64)

    screen = _screen(problem, times)
    penalty = _penalties(problem, screen.usable)
    routes: dict[str, tuple[Stop, ...]] = {e.id: () for e in engineers}
    dropped = dict(screen.rejected)
    objective = sum(penalty[j] for j in screen.rejected)

    if screen.allowed:  # no jobs, no engineers, nothing feasible: OR-Tools is not needed
        model = _build(problem, times, screen, penalty)
        solution = _search(model, time_limit_s, deterministic)
        if solution is None:
            # Not expected: all-empty routes are always feasible. Still, the
            # caller gets a plan, with every candidate marked as not fitted.
            objective += sum(penalty[j] for j in model.cand)
        else:
            objective += solution.ObjectiveValue()
            routes.update(_read_routes(problem, model, solution))
        visited = {stop.job_id for stops in routes.values() for stop in stops}
        for j in model.cand:
            if jobs[j].id not in visited:
                dropped[j] = REASON_CAPACITY

    return Plan(
        routes=tuple(Route(e.id, routes[e.id]) for e in engineers),
        unassigned=tuple(Unassigned(jobs[j].id, dropped[j]) for j in sorted(dropped)),
        objective=int(objective),
    )


# --- screening: reasons before solving -------------------------------------


@dataclass(frozen=True, slots=True)
class _Screen:
    usable: tuple[int, ...]  # engineers who can at least drive start -> end in shift
    allowed: dict[int, tuple[int, ...]]  # job -> engineers who could do it alone
    rejected: dict[int, str]  # job -> reason it never enters the model


def _start(e: int, n_jobs: int) -> int:
    return n_jobs + 2 * e  # row of engineer e's start in the full matrix


def _end(e: int, n_jobs: int) -> int:
    return n_jobs + 2 * e + 1


def _screen(problem: Problem, times: np.ndarray) -> _Screen:
    """Per job, the engineers who could do it as their only job.

    Necessary, not sufficient: the solver still decides who actually fits.
    But a job that fails here for everyone fails for a known reason, and
    narrowing allowed vehicles to these engineers also shrinks the search.
    """
    jobs, engineers = problem.jobs, problem.engineers
    n = len(jobs)
    usable = tuple(
        e
        for e, eng in enumerate(engineers)
        # An empty route still drives start -> end; if even that does not fit,
        # this engineer would make the whole model infeasible.
        if eng.shift_start + times[_start(e, n), _end(e, n)] <= eng.shift_end
    )
    allowed: dict[int, tuple[int, ...]] = {}
    rejected: dict[int, str] = {}
    for j, job in enumerate(jobs):
        qualified = [e for e, eng in enumerate(engineers) if job.skill in eng.skills]
        fits = tuple(
            e for e in qualified if e in usable and _fits_alone(job, j, engineers[e], e, n, times)
        )
        if not qualified:
            rejected[j] = reason_no_skill(job.skill)
        elif not fits:
            rejected[j] = REASON_WINDOW
        else:
            allowed[j] = fits
    return _Screen(usable, allowed, rejected)


def _fits_alone(job: Job, j: int, eng: Engineer, e: int, n: int, times: np.ndarray) -> bool:
    earliest = max(eng.shift_start + int(times[_start(e, n), j]), job.window_start)
    latest = eng.shift_end - job.duration - int(times[j, _end(e, n)])
    if job.window_end is not None:
        latest = min(latest, job.window_end)
    return earliest <= latest


def _penalties(problem: Problem, usable: Sequence[int]) -> list[int]:
    """Price of leaving each job unassigned.

    ``base`` exceeds any possible total travel (no route drives longer than
    its shift), so the solver never drops a job it can fit just to save
    driving. Each priority step multiplies by ``k``; with k = n_jobs + 1 one
    job outweighs all lower-priority jobs together, i.e. priorities are
    strictly lexicographic. Only when that would overflow int64 is k lowered
    (still >= 2): urgent jobs then still weigh much more, just not absolutely.
    """
    n = len(problem.jobs)
    base = 1 + sum(
        problem.engineers[e].shift_end - problem.engineers[e].shift_start for e in usable
    )
    k = n + 1
    span = MAX_PRIORITY - MIN_PRIORITY
    while k > 2 and (n + 1) * base * k**span > _MAX_OBJECTIVE:
        k -= 1
    return [base * k ** (job.priority - MIN_PRIORITY) for job in problem.jobs]


# --- the routing model ------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time: pywrapcp.RoutingDimension
    cand: list[int]  # model node k <-> problem job cand[k]
    vehicles: tuple[int, ...]  # vehicle v <-> problem engineer vehicles[v]


def _build(problem: Problem, times: np.ndarray, screen: _Screen, penalty: Sequence[int]) -> _Model:
    jobs, engineers, horizon = problem.jobs, problem.engineers, problem.horizon
    n = len(jobs)
    cand, vehicles = sorted(screen.allowed), screen.usable
    # Model nodes: candidate jobs, then each usable engineer's start and end.
    rows = cand + [r for e in vehicles for r in (_start(e, n), _end(e, n))]
    travel = times[np.ix_(rows, rows)]
    service = np.zeros(len(rows), dtype=np.int64)
    service[: len(cand)] = [jobs[j].duration for j in cand]

    starts = [len(cand) + 2 * v for v in range(len(vehicles))]
    manager = pywrapcp.RoutingIndexManager(
        len(rows), len(vehicles), starts, [s + 1 for s in starts]
    )
    routing = pywrapcp.RoutingModel(manager)
    # Matrices go in as plain arrays (RegisterTransitMatrix indexes them by
    # node, not by solver index): a Python callback is ~4x slower per move.
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(travel.tolist()))
    # Leaving node i takes its service time plus the drive, so the cumul at
    # a job is the start of service there. Slack up to the horizon = waiting.
    time_cb = routing.RegisterTransitMatrix((travel + service[:, None]).tolist())
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")

    for v, e in enumerate(vehicles):
        eng = engineers[e]
        time_dim.CumulVar(routing.Start(v)).SetRange(eng.shift_start, eng.shift_end)
        time_dim.CumulVar(routing.End(v)).SetRange(eng.shift_start, eng.shift_end)
    vehicle_of = {e: v for v, e in enumerate(vehicles)}
    for k, j in enumerate(cand):
        job = jobs[j]
        index = manager.NodeToIndex(k)
        window_end = horizon if job.window_end is None else min(job.window_end, horizon)
        time_dim.CumulVar(index).SetRange(job.window_start, window_end)
        _allow_only(routing, index, [vehicle_of[e] for e in screen.allowed[j]])
        routing.AddDisjunction([index], penalty[j])
    return _Model(manager, routing, time_dim, cand, vehicles)


def _allow_only(routing: pywrapcp.RoutingModel, index: int, vehicles: list[int]) -> None:
    """Restrict a job to the vehicles (engineers) that may do it.

    ``SetAllowedVehiclesForIndex`` is the intended call, but the ortools 9.15
    SWIG wrapper has no typemap for its ``absl::Span<const int>`` argument and
    raises TypeError for any Python sequence. Restricting the vehicle
    variable works in every version; -1 in its domain is "not performed", so
    the job stays optional. The call is still tried so a fixed wrapper also
    informs the local-search filters. ``vehicles`` is never empty here
    (OR-Tools would read [] as "any vehicle").
    """
    routing.VehicleVar(index).SetValues([-1, *vehicles])
    with contextlib.suppress(TypeError):
        routing.SetAllowedVehiclesForIndex(vehicles, index)


# --- search -------------------------------------------------------------------


class _StopWhenStale:
    """Ends a search after ``patience`` search steps without a new best plan.

    A step is one check of the solver's search limits, which the local search
    makes about once per neighbour it tries, so the count is the same on a
    fast or a slow machine. Counting accepted moves instead is not enough:
    when no neighbour is ever acceptable (say one job and one engineer) guided
    local search spins without accepting anything until the clock stops it.
    """

    def __init__(self, routing: pywrapcp.RoutingModel, patience: int) -> None:
        self.routing, self.patience = routing, patience
        self.steps = 0
        self.best: int | None = None
        self.best_at = 0
        self.fired = False
        # Kept on self: the solver only borrows these callables.
        self.limit = routing.solver().CustomLimit(self.should_stop)
        routing.AddSearchMonitor(self.limit)
        routing.AddAtSolutionCallback(self.on_solution)

    def on_solution(self) -> None:
        cost = self.routing.CostVar().Value()
        if self.best is None or cost < self.best:
            self.best, self.best_at = cost, self.steps

    def should_stop(self) -> bool:
        self.steps += 1
        # Never before the first plan: construction must finish first.
        if self.best is not None and self.steps - self.best_at > self.patience:
            self.fired = True
        return self.fired


def _search(model: _Model, time_limit_s: float, deterministic: bool) -> pywrapcp.Assignment | None:
    params = _search_parameters(time_limit_s, deterministic)
    if not deterministic:
        return model.routing.SolveWithParameters(params)
    stop = _StopWhenStale(model.routing, DETERMINISTIC_PATIENCE)
    started = time.monotonic()
    solution = model.routing.SolveWithParameters(params)
    if not stop.fired and time.monotonic() - started >= 0.9 * time_limit_s:
        log.warning(
            "deterministic solve hit the %.1fs safety cap before going %d steps without "
            "improvement; this plan may differ between runs",
            time_limit_s,
            DETERMINISTIC_PATIENCE,
        )
    return solution


def _search_parameters(
    time_limit_s: float, deterministic: bool
) -> routing_parameters_pb2.RoutingSearchParameters:
    params = pywrapcp.DefaultRoutingSearchParameters()
    # Insertion builds a plan even with tight windows where arc-based
    # construction fails (MEASURED.md, Solomon R101/RC101).
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.log_search = False
    params.time_limit.FromMilliseconds(max(1, round(time_limit_s * 1000)))
    if deterministic:
        # Off by default already; pinned because they are bounded by
        # lns_time_limit, i.e. by the clock.
        operators = params.local_search_operators
        for name in ("use_path_lns", "use_full_path_lns", "use_tsp_lns", "use_inactive_lns"):
            setattr(operators, name, optional_boolean_pb2.BOOL_FALSE)
    return params


def _read_routes(
    problem: Problem, model: _Model, solution: pywrapcp.Assignment
) -> dict[str, tuple[Stop, ...]]:
    routing, found = model.routing, {}
    for v, e in enumerate(model.vehicles):
        stops = []
        index = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            job = problem.jobs[model.cand[model.manager.IndexToNode(index)]]
            # Min of the cumul is the earliest start consistent with the route
            # (the engineer leaves at shift start and waits on site if early).
            arrival = solution.Min(model.time.CumulVar(index))
            stops.append(Stop(job.id, arrival, arrival + job.duration))
            index = solution.Value(routing.NextVar(index))
        found[problem.engineers[e].id] = tuple(stops)
    return found
