"""The OR-Tools routing model: one vehicle per engineer, a time dimension with
waiting, skills as allowed vehicles, lunch as break intervals, SLA as a soft
bound, every job optional at a rank-dependent price; parts counted down per van.

A job that needs parts has a node per way to do it (screen.Variant), all in one
disjunction: by an engineer carrying the parts; by way of a depot, whose arcs in
drive there, pick up and drive on; or (prefer) without them, whose arcs out cost
`miss_cost` (a second visit), so it is chosen only when no other way fits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.constraint_solver import pywrapcp

from dispatch.problem import PICKUP_S, Problem
from dispatch.solver.screen import (
    Screen,
    Variant,
    end_row,
    late_cost,
    miss_cost,
    start_row,
    window,
)


@dataclass(frozen=True)
class Model:
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time: pywrapcp.RoutingDimension
    # Model node k <-> problem job cand[k], done the way kinds[k] says ("carried",
    # "pickup" at depots[k], "without", "blind", or "" for a job needing no parts).
    cand: list[int]
    vehicles: tuple[int, ...]  # vehicle v <-> problem engineer vehicles[v]
    breaks: dict[int, pywrapcp.IntervalVar]  # vehicle -> its lunch
    kinds: list[str] = field(default_factory=list)
    depots: list[int | None] = field(default_factory=list)

    def node_of(self, job: int, carries: bool, via: int | None = None) -> int | None:
        """The node doing `job` the way a stop of a plan did it (None: no such way)."""
        ways = [k for k, j in enumerate(self.cand) if j == job]
        if via is not None:
            ways = [k for k in ways if self.depots[k] == via]
        elif carries:
            ways = [k for k in ways if self.kinds[k] in ("", "carried", "blind")]
        else:
            ways = [k for k in ways if self.kinds[k] in ("", "without", "blind")]
        return ways[0] if ways else None


def build(problem: Problem, times: np.ndarray, screen: Screen, penalty: Sequence[int]) -> Model:
    jobs, engineers, horizon = problem.jobs, problem.engineers, problem.horizon
    n = len(jobs)
    vehicles = screen.usable
    # Model nodes: each candidate job once per way to do it, then each usable
    # engineer's start and end.
    ways = [(j, v) for j in sorted(screen.allowed)
            for v in screen.variants.get(j, (Variant("", screen.allowed[j]),))]
    cand = [j for j, _v in ways]
    rows = cand + [r for e in vehicles for r in (start_row(e, n), end_row(e, n))]
    travel = times[np.ix_(rows, rows)]
    for k, (j, way) in enumerate(ways):
        if way.depot is not None:  # reached by way of the depot: drive there, pick up
            depot = n + 2 * len(engineers) + way.depot
            travel[:, k] = times[rows, depot] + PICKUP_S + times[depot, j]
            travel[k, k] = 0
    service = np.zeros(len(rows), dtype=np.int64)
    service[: len(cand)] = [jobs[j].duration for j in cand]
    cost = travel.copy()
    missed = [k for k, (_j, way) in enumerate(ways) if way.kind == "without"]
    if missed:  # every arc out of a visit without the parts carries the second visit
        cost[missed, :] += miss_cost(problem, vehicles)

    starts = [len(cand) + 2 * v for v in range(len(vehicles))]
    manager = pywrapcp.RoutingIndexManager(
        len(rows), len(vehicles), starts, [s + 1 for s in starts]
    )
    routing = pywrapcp.RoutingModel(manager)
    # Matrices go in as plain arrays (RegisterTransitMatrix indexes them by
    # node, not by solver index): a Python callback is ~4x slower per move.
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(cost.tolist()))
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
    for k, (j, way) in enumerate(ways):
        job = jobs[j]
        index = manager.NodeToIndex(k)
        time_dim.CumulVar(index).SetRange(*window(job, horizon))
        if job.sla_due is not None:
            time_dim.SetCumulVarSoftUpperBound(index, job.sla_due, late_cost(job))
        _allow_only(routing, index, [vehicle_of[e] for e in way.engineers])
    for j in sorted(screen.allowed):  # one disjunction per job, over all its ways
        routing.AddDisjunction([manager.NodeToIndex(k) for k, c in enumerate(cand) if c == j],
                               penalty[j])
    breaks = _lunch_breaks(problem, routing, manager, time_dim, vehicles, service)
    carried = [j if way.kind == "carried" else -1 for j, way in ways]
    _van_stock(problem, routing, carried, vehicles)
    return Model(manager, routing, time_dim, cand, vehicles, breaks,
                 [way.kind for _j, way in ways], [way.depot for _j, way in ways])


def _van_stock(problem: Problem, routing: pywrapcp.RoutingModel, carried: list[int],
               vehicles: tuple[int, ...]) -> None:
    """One capacity dimension per part the carried jobs need (`carried`: per job node,
    the job if it takes its parts from the van, else -1): each such visit takes its
    quantity from the van, so two jobs never count on the same unit."""
    parts = sorted({part for j in carried if j >= 0 for part, _ in problem.jobs[j].parts})
    for part in parts:
        demand = [dict(problem.jobs[j].parts).get(part, 0) if j >= 0 else 0
                  for j in carried] + [0] * (2 * len(vehicles))
        stock = [dict(problem.engineers[e].van).get(part, 0) for e in vehicles]
        callback = routing.RegisterUnaryTransitVector(demand)
        routing.AddDimensionWithVehicleCapacity(callback, 0, stock, True, f"part:{part}")


def _lunch_breaks(
    problem: Problem,
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    time_dim: pywrapcp.RoutingDimension,
    vehicles: tuple[int, ...],
    service: np.ndarray,
) -> dict[int, pywrapcp.IntervalVar]:
    """A fixed-length interval per engineer with a lunch; OR-Tools keeps it
    out of every visit (the service time given per index) and makes the
    drive around it long enough to include it."""
    visit = [int(service[manager.IndexToNode(i)]) for i in range(routing.Size())]
    visit += [0] * (routing.Size() + len(vehicles) - len(visit))
    solver = routing.solver()
    breaks = {}
    for v, e in enumerate(vehicles):
        lunch = problem.engineers[e].lunch
        if lunch is None:
            continue
        interval = solver.FixedDurationIntervalVar(
            lunch.earliest, lunch.latest, lunch.duration, False, f"lunch-{v}"
        )
        time_dim.SetBreakIntervalsOfVehicle([interval], v, visit)
        routing.AddIntervalToAssignment(interval)  # so the plan can say when
        breaks[v] = interval
    return breaks


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
