"""Big days solved region by region.

Measured on the field benchmark (1,000 jobs, 100 engineers, lunch breaks,
loaded 2-core box): one routing model evaluates only a few hundred moves a
second and 60 s of guided local search did not improve the greedy start at
all. So a big day is cut into regions of about ``REGION`` engineers each
(strips by latitude, then by longitude, of their start positions); each
region gets the jobs the greedy plan gave its engineers plus the unplaced
jobs whose nearest qualified engineer is there, and is solved on its own
from its part of the greedy plan with an equal share of the time. Engineers
and jobs of different regions never mix, so the merged plan is as sound as
its parts; what is lost is moves across region borders.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from dispatch.plan import Plan, Route
from dispatch.problem import Problem

REGION = 10  # engineers per region: the size where the local search is quick


def regions(problem: Problem, usable: Sequence[int]) -> list[list[int]]:
    """Engineer indices grouped by where they start, about REGION per group."""
    k = max(1, math.ceil(len(usable) / REGION))
    strips = max(1, round(math.sqrt(k)))
    by_lat = sorted(usable, key=lambda e: (problem.engineers[e].start.lat, e))
    size = math.ceil(len(by_lat) / strips)
    groups = []
    for s in range(strips):
        strip = sorted(by_lat[s * size : (s + 1) * size],
                       key=lambda e: (problem.engineers[e].start.lon, e))
        parts = max(1, round(len(strip) / REGION))
        step = math.ceil(len(strip) / parts) if strip else 1
        groups += [strip[i : i + step] for i in range(0, len(strip), step)]
    return [g for g in groups if g]


def solve_by_regions(
    problem: Problem,
    times: np.ndarray,
    allowed: dict[int, tuple[int, ...]],
    usable: Sequence[int],
    start: Plan,
    solve_part: Callable[[Problem, np.ndarray, Plan, float], Plan],
    time_limit_s: float,
) -> tuple[dict[str, Route], set[str]]:
    """Routes per engineer id, and the ids of the jobs no region could fit.

    ``allowed`` are the jobs that passed screening (others keep their
    screening reason); ``start`` is a sound plan of the whole problem.
    """
    n = len(problem.jobs)
    groups = regions(problem, usable)
    group_of = {e: g for g, members in enumerate(groups) for e in members}
    index = {e.id: k for k, e in enumerate(problem.engineers)}
    row = {j.id: k for k, j in enumerate(problem.jobs)}
    jobs_of: list[list[int]] = [[] for _ in groups]
    placed = set()
    for route in start.routes:
        g = group_of.get(index[route.engineer_id])
        for stop in route.stops:
            j = row[stop.job_id]
            if g is not None and j in allowed:
                jobs_of[g].append(j)
                placed.add(j)
    for j, engineers in allowed.items():
        if j not in placed:
            nearest = min(engineers, key=lambda e: (int(times[j, n + 2 * e]), e))
            jobs_of[group_of[nearest]].append(j)
    by_engineer = {r.engineer_id: r for r in start.routes}
    routes: dict[str, Route] = {}
    unplaced: set[str] = set()
    deadline = time.monotonic() + time_limit_s
    for left, (members, job_rows) in enumerate(zip(groups, jobs_of, strict=True)):
        # What is left, shared by the regions still to solve (model building
        # eats into each share, so later regions are not starved by earlier ones).
        share = max(1.0, (deadline - time.monotonic()) / (len(groups) - left))
        job_rows = sorted(job_rows)
        depots = [n + 2 * len(problem.engineers) + d for d in range(len(problem.depots))]
        rows = job_rows + [r for e in members for r in (n + 2 * e, n + 2 * e + 1)] + depots
        part = Problem(tuple(problem.engineers[e] for e in members),
                       tuple(problem.jobs[j] for j in job_rows), problem.horizon,
                       problem.parts, problem.depots)
        part_start = Plan(tuple(by_engineer[problem.engineers[e].id] for e in members), (), 0)
        plan = solve_part(part, times[np.ix_(rows, rows)], part_start, share)
        routes.update({r.engineer_id: r for r in plan.routes})
        unplaced.update(u.job_id for u in plan.unassigned)
    return routes, unplaced
