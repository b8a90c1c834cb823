"""The greedy baseline (judged by plan_checker) and the solver's big-day paths that start
from it, on synthetic city days."""

from __future__ import annotations

import pytest
from plan_checker import check_plan

from dispatch.heuristics.greedy import greedy_plan
from dispatch.plan_stats import plan_stats
from dispatch.travel import points_of, travel_matrix
from testing_support.city_days import city_day


def test_greedy_baseline_plan_passes_the_checker() -> None:
    problem = city_day(60, 6, seed=5)
    times = travel_matrix(points_of(problem))
    plan = greedy_plan(problem, times)
    assert check_plan(problem, plan) == []
    stats = plan_stats(problem, plan, times)
    assert stats["assigned"] == sum(len(r.stops) for r in plan.routes) > 0


def test_large_problems_start_from_the_greedy_plan_and_stay_sound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dispatch.solver as solver_package
    from dispatch.solver import solve

    # Pretend 30 jobs is "large", so the greedy start path runs on a quick problem.
    monkeypatch.setattr(solver_package, "LARGE", 0)
    problem = city_day(30, 4, seed=9)
    times = travel_matrix(points_of(problem))
    greedy = greedy_plan(problem, times)
    first = solve(problem, time_limit_s=5, times=times, first_only=True)
    assert check_plan(problem, first) == []
    # The first plan is the greedy plan, read back through the routing model.
    assert [[s.job_id for s in r.stops] for r in first.routes] == [
        [s.job_id for s in r.stops] for r in greedy.routes
    ]
    improved = solve(problem, time_limit_s=2, deterministic=False, times=times)
    assert check_plan(problem, improved) == []
    assert improved.objective <= first.objective


def test_big_days_solved_region_by_region_stay_sound_and_beat_greedy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dispatch.solver as solver_package
    import dispatch.solver.regions as regions_module
    from dispatch.solver import solve

    # Pretend 40 jobs over 8 engineers is big: regions of 2 engineers each.
    monkeypatch.setattr(solver_package, "LARGE", 0)
    monkeypatch.setattr(solver_package, "REGION", 2)
    monkeypatch.setattr(regions_module, "REGION", 2)
    problem = city_day(40, 8, seed=4)
    groups = regions_module.regions(problem, range(8))
    assert sorted(e for g in groups for e in g) == list(range(8)) and len(groups) == 4
    times = travel_matrix(points_of(problem))
    plan = solve(problem, time_limit_s=4, deterministic=False, times=times)
    assert check_plan(problem, plan) == []
    assert [r.engineer_id for r in plan.routes] == [e.id for e in problem.engineers]
    # Each region starts from its part of the greedy plan and the solver only
    # accepts better plans; priorities weigh lexicographically (urgent first).
    def done(p: object) -> list[int]:
        by_priority = plan_stats(problem, p, times)["done_by_priority"]  # type: ignore[arg-type]
        return [by_priority[k] for k in (5, 4, 3, 2, 1)]  # type: ignore[index]

    assert done(plan) >= done(greedy_plan(problem, times))
