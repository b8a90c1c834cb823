"""Search parameters and stopping rules.

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

import logging
import time

from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_parameters_pb2
from ortools.util import optional_boolean_pb2

from dispatch.solver.model import Model

log = logging.getLogger("fieldpulse.dispatch")

# Search steps (about one neighbour tried each) without a new best plan
# before a deterministic search stops. Measured (2-core box): 12 jobs and
# 3 engineers stop after ~0.6 s, 40 jobs ~0.6 s, 100 jobs over 8 engineers
# ~1.4 s; 2.5x more steps bought nothing on 40 jobs and 3% less driving on 100.
DETERMINISTIC_PATIENCE = 200_000


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


def search(
    model: Model,
    time_limit_s: float,
    deterministic: bool,
    first_only: bool = False,
    initial: list[list[int]] | None = None,
) -> pywrapcp.Assignment | None:
    """``initial``: routes (model node numbers per vehicle) to start from instead
    of the construction heuristic. None: no plan found (or, with ``initial``,
    none better than it could be read back in time)."""
    params = search_parameters(time_limit_s, deterministic)
    if first_only:
        # The first plan, no local search: what a dispatcher could see first
        # (benchmarks report its time).
        params.solution_limit = 1
    stop = None
    if deterministic and not first_only:
        stop = _StopWhenStale(model.routing, DETERMINISTIC_PATIENCE)
    started = time.monotonic()
    solution = _solve(model, params, initial)
    if stop is None:
        return solution
    if not stop.fired and time.monotonic() - started >= 0.9 * time_limit_s:
        log.warning(
            "deterministic solve hit the %.1fs safety cap before going %d steps without "
            "improvement; this plan may differ between runs",
            time_limit_s,
            DETERMINISTIC_PATIENCE,
        )
    return solution


def search_parameters(
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


def _solve(
    model: Model,
    params: routing_parameters_pb2.RoutingSearchParameters,
    initial: list[list[int]] | None,
) -> pywrapcp.Assignment | None:
    routing = model.routing
    if initial is None:
        return routing.SolveWithParameters(params)
    routing.CloseModelWithParameters(params)
    index_routes = [[model.manager.NodeToIndex(k) for k in route] for route in initial]
    start = routing.ReadAssignmentFromRoutes(index_routes, True)
    if start is None:
        # Seen only when the time limit is nearly spent before the routes are
        # read (a starved region of a big day); the caller keeps its plan.
        log.warning("initial routes not read back in time; keeping the given plan")
        return None
    if params.solution_limit == 1:
        return start  # first_only: the initial plan is the first plan
    improved = routing.SolveFromAssignmentWithParameters(start, params)
    # None when the clock ran out before the search's first accepted move
    # (seen at 1,000 jobs with lunch breaks): the start is still a sound plan.
    return start if improved is None else improved
