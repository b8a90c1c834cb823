"""Cheap checks before solving: give hopeless jobs an honest reason, price the rest.

Necessary, not sufficient: the solver still decides who actually fits. But a
job that fails here for everyone fails for a known reason, and narrowing the
allowed vehicles to these engineers also shrinks the search.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.plan import (
    REASON_LATER_DAY,
    REASON_PINNED,
    REASON_WINDOW,
    reason_no_level,
    reason_no_part,
    reason_no_skill,
)
from dispatch.problem import MAX_PRIORITY, MIN_PRIORITY, Engineer, Job, Problem

# Keep the objective well inside int64: OR-Tools saturates instead of
# overflowing, and a saturated objective can no longer tell plans apart.
MAX_OBJECTIVE = 2**62
PINNED_RANK = MAX_PRIORITY + 1  # a pinned job outranks every priority


@dataclass(frozen=True, slots=True)
class Screen:
    usable: tuple[int, ...]  # engineers who can at least drive start -> end in shift
    allowed: dict[int, tuple[int, ...]]  # job -> engineers who could do it alone
    rejected: dict[int, str]  # job -> reason it never enters the model
    # Jobs whose first way is by an engineer carrying the parts: the model counts
    # each van's stock down along its route (model.py).
    carried: frozenset[int] = frozenset()
    # Jobs that need parts: the ways they can be done, each a node of the model in
    # one disjunction (absent: one way, by any engineer in `allowed`).
    variants: dict[int, tuple[Variant, ...]] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Variant:
    """One way to do a job that needs parts: "carried" (by an engineer whose van
    holds them), "pickup" (anyone qualified, by way of `depot`), "without" (anyone,
    at the price of a second visit: "prefer" only), or "blind" (no one within reach
    carries them and no depot holds them: anyone, "prefer" only)."""

    kind: str
    engineers: tuple[int, ...]
    depot: int | None = None


def start_row(e: int, n_jobs: int) -> int:
    return n_jobs + 2 * e  # row of engineer e's start in the full matrix


def end_row(e: int, n_jobs: int) -> int:
    return n_jobs + 2 * e + 1


def window(job: Job, horizon: int) -> tuple[int, int]:
    """When service may start: the pinned time overrides the customer's window."""
    if job.pinned_start is not None:
        return job.pinned_start, job.pinned_start
    end = horizon if job.window_end is None else min(job.window_end, horizon)
    return job.window_start, end


def screen(problem: Problem, times: np.ndarray) -> Screen:
    """Per job, the engineers who could do it as their only job."""
    jobs, engineers = problem.jobs, problem.engineers
    n = len(jobs)
    usable = tuple(
        e
        for e, eng in enumerate(engineers)
        # An empty route still drives start -> end; if even that does not fit,
        # this engineer would make the whole model infeasible.
        if eng.shift_start + times[start_row(e, n), end_row(e, n)] <= eng.shift_end
    )
    allowed: dict[int, tuple[int, ...]] = {}
    rejected: dict[int, str] = {}
    carried: set[int] = set()
    variants: dict[int, tuple[Variant, ...]] = {}
    for j, job in enumerate(jobs):
        skilled = [e for e, eng in enumerate(engineers) if job.skill in eng.skills]
        qualified = [e for e in skilled if engineers[e].level(job.skill) >= job.level]
        if job.pinned_engineer is not None:
            qualified = [e for e in qualified if engineers[e].id == job.pinned_engineer]
        start, end = window(job, problem.horizon)
        fits = tuple(
            e
            for e in qualified
            if e in usable and _fits_alone(job, start, end, j, engineers[e], e, n, times)
        )
        if not skilled:
            rejected[j] = reason_no_skill(job.skill)
        elif not any(engineers[e].level(job.skill) >= job.level for e in skilled):
            rejected[j] = reason_no_level(job.skill, job.level)
        elif not fits and qualified and all(start >= engineers[e].shift_end for e in qualified):
            # A window after every qualified shift of this plan is a promise for a
            # later day, planned once that day's shift is the next one.
            rejected[j] = REASON_LATER_DAY
        elif not fits:
            rejected[j] = REASON_PINNED if job.pinned_engineer is not None else REASON_WINDOW
        elif job.parts and problem.parts != "ignore":
            found = _part_variants(problem, job, j, fits, times)
            if not found:
                rejected[j] = reason_no_part(job.parts)
            else:
                variants[j] = found
                allowed[j] = tuple(sorted({e for v in found for e in v.engineers}))
                if found[0].kind == "carried":
                    carried.add(j)
        else:
            allowed[j] = fits
    return Screen(usable, allowed, rejected, frozenset(carried), variants)


def _part_variants(problem: Problem, job: Job, j: int, fits: tuple[int, ...],
                   times: np.ndarray) -> tuple[Variant, ...]:
    """A carrier who can reach the job in time if there is one (a second visit
    costs more than any detour), or a pick-up at the depot nearest the job that
    holds the parts; under "prefer", failing those, anyone qualified."""
    engineers = problem.engineers
    holders = tuple(e for e in fits if engineers[e].carries(job.parts))
    others = tuple(e for e in fits if e not in holders)
    first_depot = len(problem.jobs) + 2 * len(engineers)
    stocked = [d for d, depot in enumerate(problem.depots) if depot.holds(job.parts)]
    depot = min(stocked, key=lambda d: (int(times[first_depot + d, j]), d), default=None)
    found = []
    if holders:
        found.append(Variant("carried", holders))
    if depot is not None and others:
        found.append(Variant("pickup", others, depot))
    if problem.parts == "prefer" and others:
        found.append(Variant("without" if found else "blind", others))
    return tuple(found)


def _fits_alone(
    job: Job, start: int, end: int, j: int, eng: Engineer, e: int, n: int, times: np.ndarray
) -> bool:
    to_job, home = int(times[start_row(e, n), j]), int(times[j, end_row(e, n)])
    earliest = max(eng.shift_start + to_job, start)
    latest = min(end, eng.shift_end - job.duration - home)
    if earliest > latest:
        return False
    lunch = eng.lunch
    if lunch is None:
        return True
    # Lunch before the job (taken at home, then drive) or after it.
    before = max(eng.shift_start, lunch.earliest)
    if before <= lunch.latest and max(before + lunch.duration + to_job, start) <= latest:
        return True
    after = max(earliest + job.duration, lunch.earliest)
    return after <= lunch.latest and after + lunch.duration + home <= eng.shift_end


def rank(job: Job) -> int:
    return PINNED_RANK if job.pinned_engineer or job.pinned_start is not None else job.priority


# Leaving a job out costs more when that surely breaks its SLA (see ``sla_weight``).
SLA_SOON = 2 * 3600  # seconds after the plan's start: "due soon" (overdue clamps to 0)
MAX_SLA_WEIGHT = 3


def sla_weight(job: Job, last_end: int) -> int:
    """Multiplier on a job's drop price within its rank.

    3: its SLA is due within ``SLA_SOON`` (or already overdue: the customer is
    waiting now); 2: due before the last shift of the plan ends, so leaving
    it unassigned is a certain SLA miss; 1: no SLA, or due after every shift
    (a later plan can still meet it).
    """
    if job.sla_due is None or job.sla_due >= last_end:
        return 1
    return MAX_SLA_WEIGHT if job.sla_due <= SLA_SOON else 2


def penalties(problem: Problem, usable: Sequence[int]) -> list[int]:
    """Price of leaving each job unassigned: ``base * k**rank * sla_weight``.

    ``base`` exceeds any possible total of travel (no route drives longer than
    its shift) plus SLA lateness cost, so the solver never drops a job it can
    fit just to save driving or lateness. Each rank step multiplies by ``k``;
    with k = MAX_SLA_WEIGHT * n_jobs + 1 one job outweighs all lower-ranked
    jobs together, whatever their SLA, i.e. priorities are strictly
    lexicographic and pinned jobs come first. Within a rank the SLA weight
    decides: one job due soon outweighs two without a due SLA. Only when
    that would overflow int64 is k lowered (still >= 2).
    """
    n = len(problem.jobs)
    last_end = max((problem.engineers[e].shift_end for e in usable), default=0)
    base = _base(problem, usable)
    k = MAX_SLA_WEIGHT * n + 1
    span = PINNED_RANK - MIN_PRIORITY
    while k > 2 and (n + 1) * MAX_SLA_WEIGHT * base * k**span > MAX_OBJECTIVE:
        k -= 1
    return [
        base * k ** (rank(job) - MIN_PRIORITY) * sla_weight(job, last_end)
        for job in problem.jobs
    ]


def _base(problem: Problem, usable: Sequence[int]) -> int:
    """More than any plan's travel plus SLA lateness cost can add up to."""
    last_end = max((problem.engineers[e].shift_end for e in usable), default=0)
    base = 1 + sum(
        problem.engineers[e].shift_end - problem.engineers[e].shift_start for e in usable
    )
    return base + sum(
        late_cost(job) * max(0, last_end - job.sla_due)
        for job in problem.jobs
        if job.sla_due is not None
    )


def miss_cost(problem: Problem, usable: Sequence[int]) -> int:
    """What sending an engineer without a job's parts costs ("prefer"): more than any
    detour or lateness a carrier could add, so a carrier who can fit the job always
    goes; less than leaving the job out (every drop price is at least the base)."""
    return _base(problem, usable) - 1


def late_cost(job: Job) -> int:
    """Cost per second past the SLA due time: a second of an urgent job's
    lateness weighs as much as `priority` seconds of driving."""
    return job.priority
