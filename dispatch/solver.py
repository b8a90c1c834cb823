"""Problem in, plan out: the OR-Tools routing model behind the dispatcher.

Pipeline: ``screen`` (cheap checks that give unassigned jobs an honest reason
and keep hopeless jobs out of the model) → ``_build_model`` (one vehicle per
engineer, a time dimension with waiting, skills as allowed vehicles, every
job optional at a priority-dependent price) → search → ``Plan``.

Determinism. The routing local search is single-threaded and seeded, so for
the same model and parameters it explores the same moves in the same order.
What breaks that is any stop based on the clock: ``time_limit`` ends the
search after however many moves this machine managed, and ``lns_time_limit``
bounds the CP sub-searches of the LNS operators. So ``deterministic=True``
stops on ``solution_limit`` (each accepted local-search move is one
"solution"), switches the clock-bounded LNS operators off and logs nothing;
``time_limit_s`` stays as a safety cap, and only if it fires first (a much
larger problem than the limit was sized for, or a starved machine) does the
result depend on timing. ``deterministic=False`` uses the whole time limit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_parameters_pb2
from ortools.util import optional_boolean_pb2

from dispatch.problem import MAX_PRIORITY, MIN_PRIORITY, Engineer, Job, Problem
from dispatch.travel import GreatCircle, TravelTimes

REASON_CAPACITY = "no capacity left in qualified engineers' shifts"
REASON_WINDOW = "window unreachable in any engineer's shift"


def reason_no_skill(skill: str) -> str:
    return f"no engineer has skill {skill!r}"


# Local-search moves per model node in deterministic mode. GLS keeps finding
# (worse) moves forever, so this is the budget, not a convergence test; on a
# 2-core box it is a fraction of a second for tens of jobs.
DETERMINISTIC_MOVES_PER_NODE = 200
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


@dataclass(frozen=True, slots=True)
class _Screen:
    usable: tuple[int, ...]  # engineers who can at least get from start to end in shift
    allowed: dict[int, tuple[int, ...]]  # job -> engineers who could do it alone
    rejected: dict[int, str]  # job -> reason it never enters the model


def solve(
    problem: Problem,
    time_limit_s: float = 5.0,
    deterministic: bool = True,
    travel: TravelTimes | None = None,
) -> Plan:
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
    routes = {engineer.id: () for engineer in engineers}
    dropped = dict(screen.rejected)
    objective = sum(penalty[j] for j in screen.rejected)

    if screen.allowed:  # degenerate inputs (no jobs, no engineers) never reach OR-Tools
        found, cost = _route(problem, times, screen, penalty, time_limit_s, deterministic)
        objective += cost
        routes.update(found)
        visited = {stop.job_id for stops in found.values() for stop in stops}
        for j in screen.allowed:
            if jobs[j].id not in visited:
                dropped[j] = REASON_CAPACITY

    return Plan(
        routes=tuple(Route(e.id, routes[e.id]) for e in engineers),
        unassigned=tuple(Unassigned(jobs[j].id, dropped[j]) for j in sorted(dropped)),
        objective=int(objective),
    )


def _start(e: int, n_jobs: int) -> int:
    return n_jobs + 2 * e


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
        # the engineer would make the whole model infeasible.
        if eng.shift_start + times[_start(e, n), _end(e, n)] <= eng.shift_end
    )
    allowed: dict[int, tuple[int, ...]] = {}
    rejected: dict[int, str] = {}
    for j, job in enumerate(jobs):
        qualified = [e for e, eng in enumerate(engineers) if job.skill in eng.skills]
        if not qualified:
            rejected[j] = reason_no_skill(job.skill)
            continue
        fits = tuple(
            e for e in qualified if e in usable and _fits_alone(job, j, engineers[e], e, n, times)
        )
        if fits:
            allowed[j] = fits
        else:
            rejected[j] = REASON_WINDOW
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
    (still >= 2), which keeps urgent jobs strongly but no longer absolutely ahead.
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


def _route(
    problem: Problem,
    times: np.ndarray,
    screen: _Screen,
    penalty: Sequence[int],
    time_limit_s: float,
    deterministic: bool,
) -> tuple[dict[str, tuple[Stop, ...]], int]:
    """Build and search the model; return stops per engineer id and the cost."""
    jobs, engineers = problem.jobs, problem.engineers
    n = len(jobs)
    cand = sorted(screen.allowed)  # model node k <-> problem job cand[k]
    vehicles = screen.usable  # vehicle v <-> engineer vehicles[v]
    n_cand = len(cand)
    starts = [n_cand + 2 * v for v in range(len(vehicles))]
    ends = [n_cand + 2 * v + 1 for v in range(len(vehicles))]
    rows = cand + [p for e in vehicles for p in (_start(e, n), _end(e, n))]
    travel = times[np.ix_(rows, rows)]
    service = np.zeros(len(rows), dtype=np.int64)
    service[:n_cand] = [jobs[j].duration for j in cand]

    manager = pywrapcp.RoutingIndexManager(len(rows), len(vehicles), starts, ends)
    model = pywrapcp.RoutingModel(manager)
    # Matrices are registered as plain arrays (indexed by node, not by solver
    # index): a Python callback is ~4x slower per move (see MEASURED.md).
    travel_cb = model.RegisterTransitMatrix(travel.tolist())
    model.SetArcCostEvaluatorOfAllVehicles(travel_cb)
    # Leaving node i takes its service time plus the drive, so the cumul at
    # a job is the start of service there.
    time_cb = model.RegisterTransitMatrix((travel + service[:, None]).tolist())
    horizon = problem.horizon
    # slack_max = horizon: waiting for a window is allowed and unbounded.
    model.AddDimension(time_cb, horizon, horizon, False, "time")
    time = model.GetDimensionOrDie("time")

    for v, e in enumerate(vehicles):
        eng = engineers[e]
        time.CumulVar(model.Start(v)).SetRange(eng.shift_start, eng.shift_end)
        time.CumulVar(model.End(v)).SetRange(eng.shift_start, eng.shift_end)
    vehicle_of = {e: v for v, e in enumerate(vehicles)}
    for k, j in enumerate(cand):
        job = jobs[j]
        index = manager.NodeToIndex(k)
        window_end = horizon if job.window_end is None else min(job.window_end, horizon)
        time.CumulVar(index).SetRange(job.window_start, window_end)
        _allow_only(model, index, [vehicle_of[e] for e in screen.allowed[j]])
        model.AddDisjunction([index], penalty[j])

    solution = model.SolveWithParameters(_search_parameters(time_limit_s, deterministic, len(rows)))
    if solution is None:
        # Not expected (an all-empty plan is always feasible); the caller
        # still gets a plan, with every candidate marked as not fitted.
        return {}, sum(penalty[j] for j in cand)

    found: dict[str, tuple[Stop, ...]] = {}
    for v, e in enumerate(vehicles):
        stops = []
        index = solution.Value(model.NextVar(model.Start(v)))
        while not model.IsEnd(index):
            job = jobs[cand[manager.IndexToNode(index)]]
            # Min of the cumul is the earliest start consistent with the route.
            arrival = solution.Min(time.CumulVar(index))
            stops.append(Stop(job.id, arrival, arrival + job.duration))
            index = solution.Value(model.NextVar(index))
        found[engineers[e].id] = tuple(stops)
    return found, solution.ObjectiveValue()


def _allow_only(model: pywrapcp.RoutingModel, index: int, vehicles: list[int]) -> None:
    """Restrict a job to the vehicles (engineers) that may do it.

    ``SetAllowedVehiclesForIndex`` is the intended call, and it also informs
    the local-search filters, but the ortools 9.15 SWIG wrapper has no
    typemap for its ``absl::Span<const int>`` argument and raises TypeError
    on any Python sequence. Restricting the vehicle variable works in every
    version; -1 in its domain is "not performed", so the job stays optional.
    ``vehicles`` is never empty here (OR-Tools would read [] as "any vehicle").
    """
    model.VehicleVar(index).SetValues([-1, *vehicles])
    with contextlib.suppress(TypeError):
        model.SetAllowedVehiclesForIndex(vehicles, index)


def _search_parameters(
    time_limit_s: float, deterministic: bool, n_nodes: int
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
        params.solution_limit = DETERMINISTIC_MOVES_PER_NODE * n_nodes
        operators = params.local_search_operators
        for name in ("use_path_lns", "use_full_path_lns", "use_tsp_lns", "use_inactive_lns"):
            setattr(operators, name, optional_boolean_pb2.BOOL_FALSE)
    return params
