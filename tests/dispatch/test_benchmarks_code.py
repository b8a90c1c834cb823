"""The code behind the benchmarks: Solomon reading/solving (judged by the shared
independent checker) and the greedy baseline (judged by plan_checker)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from plan_checker import check_plan
from solomon_judge import check_solomon

from dispatch.bench import CHECKER, SOLOMON
from dispatch.heuristics.greedy import greedy_plan
from dispatch.plan_stats import plan_stats
from dispatch.solomon import (
    Tuning,
    _Model,
    _parameters,
    _units,
    read_instance,
    route_distance,
    solve_instance,
)
from dispatch.solomon_naive import solve_naive
from dispatch.synthetic import city_day
from dispatch.travel import points_of, travel_matrix

needs_shared = pytest.mark.skipif(
    not (SOLOMON / "C101.txt").exists() or not CHECKER.exists(),
    reason="shared Solomon data and checker not present",
)


def _truncated(source: Path, customers: int, target: Path) -> Path:
    """The instance with only its first ``customers`` customers (a quick solve)."""
    lines = source.read_text().splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:1] == ["0"])
    target.write_text("\n".join(lines[: head + 1 + customers]) + "\n")
    return target


@needs_shared
@pytest.mark.parametrize("name", ["C101", "R101", "RC201"])
def test_solomon_solution_passes_the_shared_checker(name: str, tmp_path: Path) -> None:
    path = _truncated(SOLOMON / f"{name}.txt", 30, tmp_path / f"{name}.txt")
    instance = read_instance(path)
    assert len(instance.demand) == 31
    solution = solve_instance(instance, time_limit_s=1.0)
    report = check_solomon(path, solution.routes, tmp_path)
    assert report["feasible"], report["violations"]
    assert report["distance"] == pytest.approx(solution.distance, abs=0.01)


@needs_shared
def test_portfolio_searches_side_by_side_within_the_wall_time(tmp_path: Path) -> None:
    import time

    path = _truncated(SOLOMON / "R101.txt", 30, tmp_path / "R101.txt")
    instance = read_instance(path)
    # The third search fails (no such operator): the solve still returns the
    # others' best plan, in time.
    tuning = Tuning(portfolio=({}, {"vehicle_cost": 40.0}, {"operators": ("use_nothing",)}))
    started = time.monotonic()
    solution = solve_instance(instance, 4.0, tuning)
    assert time.monotonic() - started < 4.0 + 1.0
    assert check_solomon(path, solution.routes, tmp_path)["feasible"]


@needs_shared
def test_iterated_local_search_goes_on_past_the_first_local_optimum(tmp_path: Path) -> None:
    """SolveWithParameters ignores the ILS settings and stops at the first
    local optimum; the solver's ILS path keeps ruining and recreating until its
    time limit, and ends on a shorter plan that the checker accepts."""
    path = SOLOMON / "R109.txt"
    instance = read_instance(path)
    tuning = Tuning(portfolio=(), ils=True, operators=())
    units = _units(instance)
    descent = _Model(instance, units, instance.vehicles, tuning)
    first_optimum = descent.routing.SolveWithParameters(_parameters(tuning, 3.0))
    assert first_optimum is not None
    first_distance = descent._read(first_optimum).distance

    solution = solve_instance(instance, 3.0, tuning)
    assert solution.distance < first_distance * 0.99
    report = check_solomon(path, solution.routes, tmp_path)
    assert report["feasible"], report["violations"]
    assert report["distance"] == pytest.approx(solution.distance, abs=0.01)


@needs_shared
def test_the_naive_baseline_plan_is_judged_by_the_same_checker(tmp_path: Path) -> None:
    path = _truncated(SOLOMON / "C101.txt", 30, tmp_path / "C101.txt")
    solution = solve_naive(read_instance(path), 1.0)
    assert solution is not None and solution.vehicles >= 1
    report = check_solomon(path, solution.routes, tmp_path)
    assert report["feasible"], report["violations"]
    assert sorted(c for route in solution.routes for c in route) == list(range(1, 31))


@needs_shared
def test_the_baseline_command_reports_both_set_ups_on_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _truncated(SOLOMON / "R101.txt", 20, data / "R101.txt")
    (data / "bks.csv").write_text("instance,vehicles,distance,distance_only_vehicles,"
                                  "distance_only_distance\nR101,5,500.0,5,500.0\n")
    done = subprocess.run([sys.executable, "-m", "dispatch.bench", "solomon-baseline", "R101",
                           "--time-limit", "1", "--data", str(data)],
                          capture_output=True, text=True, check=True)
    row = json.loads(done.stdout)
    assert row["instance"] == "R101"
    assert row["ours"]["found"] is True
    assert row["ours"]["gap_pct"] == pytest.approx(100 * (row["ours"]["distance"] / 500 - 1),
                                                   abs=0.001)
    assert isinstance(row["naive"]["found"], bool)


@needs_shared
def test_route_distance_is_euclidean_and_includes_the_depot_legs() -> None:
    instance = read_instance(SOLOMON / "C101.txt")
    # Depot (40, 50) -> customer 1 (45, 68) and back.
    assert route_distance(instance, [[1]]) == pytest.approx(2 * (5**2 + 18**2) ** 0.5)


def test_reading_a_file_that_is_not_solomon_fails_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("hello\nworld\n")
    with pytest.raises(ValueError, match="not a Solomon instance"):
        read_instance(bad)


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
