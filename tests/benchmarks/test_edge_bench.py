"""`fieldpulse bench edge --json` still runs end to end (small, and no timing asserted)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from benchmarks.edge import bench_edge


def test_the_bench_prints_one_json_object_with_the_three_figures() -> None:
    app = typer.Typer()
    app.command()(bench_edge)
    result = CliRunner().invoke(app, ["--json", "--devices", "5", "--metrics", "2",
                                      "--outage-s", "30", "--live-s", "1"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["backlog_readings"] == 5 * 30  # every backlog reading arrived
    assert figures["rss_mb"] > 0 and figures["cpu_pct"] >= 0 and figures["drain_ratio"] > 0
