"""Timing one engineer's route in plain Python: when each visit starts, where lunch goes.

Used where the solver is too slow to call (emergency insertion, booking,
the greedy baseline). Every visit starts as early as it can. Lunch first goes
greedily into the first gap where it costs no time (the engineer would wait
anyway), or the last gap that still lets it start in its window; only if
that fails is every gap tried in turn. With the gap fixed, earliest starts
are the best possible, so trying every gap makes the answer exact: a route
is rejected only if no schedule exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from dispatch.problem import Engineer, Job

GREEDY = -1  # lunch gap chosen on the way


@dataclass(frozen=True, slots=True)
class Timing:
    arrivals: tuple[int, ...]  # start of service per job, in route order
    break_start: int | None  # None without lunch or without jobs
    travel: int  # seconds driven, start -> jobs -> end
    lateness_cost: int  # sum of priority * seconds past SLA due


def time_route(
    engineer: Engineer,
    jobs: Sequence[Job],
    rows: Sequence[int],
    start_row: int,
    end_row: int,
    times: np.ndarray,
    horizon: int,
) -> Timing | None:
    """The earliest schedule of ``jobs`` in this order, or None if none fits.

    ``rows`` are the jobs' rows in ``times``; ``start_row``/``end_row`` the
    engineer's start and end.
    """
    route = _Route(engineer, jobs, rows, start_row, end_row, times, horizon)
    timing = _simulate(route, GREEDY)
    if timing is not None or engineer.lunch is None or not jobs:
        return timing
    for gap in range(len(jobs) + 1):  # gap k: before the k-th job (len: after the last)
        timing = _simulate(route, gap)
        if timing is not None:
            return timing
    return None


class _Route(NamedTuple):
    engineer: Engineer
    jobs: Sequence[Job]
    rows: Sequence[int]
    start_row: int
    end_row: int
    times: np.ndarray
    horizon: int


def _simulate(route: _Route, gap: int) -> Timing | None:
    engineer, jobs, rows, start_row, end_row, times, horizon = route
    lunch = engineer.lunch if jobs else None
    t, at = engineer.shift_start, start_row
    taken: int | None = None
    arrivals: list[int] = []
    travel = late = 0
    for k, (job, row) in enumerate(zip(jobs, rows, strict=True)):
        if job.pinned_start is not None:
            w_start = w_end = job.pinned_start
        else:
            w_start = job.window_start
            w_end = horizon if job.window_end is None else min(job.window_end, horizon)
        drive = int(times[at, row])
        arrive = max(t + drive, w_start)
        if lunch is not None and taken is None:
            b = max(t, lunch.earliest)
            if gap == k or (gap == GREEDY and arrive + job.duration > lunch.latest):
                if b > lunch.latest:  # forced here, or the last chance before this job
                    return None
                taken, arrive = b, max(b + lunch.duration + drive, w_start)
            elif gap == GREEDY and b <= lunch.latest and b + lunch.duration + drive <= arrive:
                taken = b  # fits in the wait: free
        if arrive > w_end:
            return None
        arrivals.append(arrive)
        if job.sla_due is not None and arrive > job.sla_due:
            late += job.priority * (arrive - job.sla_due)
        travel += drive
        t, at = arrive + job.duration, row
    drive = int(times[at, end_row])
    home = t + drive
    if lunch is not None and taken is None:
        taken = max(t, lunch.earliest)
        if taken > lunch.latest:
            return None
        home = max(home + lunch.duration, taken + lunch.duration)
    if home > engineer.shift_end:
        return None
    return Timing(tuple(arrivals), taken, travel + drive, late)
