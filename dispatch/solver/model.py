"""The OR-Tools routing model: one vehicle per engineer, a time dimension with
waiting, skills as allowed vehicles, lunch as break intervals, SLA as a soft
bound, every job optional at a rank-dependent price."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp

from dispatch.problem import Problem
from dispatch.solver.screen import Screen, end_row, late_cost, start_row, window


@dataclass(frozen=True)
class Model:
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time: pywrapcp.RoutingDimension
    cand: list[int]  # model node k <-> problem job cand[k]
    vehicles: tuple[int, ...]  # vehicle v <-> problem engineer vehicles[v]
    breaks: dict[int, pywrapcp.IntervalVar]  # vehicle -> its lunch


def build(problem: Problem, times: np.ndarray, screen: Screen, penalty: Sequence[int]) -> Model:
    jobs, engineers, horizon = problem.jobs, problem.engineers, problem.horizon
    n = len(jobs)
    cand, vehicles = sorted(screen.allowed), screen.usable
    # Model nodes: candidate jobs, then each usable engineer's start and end.
    rows = cand + [r for e in vehicles for r in (start_row(e, n), end_row(e, n))]
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
        time_dim.CumulVar(index).SetRange(*window(job, horizon))
        if job.sla_due is not None:
            time_dim.SetCumulVarSoftUpperBound(index, job.sla_due, late_cost(job))
        _allow_only(routing, index, [vehicle_of[e] for e in screen.allowed[j]])
        routing.AddDisjunction([index], penalty[j])
    breaks = _lunch_breaks(problem, routing, manager, time_dim, vehicles, service)
    return Model(manager, routing, time_dim, cand, vehicles, breaks)


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
