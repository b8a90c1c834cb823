"""`fieldpulse demo`, as the README runs it: faults become alerts and dispatched work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from foundations.processes import free_port
from support import wait_until


def test_demo_raises_alerts_and_dispatches_work_within_a_minute(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fieldpulse", "demo", "--port", str(port), "--sites", "6"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    base = f"http://127.0.0.1:{port}"
    token_file = tmp_path / "demo-token.txt"
    headers: dict[str, str] = {}

    def get(path: str):
        try:
            return httpx.get(base + path, headers=headers, timeout=5).json()
        except httpx.HTTPError:
            return None

    try:
        wait_until(lambda: get("/healthz"), timeout_s=30, what="the portal to answer")
        # The demo's admin API token, written to its working directory.
        headers["Authorization"] = f"Bearer {token_file.read_text().strip()}"
        assert get("/api/me") == {"username": "admin", "role": "admin", "engineer_id": None}
        alerts = wait_until(lambda: get("/api/alerts"), timeout_s=60, what="an alert")
        assert all(a["severity"] in {"low", "medium", "high", "critical"} for a in alerts)
        orders = wait_until(lambda: [o for o in get("/api/work-orders") or [] if o["engineer_id"]],
                            timeout_s=30, what="a dispatched work order")
        device_ids = {o["device_id"] for o in orders}
        devices = {d["id"]: d for d in get("/api/devices")}
        assert device_ids <= devices.keys()
        assert any(devices[d]["worst_severity"] == "critical" for d in device_ids)
        for path in ("/dispatch", f"/engineer/{orders[0]['engineer_id']}"):
            assert httpx.get(base + path, headers=headers, timeout=5).status_code == 200
            # Without credentials a browser is sent to the login page.
            assert httpx.get(base + path, timeout=5).status_code == 303
        qr = sorted((tmp_path / "qr").glob("*.svg"))
        assert len(qr) == len(devices) and len(list((tmp_path / "qr").glob("*.png"))) == len(qr)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert f"{base}/dispatch" in out and "QR codes" in out
    assert f"{base}/engineer/" in out and f"{base}/q/" in out
    # Every role's demo user, its password printed once and kept in a git-ignored file.
    credentials = (tmp_path / "demo-data" / "demo-credentials.txt").read_text().splitlines()
    assert [line.split("\t")[:2] for line in credentials] == [
        ["admin", "admin"], ["dispatcher", "dispatcher"], ["engineer", "engineer"]]
    for line in credentials:
        assert line.split("\t")[2] in out
    assert token_file.stat().st_mode & 0o077 == 0  # the token is the owner's alone
    # Every simulated gateway logged in with its own broker account; its password is kept
    # in an owner-only file, not in the gateway's config.
    configs = sorted((tmp_path / "demo-data" / "gateways").glob("*.json"))
    assert configs
    for path in configs:
        broker = json.loads(path.read_text())["broker"]
        assert broker["username"] == path.stem and "password" not in broker
        assert Path(broker["password_file"]).stat().st_mode & 0o077 == 0
