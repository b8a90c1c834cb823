"""`python -m benchmarks.portal` on a small fleet: it seeds what it says, draws every
device in the browser, and reports each endpoint next to its baseline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from sqlmodel import Session, func, select

from asset_registry.tables import Device
from benchmarks.portal import seed
from foundations.database import make_engine
from rules.tables import Alert

ROOT = Path(__file__).resolve().parents[2]


def test_seed_makes_exactly_the_devices_asked_for(tmp_path: Path) -> None:
    seeded = seed(tmp_path, 150)
    engine = make_engine(f"sqlite:///{seeded.db}")
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Device)).one() == 150
        assert s.exec(select(func.count()).select_from(Alert)).one() == seeded.open_alerts > 0
        assert s.exec(select(func.count()).select_from(Device).where(
            Device.online == False)).one() > 0  # noqa: E712 (SQL comparison)


def test_bench_reports_paint_and_latency_with_their_baselines() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.portal", "--devices", "300", "--clients", "4",
         "--requests", "2", "--heavy-requests", "1", "--paint-runs", "1", "--json",
         "--load", "httpx"],
        cwd=ROOT, capture_output=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    result = orjson.loads(run.stdout)
    assert result["devices"] == 300 and result["clients"] == 4
    paint = result["map"]
    assert paint["first_paint_ms"] > 0 and paint["login_page_load_ms"] > 0
    # The devices arrive before they can be drawn.
    assert paint["devices_json_ms"] <= paint["first_paint_ms"]
    latency = result["latency"]
    assert "/healthz" in latency and "/api/devices" in latency
    for path, figures in latency.items():
        assert figures["errors"] == 0, path
        assert figures["requests"] == 4 * (1 if path.startswith("/api/devices?") or
                                           path == "/api/devices" else 2), path
        assert figures["p50_ms"] <= figures["p99_ms"], path
    # Every device is in the list the map draws.
    assert latency["/api/devices"]["bytes"] > 300 * 100


@pytest.mark.skipif(shutil.which("wrk") is None, reason="Debian's wrk is not installed")
def test_wrk_bench_states_every_endpoint_against_the_baseline_and_bare_asgi() -> None:
    # The old module name, as the scripts outside the repository call it.
    run = subprocess.run(
        [sys.executable, "-m", "portal.bench", "--devices", "200", "--clients", "4",
         "--duration", "1", "--rounds", "1", "--no-browser", "--json"],
        cwd=ROOT, capture_output=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    result = orjson.loads(run.stdout)
    latency = result["latency"]
    assert result["load"] == "wrk" and "bare ASGI hello-world" in latency
    assert latency["/bench/static"]["x_baseline_per_s"] == 1.0
    for path in ("/healthz", "/api/work-orders", "/api/alerts?state=open", "/api/devices",
                 "/api/devices?q=AQ-500-21", "/api/devices If-None-Match"):
        figures = latency[path]
        assert figures["errors"] == 0 and figures["requests"] > 0, path
        assert figures["p50_ms"] <= figures["p99_ms"], path
        assert figures["x_baseline_per_s"] > 0, path


def test_without_wrk_the_bench_says_how_to_get_it(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # no wrk (and nothing else) on the path
    run = subprocess.run([sys.executable, "-m", "benchmarks.portal", "--no-browser"],
                         cwd=ROOT, capture_output=True, timeout=120, check=False, env=env)
    assert run.returncode != 0
    assert b"apt-get install -y wrk" in run.stderr
