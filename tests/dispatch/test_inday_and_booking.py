"""Replanning the rest of the day from reported progress, and booking offers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from plan_checker import check_plan

from dispatch.booking import propose_windows
from dispatch.emergency import insert_emergency
from dispatch.inday import EngineerState, remaining_day
from dispatch.problem import Break, Engineer, Job, Location, Problem
from dispatch.solver import Plan, points_of, solve
from dispatch.synthetic import H, city_day
from dispatch.travel import travel_matrix

NOW = 4 * H + 900  # 11:15


@pytest.fixture(scope="module")
def morning() -> tuple[Problem, np.ndarray, Plan]:
    problem = city_day(24, 5, seed=21)
    times = travel_matrix(points_of(problem))
    return problem, times, solve(problem, time_limit_s=3, deterministic=False, times=times)


def progress_at(
    problem: Problem, plan: Plan, now: int
) -> tuple[dict[str, EngineerState], set[str]]:
    """What the engineers would report at ``now`` had they followed the plan."""
    jobs = {j.id: j for j in problem.jobs}
    states, gone = {}, set()
    for route in plan.routes:
        for stop in route.stops:
            if stop.arrival <= now:
                gone.add(stop.job_id)
        busy = [s for s in route.stops if s.arrival <= now < s.departure]
        lunch = next(e.lunch for e in problem.engineers if e.id == route.engineer_id)
        had = (route.break_start is not None and lunch is not None
               and route.break_start + lunch.duration <= now)
        if busy:
            states[route.engineer_id] = EngineerState(
                jobs[busy[0].job_id].location, busy[0].departure, had)
    return states, gone


def test_rest_of_day_starts_from_reported_positions_and_passes_the_checker(morning) -> None:  # type: ignore[no-untyped-def]
    problem, _, plan = morning
    states, gone = progress_at(problem, plan, NOW)
    # One engineer is stuck across town, free only in 40 minutes.
    stuck = problem.engineers[0].id
    states[stuck] = EngineerState(Location(48.22, 11.68), NOW + 2400)
    rest = remaining_day(problem, NOW, states, gone)
    assert {j.id for j in rest.jobs} == {j.id for j in problem.jobs} - gone
    replanned = solve(rest, time_limit_s=2, deterministic=False)
    assert check_plan(rest, replanned) == []
    assert all(s.arrival >= NOW for r in replanned.routes for s in r.stops)
    (eng,) = [e for e in rest.engineers if e.id == stuck]
    assert eng.start == Location(48.22, 11.68) and eng.shift_start == NOW + 2400


def test_lunch_already_taken_is_dropped_and_a_pending_one_is_clamped_to_now() -> None:
    home = Location(48.1374, 11.5755)
    lunch = Break(3 * H, 6 * H, 1800)
    a = Engineer("a", frozenset({"hvac"}), home, home, H, 9 * H, lunch=lunch)
    b = dataclasses.replace(a, id="b")
    problem = Problem((a, b), (), 10 * H)
    rest = remaining_day(problem, NOW, {"a": EngineerState(home, NOW, had_lunch=True)}, ())
    lunches = {e.id: e.lunch for e in rest.engineers}
    assert lunches == {"a": None, "b": Break(NOW, 6 * H, 1800)}


def test_engineer_free_only_after_shift_end_leaves_the_plan() -> None:
    home = Location(48.1374, 11.5755)
    a = Engineer("a", frozenset({"hvac"}), home, home, H, 5 * H)
    rest = remaining_day(Problem((a,), (), 10 * H), NOW, {"a": EngineerState(home, 5 * H)}, ())
    assert rest.engineers == ()


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
