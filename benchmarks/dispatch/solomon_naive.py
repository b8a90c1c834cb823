"""The naive OR-Tools set-up, kept as the Solomon benchmark's baseline.

What a first routing model usually looks like (and what OR-Tools' own VRPTW
example does): distances and travel times as Python callbacks, a
path-cheapest-arc first plan, guided local search, every visit mandatory.
On the tight 1-series instances the construction cannot place every visit
in time, so no plan comes back at all: this is what the benchmark's model
(matrices, iterated local search, see ``solomon.py``) is measured against,
in the same run (``fieldpulse bench dispatch solomon-baseline``).

Same integer units as ``solomon.py`` (costs rounded, drives rounded up), so
a plan found here is judged by the same checker.
"""

from __future__ import annotations

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from benchmarks.dispatch.solomon import Instance, Solution, _units, read_solution


def solve_naive(instance: Instance, time_limit_s: float) -> Solution | None:
    """The plan of the naive set-up within ``time_limit_s``, or None if it
    found none."""
    units = _units(instance)
    n, fleet = len(instance.demand), instance.vehicles
    manager = pywrapcp.RoutingIndexManager(n, fleet, 0)
    routing = pywrapcp.RoutingModel(manager)
    cost, transit = units.cost.tolist(), units.transit.tolist()

    def distance(i: int, j: int) -> int:
        return cost[manager.IndexToNode(i)][manager.IndexToNode(j)]

    def travel(i: int, j: int) -> int:
        return transit[manager.IndexToNode(i)][manager.IndexToNode(j)]

    def demand(i: int) -> int:
        return int(units.demand[manager.IndexToNode(i)])

    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitCallback(distance))
    routing.AddDimensionWithVehicleCapacity(routing.RegisterUnaryTransitCallback(demand), 0,
                                            [units.capacity] * fleet, True, "load")
    horizon = int(units.due[0])
    routing.AddDimension(routing.RegisterTransitCallback(travel), horizon, horizon, False,
                         "time")
    time_dim = routing.GetDimensionOrDie("time")
    for node in range(1, n):
        time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(int(units.ready[node]),
                                                              int(units.due[node]))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH)
    params.time_limit.FromMilliseconds(max(1, round(time_limit_s * 1000)))
    solution = routing.SolveWithParameters(params)
    return None if solution is None else read_solution(instance, routing, manager, solution)
