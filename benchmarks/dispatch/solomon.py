"""Solomon VRPTW instances solved with the same OR-Tools recipe as the dispatcher.

The benchmark is how we prove the routing model (matrices not callbacks,
integer units, windows as cumul ranges) and OR-Tools' search are near the
best known. Here every visit is mandatory and the search is OR-Tools'
iterated local search (SISR ruin and recreate, simulated annealing), which
measured well ahead of guided local search on the hard instances (see
benchmarks/README.md). Three differently set up searches run side by side in
processes of their own (the budget is wall time on two cores) and the best
plan wins.
The guided local search path (``ils`` off) is the dispatcher's and stays
here for comparison.
Objective: total Euclidean distance with the instance's fleet as an upper
bound on vehicles (the "distance only" column of the best-known table).

Numbers are scaled to integers because OR-Tools costs are integers. Costs are
*rounded* (unbiased, so the solver compares plans fairly) but travel times
are rounded *up*: a route the solver thinks is on time then is on time with
the true, unrounded distances the independent checker uses. The reported
distance is recomputed in floating point from the routes.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from ortools.constraint_solver import (
    pywrapcp,
    routing_enums_pb2,
    routing_ils_pb2,
    routing_parameters_pb2,
)
from ortools.util import optional_boolean_pb2

SCALE = 1000  # 0.001 distance units: rounding error per plan well under 0.01 %


@dataclass(frozen=True, slots=True)
class Instance:
    name: str
    vehicles: int
    capacity: int
    xy: np.ndarray  # (n, 2) float; row 0 is the depot
    demand: np.ndarray  # (n,) int
    ready: np.ndarray  # (n,) int
    due: np.ndarray  # (n,) int
    service: np.ndarray  # (n,) int

    def distances(self) -> np.ndarray:
        diff = self.xy[:, None, :] - self.xy[None, :, :]
        return np.hypot(diff[..., 0], diff[..., 1])


def read_instance(path: Path) -> Instance:
    """Parse the classic text format (name, VEHICLE block, CUSTOMER table)."""
    lines = [line.split() for line in Path(path).read_text().splitlines()]
    name = lines[0][0]
    vehicles = capacity = None
    rows: list[list[float]] = []
    for i, parts in enumerate(lines):
        if parts[:2] == ["NUMBER", "CAPACITY"]:
            vehicles, capacity = int(lines[i + 1][0]), int(lines[i + 1][1])
        elif len(parts) == 7 and all(p.replace(".", "", 1).isdigit() for p in parts):
            rows.append([float(p) for p in parts])
    if vehicles is None or capacity is None or not rows:
        raise ValueError(f"{path}: not a Solomon instance (no VEHICLE block or customers)")
    table = np.array(sorted(rows), dtype=float)
    if not np.array_equal(table[:, 0], np.arange(len(table))):
        raise ValueError(f"{path}: customer numbers must run 0..n-1")
    as_int = table[:, 3:].astype(np.int64)
    return Instance(name, vehicles, capacity, table[:, 1:3], as_int[:, 0], as_int[:, 1],
                    as_int[:, 2], as_int[:, 3])


@dataclass(frozen=True, slots=True)
class Solution:
    routes: list[list[int]]  # customer numbers per used vehicle, depot left out
    distance: float

    @property
    def vehicles(self) -> int:
        return len(self.routes)


def route_distance(instance: Instance, routes: list[list[int]]) -> float:
    dist = instance.distances()
    total = 0.0
    for route in routes:
        path = [0, *route, 0]
        total += sum(float(dist[a, b]) for a, b in itertools.pairwise(path))
    return total


# Off by default in OR-Tools; moves between routes that suit time windows.
_OPERATORS = ("use_relocate_neighbors", "use_cross_exchange", "use_extended_swap_active")


@dataclass(frozen=True, slots=True)
class Tuning:
    """Search settings of the Solomon benchmark's solver. The defaults are the
    recipe (three iterated local searches side by side, ``portfolio``); the other
    fields are alternatives that measured worse, kept so the comparisons can be
    re-run: ``--tuning '{"ils": true}'``; the one-search recipe of the first two
    rounds is ``--tuning '{"portfolio": [], "operators": []}'``.

    What each round of tuning measured, kept and rejected, with its figures, is
    in benchmarks/README.md ("Solomon: how the search was tuned").
    """

    gls_lambda: float = 0.1  # OR-Tools default guided local search penalty factor
    lns: bool = False  # path / inactive LNS operators (bounded by lns_time_limit)
    ils: bool = False  # iterated local search: SISR ruin & recreate + annealing
    neighbors_ratio: float = 1.0  # share of nearest nodes the LS operators consider
    sisr_removed: int = 30  # average visits removed per SISR ruin
    sisr_sequence: int = 20  # longest string SISR removes from one route
    temperature: float = 10.0  # initial annealing temperature, distance units; 0: automatic
    final_temperature: float = 0.1  # annealing temperature at the time limit, distance units
    log: bool = False
    spare: int = 2  # vehicles allowed beyond what the first plan used
    first: str = "SAVINGS"  # first-solution strategy name (see benchmarks/README.md)
    full_fleet: bool = False  # skip the fleet restriction
    also_first: tuple[str, ...] = ()  # more first-solution strategies, each searched in turn
    # Tuning overrides, one search process each, all at once; the first runs here.
    # Three iterated local searches that differ in first plan and ruin size:
    # each is erratic per instance, their best is not (see benchmarks/README.md).
    portfolio: tuple[dict[str, Any], ...] = (
        {"ils": True, "operators": ()},
        {"ils": True, "operators": (), "first": "PARALLEL_CHEAPEST_INSERTION"},
        {"ils": True, "operators": (), "first": "PARALLEL_CHEAPEST_INSERTION",
         "sisr_removed": 45, "sisr_sequence": 25})
    operators: tuple[str, ...] = _OPERATORS  # LS operators on ("use_x") or off ("-use_x")
    reset_penalties: bool = False  # GLS forgets its penalties on each new best plan
    disjunctions: bool = False  # visits droppable at a prohibitive cost (what ILS ruins)
    vehicle_cost: float = 0.0  # fixed cost per used vehicle, distance units (search only)
    bandit: bool = False  # multi-armed bandit order of the LS operators
    switch: tuple[str, ...] = ()  # metaheuristics taken in turn after local optima


# Searches end this much before the wall budget: workers still send their
# plans back and the pool shuts down (measured 0.1-0.3 s).
_RETURN_S = 0.4


def solve_instance(instance: Instance, time_limit_s: float, tuning: Tuning = Tuning()) -> Solution:
    """The best plan of the ``portfolio``'s searches, run side by side in
    processes of their own (each builds its own model), or one search.

    Why processes: the budget is wall time and the box has two cores, while one
    OR-Tools search uses one. Differently set up searches also stall on
    different plans (see benchmarks/README.md).
    """
    deadline = time.monotonic() + time_limit_s
    if not tuning.portfolio:
        return _solve(instance, deadline, tuning)
    variants = [replace(tuning, portfolio=(), **over) for over in tuning.portfolio]
    spawn = multiprocessing.get_context("spawn")  # no forked OR-Tools or thread state
    deadline -= _RETURN_S
    with ProcessPoolExecutor(len(variants) - 1, mp_context=spawn) as pool:
        # CLOCK_MONOTONIC is system-wide, so the workers share the deadline.
        futures = [pool.submit(_solve, instance, deadline, v) for v in variants[1:]]
        best = _solve(instance, deadline, variants[0])
        for future in futures:
            try:
                found = future.result(timeout=max(1.0, deadline - time.monotonic() + 5.0))
            except Exception:  # a lost worker costs its plan, not the solve
                continue
            if found.distance < best.distance:
                best = found
    return best


def _solve(instance: Instance, deadline: float, tuning: Tuning) -> Solution:
    """A first plan on the whole fleet, then searches on the fleet it used.

    Why the smaller fleet: the instance's fleet (25 vehicles on R1) is far
    more than needed; empty vehicles multiply the neighbourhoods, and on C101
    guided local search with 25 vehicles stays 3 % above the optimum it
    reaches in 3 s with 10. Limiting the fleet to what the first plan used
    (plus ``spare`` vehicles) needs no knowledge of the best-known solution.

    Two spare vehicles let the 2-series reach distance-only optima, which use
    more routes than savings builds (measured: benchmarks/README.md).

    Each first plan in ``first``, ``also_first`` gets an equal share of the
    time.
    """
    time_limit_s = deadline - time.monotonic()
    units = _units(instance)
    if tuning.ils:
        return _Model(instance, units, instance.vehicles, tuning).iterate(time_limit_s)
    firsts = [
        _Model(instance, units, instance.vehicles, replace(tuning, first=name)).first(
            max(1.0, 0.1 * time_limit_s))
        for name in (tuning.first, *tuning.also_first)
    ]
    fleet = min(instance.vehicles, max(f.vehicles for f in firsts) + tuning.spare)
    if tuning.full_fleet:
        fleet = instance.vehicles
    model = _Model(instance, units, fleet, tuning)
    best = min(firsts, key=lambda f: f.distance)
    # Each first plan gets an equal share of the time, then the restarts.
    starts = [f.routes for f in firsts]
    while (left := deadline - time.monotonic()) > 0.1:
        # After the first plans: a search ended early, go on from the best plan.
        start = starts.pop(0) if starts else best.routes
        found = model.improve(start, left / (len(starts) + 1))
        if found is not None and found.distance < best.distance:
            best = found
    return best


@dataclass(frozen=True, slots=True)
class Units:
    """The instance as the routing model sees it (scaled integers)."""

    cost: np.ndarray  # (n, n) arc cost
    transit: np.ndarray  # (n, n) service at the origin plus the drive, rounded up
    ready: np.ndarray  # (n,) earliest start of service
    due: np.ndarray  # (n,) latest start of service; due[0]: back at the depot
    demand: np.ndarray  # (n,)
    capacity: int


def _units(instance: Instance) -> Units:
    """Scaled integers: costs rounded, drives rounded up (see the module doc)."""
    dist = instance.distances()
    drive = np.ceil(dist * SCALE - 1e-9).astype(np.int64)
    transit = drive + (instance.service * SCALE)[:, None]
    np.fill_diagonal(transit, 0)
    return Units(np.rint(dist * SCALE).astype(np.int64), transit, instance.ready * SCALE,
                 instance.due * SCALE, instance.demand, instance.capacity)


class _Model:
    """One routing model on ``fleet`` vehicles, searched as often as needed."""

    def __init__(self, instance: Instance, units: Units, fleet: int, tuning: Tuning) -> None:
        self.instance, self.fleet, self.tuning = instance, fleet, tuning
        n = len(instance.demand)
        self.manager = pywrapcp.RoutingIndexManager(n, fleet, 0)
        routing = self.routing = pywrapcp.RoutingModel(self.manager)
        routing.SetArcCostEvaluatorOfAllVehicles(
            routing.RegisterTransitMatrix(units.cost.tolist()))
        demand_cb = routing.RegisterUnaryTransitVector(units.demand.tolist())
        routing.AddDimensionWithVehicleCapacity(demand_cb, 0, [units.capacity] * fleet, True,
                                                "load")
        horizon = int(units.due[0])
        routing.AddDimension(routing.RegisterTransitMatrix(units.transit.tolist()), horizon,
                             horizon, False, "time")
        time_dim = routing.GetDimensionOrDie("time")
        for node in range(1, n):
            time_dim.CumulVar(self.manager.NodeToIndex(node)).SetRange(
                int(units.ready[node]), int(units.due[node]))
        for v in range(fleet):
            for index in (routing.Start(v), routing.End(v)):
                time_dim.CumulVar(index).SetRange(int(units.ready[0]), horizon)
        if tuning.vehicle_cost > 0:
            routing.SetFixedCostOfAllVehicles(round(tuning.vehicle_cost * SCALE))
        if tuning.disjunctions:
            drop = int(units.cost.sum())  # more than any plan's distance
            for node in range(1, n):
                routing.AddDisjunction([self.manager.NodeToIndex(node)], drop)
        self.closed = False

    def first(self, time_limit_s: float) -> Solution:
        """The construction heuristic's plan, no local search."""
        params = _parameters(self.tuning, time_limit_s)
        params.solution_limit = 1
        params.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
        )
        del params.local_search_metaheuristics[:]
        solution = self.routing.SolveWithParameters(params)
        if solution is None:
            raise RuntimeError(f"{self.instance.name}: no first plan in {time_limit_s}s")
        return self._read(solution)

    def iterate(self, time_limit_s: float) -> Solution:
        """Iterated local search from the ``first`` plan until the time limit.

        It builds its own first plan (the call takes no start) and uses the
        whole fleet: ruin and recreate opens and empties routes itself."""
        params = _parameters(self.tuning, time_limit_s)
        solution = self.routing.SolveWithIteratedLocalSearch(params)
        if solution is None:  # status() is not set by this call
            raise RuntimeError(f"{self.instance.name}: no plan in {time_limit_s:.1f}s")
        return self._read(solution)

    def improve(self, routes: list[list[int]], time_limit_s: float) -> Solution | None:
        """Guided local search from ``routes`` until the time limit."""
        params = _parameters(self.tuning, time_limit_s)
        if not self.closed:
            # Closed without a time limit: ReadAssignmentFromRoutes runs under
            # the closing limit, which a first search of the same length used up.
            unlimited = _parameters(self.tuning, 24 * 3600.0)
            self.routing.CloseModelWithParameters(unlimited)
            self.closed = True
        start = self.routing.ReadAssignmentFromRoutes(routes, True)
        if start is None:
            return None
        solution = self.routing.SolveFromAssignmentWithParameters(start, params)
        return None if solution is None else self._read(solution)

    def _read(self, solution: pywrapcp.Assignment) -> Solution:
        return read_solution(self.instance, self.routing, self.manager, solution)


def read_solution(instance: Instance, routing: pywrapcp.RoutingModel,
                  manager: pywrapcp.RoutingIndexManager,
                  solution: pywrapcp.Assignment) -> Solution:
    """The used vehicles' routes (customer numbers) and their true distance."""
    routes = []
    for v in range(routing.vehicles()):
        route, index = [], solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        if route:
            routes.append(route)
    return Solution(routes, route_distance(instance, routes))


def _parameters(
    tuning: Tuning, time_limit_s: float
) -> routing_parameters_pb2.RoutingSearchParameters:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, tuning.first
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.guided_local_search_lambda_coefficient = tuning.gls_lambda
    if tuning.lns:
        ops = params.local_search_operators
        ops.use_path_lns = optional_boolean_pb2.BOOL_TRUE
        ops.use_inactive_lns = optional_boolean_pb2.BOOL_TRUE
    for name in tuning.operators:
        on = not name.startswith("-")
        setattr(params.local_search_operators, name.lstrip("-"),
                optional_boolean_pb2.BOOL_TRUE if on else optional_boolean_pb2.BOOL_FALSE)
    params.guided_local_search_reset_penalties_on_new_best_solution = tuning.reset_penalties
    params.use_multi_armed_bandit_concatenate_operators = tuning.bandit
    if tuning.switch:  # OR-Tools takes either the list or the single one
        params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.UNSET
        params.local_search_metaheuristics.extend(
            getattr(routing_enums_pb2.LocalSearchMetaheuristic, name) for name in tuning.switch)
    params.ls_operator_neighbors_ratio = tuning.neighbors_ratio
    params.log_search = tuning.log
    if tuning.ils:
        _iterated_local_search(params, tuning)
    params.time_limit.FromMilliseconds(max(1, round(time_limit_s * 1000)))
    return params


def _iterated_local_search(
    params: routing_parameters_pb2.RoutingSearchParameters, tuning: Tuning
) -> None:
    """Ruin (SISR: strings cut from nearby routes) and recreate (cheapest
    insertion), each plan improved by a descent and kept by simulated
    annealing. Only ``RoutingModel.SolveWithIteratedLocalSearch`` reads these:
    ``SolveWithParameters`` and ``SolveFromAssignmentWithParameters`` ignore
    ``use_iterated_local_search`` and stop after the first descent."""
    params.use_iterated_local_search = True
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    ils = params.iterated_local_search_parameters
    ils.perturbation_strategy = routing_ils_pb2.PerturbationStrategy.RUIN_AND_RECREATE
    ils.improve_perturbed_solution = True
    ruin = ils.ruin_recreate_parameters
    ruin.recreate_strategy.heuristic = (
        routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION)
    del ruin.ruin_strategies[:]
    sisr = ruin.ruin_strategies.add().sisr
    sisr.max_removed_sequence_size = tuning.sisr_sequence
    sisr.avg_num_removed_visits = tuning.sisr_removed
    sisr.bypass_factor = 0.01
    annealing = ils.reference_solution_acceptance_strategy.simulated_annealing
    if tuning.temperature > 0:
        annealing.automatic_temperatures = False
        annealing.initial_temperature = tuning.temperature * SCALE
        annealing.final_temperature = tuning.final_temperature * SCALE
    else:  # 0.1 and 0.001 of the mean arc cost
        annealing.automatic_temperatures = True
