"""Ruin and recreate of the Solomon restarts, judged by the shared independent checker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from solomon_judge import check_solomon

from dispatch.bench import CHECKER, SOLOMON
from dispatch.solomon import Tuning, _Model, _units, read_instance
from dispatch.solomon_ruin import on_time, ruin_recreate

needs_shared = pytest.mark.skipif(
    not (SOLOMON / "R101.txt").exists() or not CHECKER.exists(),
    reason="shared Solomon data and checker not present",
)


@needs_shared
@pytest.mark.parametrize("name", ["R101", "RC208"])
def test_ruined_and_recreated_plans_stay_feasible_and_complete(name: str, tmp_path: Path) -> None:
    instance = read_instance(SOLOMON / f"{name}.txt")
    units = _units(instance)
    first = _Model(instance, units, instance.vehicles, Tuning()).first(5.0)
    rng = np.random.default_rng(1)
    changed = 0
    plans = [ruin_recreate(units, first.routes, first.vehicles, 15, rng) for _ in range(10)]
    # None (a customer fits nowhere) is allowed; the search then tries again.
    for plan in (p for p in plans if p is not None):
        assert len(plan) == first.vehicles
        assert sorted(c for r in plan for c in r) == list(range(1, len(instance.demand)))
        report = check_solomon(SOLOMON / f"{name}.txt", plan, tmp_path)
        assert report["feasible"], report["violations"]
        changed += [r for r in plan if r] != first.routes
    assert changed > 0  # the restarts really start somewhere else


@needs_shared
def test_on_time_rejects_a_route_served_after_a_due_time() -> None:
    instance = read_instance(SOLOMON / "R101.txt")
    units = _units(instance)
    assert on_time(units, [int(np.argmin(instance.due[1:])) + 1])
    # Latest customer first, earliest-due customer after it: too late.
    late, early = int(np.argmax(instance.ready)), int(np.argmin(instance.due[1:])) + 1
    assert not on_time(units, [late, early])


@needs_shared
def test_restarted_search_returns_a_feasible_plan_within_the_limit(tmp_path: Path) -> None:
    from dispatch.solomon import solve_instance

    instance = read_instance(SOLOMON / "RC208.txt")
    solution = solve_instance(instance, 3.0, Tuning(stall=0.3))
    report = check_solomon(SOLOMON / "RC208.txt", solution.routes, tmp_path)
    assert report["feasible"], report["violations"]
    assert report["distance"] == pytest.approx(solution.distance, abs=0.01)
