"""Synthetic city days for the dispatcher: shared by the tests and the field benchmark."""

from __future__ import annotations

import dataclasses
import random

from dispatch.problem import Break, Depot, Engineer, Job, Location, Problem

H = 3600
SKILLS = ("hvac", "electrical", "plumbing", "refrigeration")


def city_day(
    n_jobs: int, n_engineers: int, seed: int = 7, lunch: bool = True, sla: bool = True,
    parts: bool = False, warehouses: int = 0,
) -> Problem:
    """A day in a ~20 km city: 08:00-17:00 shifts (t=0 is 07:00), mixed skills
    with levels, some promised windows, some SLA due times, some lunch breaks.
    With `parts`, the same day where some jobs need a spare part and the vans carry
    some (`with_parts`)."""
    rng = random.Random(seed)

    def spot() -> Location:
        return Location(48.05 + rng.random() * 0.18, 11.40 + rng.random() * 0.30)

    engineers = []
    for e in range(n_engineers):
        skills = set(rng.sample(SKILLS, rng.choice((1, 2, 2, 3))))
        levels = {s: rng.choice((1, 1, 2, 3)) for s in sorted(skills)}  # sorted: same day every run
        home = spot()
        start = H + rng.choice((0, 0, 1800))
        engineers.append(
            Engineer(
                f"e{e:03d}", frozenset(skills), home, home, start, start + 9 * H,
                levels=tuple(levels.items()),
                lunch=Break(start + 4 * H, start + 5 * H + 1800, 1800) if lunch else None,
            )
        )
    jobs = []
    for j in range(n_jobs):
        kind = rng.random()
        window: dict[str, int] = {}
        if kind < 0.3:  # promised half-day slot
            morning = rng.random() < 0.5
            window = {"window_start": H if morning else 5 * H,
                      "window_end": 5 * H if morning else 9 * H}
        elif kind < 0.4:  # two-hour appointment
            w = H + rng.randrange(0, 7) * H
            window = {"window_start": w, "window_end": w + 2 * H}
        priority = rng.choice((1, 2, 3, 3, 4, 5))
        jobs.append(
            Job(
                f"j{j:04d}", spot(), rng.choice(SKILLS), rng.choice((30, 45, 60, 90)) * 60,
                priority, level=rng.choice((1, 1, 1, 2)),
                sla_due=(rng.randrange(3, 10) * H if sla and priority >= 4 else None),
                **window,
            )
        )
    day = Problem(tuple(engineers), tuple(jobs), horizon=12 * H)
    return with_parts(day, seed, warehouses=warehouses) if parts else day


# Per skill, the spare parts its jobs may need.
PARTS = {skill: tuple(f"{skill[:4].upper()}-{k}" for k in range(1, 5)) for skill in SKILLS}


def with_parts(day: Problem, seed: int, share: float = 0.4, stocked: float = 0.5,
               warehouses: int = 0) -> Problem:
    """`day` with a part needed by `share` of the jobs (one of their skill's four),
    each van holding 1-3 of about `stocked` of its skills' parts, and `warehouses`
    depots in the city holding 50 of every part. Its own random stream: the day
    itself is unchanged."""
    rng = random.Random(seed * 7919 + 1)
    engineers = tuple(
        dataclasses.replace(e, van=tuple(sorted(
            (part, rng.randint(1, 3)) for skill in sorted(e.skills) for part in PARTS[skill]
            if rng.random() < stocked)))
        for e in day.engineers)
    jobs = tuple(
        dataclasses.replace(j, parts=((rng.choice(PARTS[j.skill]), 1),))
        if rng.random() < share else j
        for j in day.jobs)
    every = tuple(sorted((part, 50) for parts in PARTS.values() for part in parts))
    depots = tuple(Depot(f"wh{d}", Location(48.05 + rng.random() * 0.18,
                                            11.40 + rng.random() * 0.30), every)
                   for d in range(warehouses))
    return dataclasses.replace(day, engineers=engineers, jobs=jobs, depots=depots)
