"""The baseline a dispatcher would do by hand: nearest qualified engineer.

Jobs in order of priority (then earliest promised window end); each goes to
the qualified engineer whose last stop is nearest and who can still append
it on time. Benchmarks measure the solver against it in the same run.
Unless the problem ignores parts, a job that needs parts goes only to an engineer
whose van still holds them, when any qualified engineer carries them at all.
"""

from __future__ import annotations

import numpy as np

from dispatch.heuristics.schedule import Timing, time_route
from dispatch.plan import REASON_CAPACITY, Plan, Route, Stop, Unassigned
from dispatch.problem import Problem


def greedy_plan(problem: Problem, times: np.ndarray) -> Plan:
    jobs, engineers = problem.jobs, problem.engineers
    n = len(jobs)
    order = sorted(
        range(n),
        key=lambda j: (-jobs[j].priority, jobs[j].window_end or problem.horizon, j),
    )
    routes: list[list[int]] = [[] for _ in engineers]
    vans = [dict(eng.van) for eng in engineers]  # what is left in each van
    timing: list[Timing | None] = [None] * len(engineers)
    unassigned: list[int] = []
    for j in order:
        job = jobs[j]
        qualified = [e for e, eng in enumerate(engineers) if eng.level(job.skill) >= job.level]
        minds_parts = bool(job.parts) and problem.parts != "ignore"
        if minds_parts and (problem.parts == "require" or any(
                engineers[e].carries(job.parts) for e in qualified)):
            qualified = [e for e in qualified
                         if all(vans[e].get(p, 0) >= q for p, q in job.parts)]
        last = [routes[e][-1] if routes[e] else n + 2 * e for e in qualified]
        for _, e in sorted(zip(times[last, j].tolist(), qualified, strict=True)):
            trial = [*routes[e], j]
            t = time_route(engineers[e], [jobs[k] for k in trial], trial, n + 2 * e,
                           n + 2 * e + 1, times, problem.horizon)
            if t is not None:
                routes[e], timing[e] = trial, t
                if minds_parts and all(vans[e].get(p, 0) >= q for p, q in job.parts):
                    for p, q in job.parts:
                        vans[e][p] -= q
                break
        else:
            unassigned.append(j)
    out = []
    for e, eng in enumerate(engineers):
        t = timing[e]
        stops = () if t is None else tuple(
            Stop(jobs[k].id, a, a + jobs[k].duration)
            for k, a in zip(routes[e], t.arrivals, strict=True)
        )
        out.append(Route(eng.id, stops, None if t is None else t.break_start))
    return Plan(
        tuple(out),
        tuple(Unassigned(jobs[j].id, REASON_CAPACITY) for j in sorted(unassigned)),
        0,
    )
