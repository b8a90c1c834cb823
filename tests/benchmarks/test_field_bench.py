"""`fieldpulse bench dispatch field` runs end to end on a tiny day and reports, in the
same run, second visits avoided by parts-aware dispatch against the parts-blind plan
and the travel it costs (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.dispatch.parts import second_visits
from dispatch.plan import Plan, Route, Stop
from dispatch.problem import Engineer, Job, Location, Problem

ROOT = Path(__file__).resolve().parents[2]


def test_the_field_bench_reports_second_visits_avoided() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.dispatch", "field", "--jobs", "40",
         "--engineers", "6", "--time-limit", "2", "--emergencies", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
    report = json.loads(run.stdout)
    parts = report["parts"]
    assert parts["jobs_needing_parts"] > 0
    assert parts["second_visits_avoided"] == (parts["blind"]["second_visits"]
                                              - parts["aware"]["second_visits"])
    assert parts["blind"]["second_visits"] > 0  # a blind plan sends some without the part
    assert {"extra_travel_h", "extra_travel_pct"} <= parts.keys()


def test_second_visits_count_the_van_down_along_the_route() -> None:
    here = Location(48.1, 11.5)
    problem = Problem(
        (Engineer("e", frozenset({"s"}), here, here, 0, 36_000, van=(("P", 1),)),),
        tuple(Job(f"j{k}", here, "s", 60, 3, parts=(("P", 1),)) for k in range(3)), 40_000)
    plan = Plan((Route("e", tuple(Stop(f"j{k}", 100 * k, 100 * k + 60)
                                  for k in range(3))),), (), 0)
    assert second_visits(problem, plan) == 2  # one membrane, three jobs
