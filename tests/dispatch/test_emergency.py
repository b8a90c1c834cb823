"""Emergency insertion into a live plan, judged by the independent checker."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from plan_checker import check_plan

from dispatch.diff import Change, plan_diff
from dispatch.heuristics.emergency import (
    REASON_BUMPED,
    REASON_NO_ROOM,
    extend_times,
    insert_emergency,
)
from dispatch.plan import Plan, Route, Stop
from dispatch.problem import Engineer, Job, Location, Problem
from dispatch.solver import solve
from dispatch.travel import points_of, travel_matrix
from testing_support.city_days import H, city_day

HOME = Location(48.1374, 11.5755)


@pytest.fixture(scope="module")
def day() -> tuple[Problem, np.ndarray, Plan]:
    problem = city_day(24, 6, seed=11)  # a light day: room left for an emergency
    times = travel_matrix(points_of(problem))
    plan = solve(problem, time_limit_s=3, deterministic=False, times=times)
    assert check_plan(problem, plan) == []
    return problem, times, plan


def burst_pipe(skill: str = "plumbing", **kw: object) -> Job:
    kw.setdefault("priority", 5)
    kw.setdefault("sla_due", 4 * H)
    return Job("burst", Location(48.14, 11.56), skill, 3600, **kw)  # type: ignore[arg-type]


def test_extended_matrix_equals_the_matrix_of_the_extended_problem(day) -> None:  # type: ignore[no-untyped-def]
    problem, times, _ = day
    job = burst_pipe()
    bigger = Problem(problem.engineers, (*problem.jobs, job), problem.horizon)
    assert np.array_equal(extend_times(problem, times, job), travel_matrix(points_of(bigger)))


def test_emergency_job_is_inserted_and_the_plan_still_passes_the_checker(day) -> None:  # type: ignore[no-untyped-def]
    problem, times, plan = day
    skill = next(iter(problem.engineers[0].skills))
    result = insert_emergency(problem, times, plan, burst_pipe(skill))
    assert check_plan(result.problem, result.plan) == []
    assert result.engineer_id is not None
    taken = {s.job_id for s in result.plan.route_of(result.engineer_id).stops}
    assert "burst" in taken
    # Only the engineer who took it changes: the job added, maybe others re-timed.
    assert [c.engineer_id for c in result.changes] == [result.engineer_id]
    change = result.changes[0]
    assert result.bumped is None
    assert change.added == ("burst",) and change.removed == ()
    others = [r for r in result.plan.routes if r.engineer_id != result.engineer_id]
    assert others == [r for r in plan.routes if r.engineer_id != result.engineer_id]


def test_insertion_picks_the_cheapest_feasible_place() -> None:
    # Two idle engineers; the job is next to b's home, so b gets it.
    a = Engineer("a", frozenset({"plumbing"}), HOME, HOME, 0, 9 * H)
    b_home = Location(48.14, 11.561)
    b = Engineer("b", frozenset({"plumbing"}), b_home, b_home, 0, 9 * H)
    problem = Problem((a, b), (), 10 * H)
    times = travel_matrix(points_of(problem))
    plan = solve(problem)
    result = insert_emergency(problem, times, plan, burst_pipe())
    assert result.engineer_id == "b"
    assert check_plan(result.problem, result.plan) == []


def _full_day() -> tuple[Problem, np.ndarray, Plan]:
    tech = Engineer("t", frozenset({"plumbing"}), HOME, HOME, 0, 8 * H)
    jobs = tuple(
        Job(f"j{k}", Location(48.137 + 0.001 * k, 11.575), "plumbing", 2 * H - 600, p, **pin)
        for k, (p, pin) in enumerate(
            [(3, {}), (2, {"pinned_engineer": "t"}), (4, {}), (1, {"pinned_start": 6 * H})]
        )
    )
    problem = Problem((tech,), jobs, 10 * H)
    times = travel_matrix(points_of(problem))
    plan = solve(problem)
    assert not plan.unassigned and check_plan(problem, plan) == []
    return problem, times, plan


def test_full_day_bumps_the_lowest_unpinned_priority_job() -> None:
    problem, times, plan = _full_day()
    result = insert_emergency(problem, times, plan, burst_pipe(sla_due=None))
    assert check_plan(result.problem, result.plan) == []
    assert result.bumped == "j0"  # j1 (2) and j3 (1) are pinned; j0 (3) < j2 (4)
    assert [(u.job_id, u.reason) for u in result.plan.unassigned] == [("j0", REASON_BUMPED)]
    (change,) = result.changes
    assert change.added == ("burst",) and change.removed == ("j0",)


def test_nothing_is_bumped_for_a_job_of_equal_priority() -> None:
    problem, times, plan = _full_day()
    result = insert_emergency(problem, times, plan, burst_pipe(priority=3, sla_due=None))
    assert result.engineer_id is None and result.bumped is None
    assert result.plan.routes == plan.routes
    assert result.plan.unassigned[-1].reason == REASON_NO_ROOM
    assert check_plan(result.problem, result.plan) == []


def test_job_nobody_is_qualified_for_is_unassigned_with_a_reason(day) -> None:  # type: ignore[no-untyped-def]
    problem, times, plan = day
    result = insert_emergency(problem, times, plan, burst_pipe("rocket-science"))
    assert result.engineer_id is None
    assert check_plan(result.problem, result.plan) == []


def test_diff_names_added_removed_and_moved_jobs() -> None:
    old = Plan((Route("a", (Stop("x", 10, 20), Stop("y", 30, 40))), Route("b", ())), (), 0)
    new = Plan((Route("a", (Stop("y", 25, 35),)), Route("b", (Stop("x", 10, 20),))), (), 0)
    assert plan_diff(old, new) == (
        Change("a", (), ("x",), ("y",)),
        Change("b", ("x",), (), ()),
    )
    assert plan_diff(old, old) == ()


def test_an_arrival_shifted_by_seconds_at_the_same_place_is_no_move() -> None:
    old = Plan((Route("a", (Stop("x", 600, 900), Stop("y", 1200, 1500))),), (), 0)
    seconds = Plan((Route("a", (Stop("x", 630, 930), Stop("y", 1259, 1559))),), (), 0)
    assert plan_diff(old, seconds) == ()  # "14:53 -> 14:53" is not a change
    minutes = Plan((Route("a", (Stop("x", 600, 900), Stop("y", 1260, 1560))),), (), 0)
    assert plan_diff(old, minutes) == (Change("a", (), (), ("y",)),)


def test_checker_catches_an_insertion_that_breaks_a_window(day) -> None:  # type: ignore[no-untyped-def]
    # The checker really looks at the inserted plan: shift the new stop early.
    problem, times, plan = day
    skill = next(iter(problem.engineers[0].skills))
    result = insert_emergency(problem, times, plan, burst_pipe(skill, window_start=5 * H))
    assert result.engineer_id is not None
    route = result.plan.route_of(result.engineer_id)
    stops = tuple(
        dataclasses.replace(s, arrival=s.arrival - H, departure=s.departure - H)
        if s.job_id == "burst" else s
        for s in route.stops
    )
    broken = dataclasses.replace(
        result.plan,
        routes=tuple(dataclasses.replace(r, stops=stops) if r is route else r
                     for r in result.plan.routes),
    )
    assert check_plan(result.problem, result.plan) == []
    assert any("burst" in e and "before window" in e for e in check_plan(result.problem, broken))
