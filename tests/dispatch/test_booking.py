"""Booking offers: the arrival windows a plan can absorb without bumping anyone."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from plan_checker import check_plan

from dispatch.heuristics.booking import propose_windows
from dispatch.heuristics.emergency import insert_emergency
from dispatch.plan import Plan
from dispatch.problem import Engineer, Job, Location, Problem
from dispatch.solver import solve
from dispatch.travel import points_of, travel_matrix
from testing_support.city_days import H, city_day


@pytest.fixture(scope="module")
def morning() -> tuple[Problem, np.ndarray, Plan]:
    problem = city_day(24, 5, seed=21)
    times = travel_matrix(points_of(problem))
    return problem, times, solve(problem, time_limit_s=3, deterministic=False, times=times)


def test_booking_offers_only_windows_the_plan_can_absorb(morning) -> None:  # type: ignore[no-untyped-def]
    problem, times, plan = morning
    skill = next(iter(problem.engineers[1].skills))
    fault = Job("fault", Location(48.13, 11.55), skill, 2700, 3)
    # Two-hour slots through the day, plus one after every shift has ended.
    windows = [(s, s + 2 * H) for s in range(H, 9 * H, 2 * H)] + [(11 * H, 12 * H)]
    offers = propose_windows(problem, times, plan, fault, windows, best=10)
    assert offers, "a light day must have room somewhere"
    assert all(o.window_start != 11 * H for o in offers)
    assert [o.extra_travel for o in offers] == sorted(o.extra_travel for o in offers)
    for offer in offers:
        booked = dataclasses.replace(fault, window_start=offer.window_start,
                                     window_end=offer.window_end)
        result = insert_emergency(problem, times, plan, booked, bump=False)
        assert check_plan(result.problem, result.plan) == []
        assert result.bumped is None
        assert offer.window_start <= offer.arrival <= offer.window_end


def test_booking_never_bumps_anyone() -> None:
    home = Location(48.1374, 11.5755)
    tech = Engineer("t", frozenset({"hvac"}), home, home, 0, 4 * H)
    busy = Job("busy", home, "hvac", 4 * H - 60, 1)
    problem = Problem((tech,), (busy,), 10 * H)
    times = travel_matrix(points_of(problem))
    plan = solve(problem)
    fault = Job("fault", home, "hvac", H, 5)
    assert propose_windows(problem, times, plan, fault, [(0, 4 * H)]) == []
