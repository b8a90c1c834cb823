"""Parts-aware against parts-blind dispatch on the same day: second visits avoided (a
job whose engineer arrives without the part needs a second visit), and what that
costs in driving. Both plans are made in the same run, on the same day."""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any

import numpy as np

from dispatch.plan import Plan
from dispatch.problem import Problem
from dispatch.solver import solve


def second_visits(problem: Problem, plan: Plan) -> int:
    """Routed jobs whose engineer's van, counted down along the route, lacks a part."""
    jobs = {job.id: job for job in problem.jobs}
    vans = {e.id: dict(e.van) for e in problem.engineers}
    missing = 0
    for route in plan.routes:
        van = vans[route.engineer_id]
        for stop in route.stops:
            need = jobs[stop.job_id].parts
            if stop.via is not None:  # picked up on the way
                continue
            if all(van.get(part, 0) >= qty for part, qty in need):
                for part, qty in need:
                    van[part] -= qty
            else:
                missing += 1
    return missing


def travel_s(problem: Problem, plan: Plan, times: np.ndarray) -> int:
    """Seconds of driving, home to home (rows as in `travel.points_of`)."""
    row = {job.id: k for k, job in enumerate(problem.jobs)}
    n, total = len(problem.jobs), 0
    depot = {d.id: n + 2 * len(problem.engineers) + k for k, d in enumerate(problem.depots)}
    for e, route in enumerate(plan.routes):
        if route.stops:
            path = [n + 2 * e]
            for stop in route.stops:
                path += [depot[stop.via], row[stop.job_id]] if stop.via else [row[stop.job_id]]
            path.append(n + 2 * e + 1)
            total += sum(int(times[a, b]) for a, b in itertools.pairwise(path))
    return total


def compare(problem: Problem, times: np.ndarray, time_limit_s: float,
            aware: Plan | None = None) -> dict[str, Any]:
    """The blind plan (solved here) against the aware one (given, or solved here)."""
    blind_day = dataclasses.replace(problem, parts="ignore")
    started = time.monotonic()
    blind = solve(blind_day, time_limit_s, deterministic=False, times=times)
    blind_s = time.monotonic() - started
    aware = aware or solve(problem, time_limit_s, deterministic=False, times=times)
    blind_visits, aware_visits = second_visits(problem, blind), second_visits(problem, aware)
    travel_blind, travel_aware = travel_s(problem, blind, times), travel_s(problem, aware,
                                                                            times)
    assigned = [sum(len(r.stops) for r in p.routes) for p in (blind, aware)]
    return {
        "jobs_needing_parts": sum(1 for j in problem.jobs if j.parts),
        "blind": {"seconds": round(blind_s, 1), "second_visits": blind_visits,
                  "assigned": assigned[0], "travel_h": round(travel_blind / 3600, 1),
                  "travel_min_per_job": round(travel_blind / 60 / max(1, assigned[0]), 1)},
        "aware": {"second_visits": aware_visits, "assigned": assigned[1],
                  "pick_ups": sum(1 for r in aware.routes for s in r.stops if s.via),
                  "travel_h": round(travel_aware / 3600, 1),
                  "travel_min_per_job": round(travel_aware / 60 / max(1, assigned[1]), 1)},
        "second_visits_avoided": blind_visits - aware_visits,
        "extra_travel_h": round((travel_aware - travel_blind) / 3600, 1),
        "extra_travel_pct": round(100 * (travel_aware - travel_blind) / travel_blind, 2)
        if travel_blind else None,
    }
