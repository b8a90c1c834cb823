"""The plain-Python route timing behind emergency insertion, booking and the
greedy baseline: whatever it accepts, the independent checker must accept."""

from __future__ import annotations

import random

from plan_checker import check_plan

from dispatch.heuristics.schedule import time_route
from dispatch.plan import Plan, Route, Stop
from dispatch.problem import Break, Engineer, Job, Location, Problem
from dispatch.travel import points_of, travel_matrix

H = 3600


def _random_route(rng: random.Random) -> tuple[Problem, list[Job]]:
    def spot() -> Location:
        return Location(48.10 + rng.random() * 0.08, 11.50 + rng.random() * 0.12)

    home = spot()
    earliest = H + rng.randrange(0, 8) * 900
    lunch = Break(earliest, earliest + rng.randrange(0, 4) * 900, 1800) if rng.random() < 0.7 \
        else None
    eng = Engineer("e", frozenset({"a"}), home, home, H, H + rng.choice((5, 7, 9)) * H,
                   lunch=lunch)
    jobs = []
    for k in range(rng.randint(1, 5)):
        kw: dict[str, int] = {}
        if rng.random() < 0.5:
            ws = H + rng.randrange(0, 24) * 900
            kw = {"window_start": ws, "window_end": ws + rng.randrange(0, 8) * 900}
        if rng.random() < 0.15:
            kw = {"pinned_start": H + rng.randrange(0, 24) * 900}
        jobs.append(Job(f"j{k}", spot(), "a", rng.choice((1800, 2700, 3600)), 3, **kw))
    return Problem((eng,), tuple(jobs), 12 * H), jobs


def test_every_route_the_timing_accepts_passes_the_checker() -> None:
    rng = random.Random(42)
    accepted = rejected = 0
    for _ in range(300):
        problem, jobs = _random_route(rng)
        times = travel_matrix(points_of(problem))
        n = len(jobs)
        timing = time_route(problem.engineers[0], jobs, list(range(n)), n, n + 1, times,
                            problem.horizon)
        if timing is None:
            rejected += 1
            continue
        accepted += 1
        stops = tuple(Stop(j.id, a, a + j.duration)
                      for j, a in zip(jobs, timing.arrivals, strict=True))
        plan = Plan((Route("e", stops, timing.break_start),), (), 0)
        assert check_plan(problem, plan) == [], (problem, timing)
    # Both outcomes occur, so the test exercises both branches.
    assert accepted > 50 and rejected > 50


def test_lunch_goes_into_a_wait_when_that_costs_nothing() -> None:
    home = Location(48.1374, 11.5755)
    eng = Engineer("e", frozenset({"a"}), home, home, H, 9 * H, lunch=Break(3 * H, 5 * H, 1800))
    early = Job("early", home, "a", H, 3)  # 08:00-09:00 (t=H..2H)
    late = Job("late", home, "a", H, 3, window_start=4 * H, window_end=4 * H)
    problem = Problem((eng,), (early, late), 12 * H)
    times = travel_matrix(points_of(problem))
    timing = time_route(eng, [early, late], [0, 1], 2, 3, times, problem.horizon)
    assert timing is not None
    assert timing.arrivals == (H, 4 * H)
    assert timing.break_start == 3 * H  # in the wait before the 11:00 appointment
