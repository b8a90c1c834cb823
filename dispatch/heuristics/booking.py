"""Booking: for a customer's fault report, the arrival windows we can promise.

Each candidate window (e.g. 08-10, 10-12, ... in the plan's time) is tried as
the job's promised window by insertion into today's plan without bumping
anyone; the offers are the feasible windows, cheapest extra driving first
(ties: earlier window first). Honest by construction: an offered window is
one the current plan can actually absorb.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.heuristics.emergency import extend_times, insert_emergency
from dispatch.plan import Plan
from dispatch.problem import Job, Problem
from dispatch.travel import TravelTimes


@dataclass(frozen=True, slots=True)
class Offer:
    window_start: int
    window_end: int
    engineer_id: str
    arrival: int  # planned start of service within the window
    extra_travel: int  # seconds of driving the plan gains by taking it


def propose_windows(
    problem: Problem,
    times: np.ndarray,
    plan: Plan,
    job: Job,
    windows: Sequence[tuple[int, int]],
    best: int = 3,
    travel: TravelTimes | None = None,
) -> list[Offer]:
    """Up to ``best`` offers among ``windows`` (start, end) for ``job``."""
    offers = []
    # The matrix grows by the same row for every window: compute it once.
    grown = extend_times(problem, times, job, travel)
    for start, end in windows:
        trial = dataclasses.replace(job, window_start=start, window_end=end)
        result = insert_emergency(problem, times, plan, trial, travel, bump=False,
                                  grown_times=grown)
        if result.engineer_id is None:
            continue
        route = result.plan.route_of(result.engineer_id)
        stop = next(s for s in route.stops if s.job_id == job.id)
        offers.append((result.extra_travel, start, Offer(start, end, result.engineer_id,
                                                         stop.arrival, result.extra_travel)))
    offers.sort(key=lambda o: (o[0], o[1]))
    return [o[2] for o in offers[:best]]
