"""`python -m benchmarks.live_feed` in a short run: every stream connects, consoles
and customers receive the fleet's updates, no customer is sent another device's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]


def test_live_bench_reports_both_phases() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.live_feed", "--clients", "20", "--duration", "4",
         "--baseline-clients", "4", "--baseline-s", "2", "--devices", "200",
         "--interval", "0.2", "--json"],
        cwd=ROOT, capture_output=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    result = orjson.loads(run.stdout)
    for phase, clients in (("baseline", 4), ("main", 20)):
        figures = result[phase]
        assert figures["clients"] == figures["connected"] == clients, phase
        assert figures["foreign"] == 0 and figures["deliveries"] > 0, phase
        assert figures["delay_p50_ms"] <= figures["delay_p99_ms"], phase
        assert figures["server_cpu_cores"] >= 0, phase
    assert result["updates_written"] > 0
