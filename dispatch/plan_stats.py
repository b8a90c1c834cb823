"""What a dispatcher compares between plans: work done by priority, driving, SLA lateness."""

from __future__ import annotations

import numpy as np

from dispatch.plan import Plan
from dispatch.problem import Problem


def plan_stats(problem: Problem, plan: Plan, times: np.ndarray) -> dict[str, object]:
    """What a dispatcher compares: work done (by priority), driving, SLA lateness."""
    jobs = {j.id: (k, j) for k, j in enumerate(problem.jobs)}
    n = len(problem.jobs)
    depot = {d.id: n + 2 * len(problem.engineers) + k for k, d in enumerate(problem.depots)}
    travel = late = 0
    done_by_priority = dict.fromkeys(range(1, 6), 0)
    for e, route in enumerate(plan.routes):
        if not route.stops:
            continue
        at = n + 2 * e
        for stop in route.stops:
            k, job = jobs[stop.job_id]
            if stop.via is not None:  # the drive by way of the warehouse
                travel += int(times[at, depot[stop.via]])
                at = depot[stop.via]
            travel += int(times[at, k])
            at = k
            done_by_priority[job.priority] += 1
            if job.sla_due is not None:
                late += max(0, stop.arrival - job.sla_due)
        travel += int(times[at, n + 2 * e + 1])
    assigned = sum(len(r.stops) for r in plan.routes)
    return {"assigned": assigned, "unassigned": n - assigned,
            "done_by_priority": done_by_priority, "travel_h": round(travel / 3600, 1),
            "travel_min_per_job": round(travel / 60 / max(1, assigned), 1),
            "sla_late_h": round(late / 3600, 1)}
