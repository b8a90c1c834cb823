"""The code behind the Solomon benchmark: reading and solving instances, judged by
the shared independent checker, and the naive baseline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from solomon_judge import CHECKER, check_solomon

from benchmarks import REPO_ROOT
from benchmarks.dispatch.solomon import (
    Tuning,
    _Model,
    _parameters,
    _units,
    read_instance,
    route_distance,
    solve_instance,
)
from benchmarks.dispatch.solomon_naive import solve_naive
from benchmarks.shared_data import solomon_dir

SOLOMON = solomon_dir()

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
    done = subprocess.run([sys.executable, "-m", "benchmarks.dispatch", "solomon-baseline",
                           "R101", "--time-limit", "1", "--data", str(data)],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=True)
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
