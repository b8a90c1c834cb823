"""Delivery through outages, kill -9 and a full disk, against a real Mosquitto and cloud.

"Every reading produced" is the driver's ledger (see edge_support); "stored in
the cloud" is what the real ingest stored, read back from its telemetry store.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from edge_support import (
    LedgerDriver,
    Recorder,
    agent_config,
    first_arrivals,
    read_ledger,
    running,
)

from edge_agent.agent import EdgeAgent
from edge_agent.edge_rules import EdgeRule
from edge_agent.settings import RunSettings
from support import RunningCloud, wait_until
from testing_support.broker_logins import password_file

HERE = Path(__file__).parent
OUTAGE_S = float(os.environ.get("FP_TEST_OUTAGE_S", "30"))


def stored_stamps(cloud: RunningCloud, device_id: str, metric: str) -> list[int]:
    """Timestamps the cloud stored for one device metric, duplicates included."""
    from ingest.telemetry_store import SqlTelemetryStore

    if hasattr(SqlTelemetryStore, "points"):  # the chunked store
        store = SqlTelemetryStore(cloud.system.engine)
        return [ts for ts, _ in store.points(device_id, metric, 0, 2**62)]
    with cloud.system.engine.connect() as conn:
        return [ts for ts, _ in SqlTelemetryStore().series(conn, device_id, metric, 0, 2**62)]


def check_each_reading_stored_once(cloud, values: dict, expected: set[int],
                                   uncertain: set[int] = frozenset()) -> None:
    for dev, metrics in values.items():
        for metric in metrics:
            stamps = stored_stamps(cloud, dev, metric)
            twice = [ts for ts, n in Counter(stamps).items() if n > 1]
            assert not twice, f"{dev}.{metric} stored twice: {twice[:5]}"
            stored = set(stamps)
            assert expected - uncertain <= stored, f"{dev}.{metric} lost {len(expected - stored)}"
            assert stored <= expected | uncertain, f"{dev}.{metric}: readings nobody produced"


def check_order_per_device(batches: list[dict]) -> None:
    """In the order the cloud first received them, every device's readings go forward."""
    last: dict[str, int] = {}
    for batch in first_arrivals(batches):
        for r in batch["readings"]:
            assert r["ts"] > last.get(r["dev"], -1), f"{r['dev']} went back in time"
            last[r["dev"]] = r["ts"]


def test_broker_down_for_30_s_every_reading_is_stored_once_and_in_order(
        cloud, mosquitto, gateway, tmp_path: Path) -> None:
    gw_id, values = gateway
    recorder = Recorder(mosquitto, [f"fp/v1/gw/{gw_id}/telemetry"])
    driver = LedgerDriver(values, tmp_path / "ledger")
    agent = EdgeAgent(agent_config(tmp_path, gw_id, mosquitto, cloud_acks=True,
                                   sample_period_s=0.2), driver)
    try:
        with running(agent):
            wait_until(lambda: len(recorder.telemetry()) >= 3, what="streaming")
            mosquitto.stop()
            wait_until(lambda: not agent.connected.is_set(), what="the agent to notice")
            before = len(driver.samples)
            time.sleep(OUTAGE_S)
            assert len(driver.samples) - before >= OUTAGE_S * 3  # sampling went on, offline
            assert agent.outbox.backlog_readings > 0
            mosquitto.start()
            wait_until(agent.connected.is_set, what="the agent to reconnect")
            wait_until(lambda: agent.outbox.backlog_readings < 3 * len(values),
                       what="the backlog to drain")
            time.sleep(1)  # live data after the drain
        ledger = set(read_ledger(tmp_path / "ledger"))
        dev, metric = next(_pairs(values))
        received = {r["ts"] for b in recorder.telemetry() for r in b["readings"]
                    if r["dev"] == dev}
        assert received >= ledger, f"{len(ledger - received)} readings never reached the broker"
        wait_until(lambda: set(stored_stamps(cloud, dev, metric)) >= ledger,
                   timeout_s=90, what="the cloud to store everything")
        check_each_reading_stored_once(cloud, values, ledger)
        check_order_per_device(recorder.telemetry())
    finally:
        recorder.close()


def _pairs(values: dict):
    return ((dev, metric) for dev, metrics in values.items() for metric in metrics)


def test_killed_with_kill_9_and_restarted_nothing_lost_nothing_twice(
        cloud, mosquitto, gateway, tmp_path: Path) -> None:
    gw_id, values = gateway
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({
        "gateway_id": gw_id, "state_dir": str(tmp_path / "edge"),
        "broker": {"port": mosquitto.port, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0,
                   "username": gw_id,
                   "password_file": str(password_file(mosquitto, gw_id, tmp_path))},
        "sampling": {"sample_period_s": 0.05, "batch_max_readings": 20, "batch_max_age_s": 0.2},
    }))
    (tmp_path / "values.json").write_text(json.dumps(values))
    ledger = tmp_path / "ledger"
    ledger.touch()
    command = [sys.executable, str(HERE / "agent_main.py"), str(config),
               str(tmp_path / "values.json"), str(ledger)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), str(HERE.parents[1])])}
    uncertain: set[int] = set()
    rng = random.Random(7)
    status = Recorder(mosquitto, [f"fp/v1/gw/{gw_id}/status"])
    for kill in range(4):
        proc = subprocess.Popen(command, env=env)
        start = len(read_ledger(ledger))
        wait_until(lambda s=start: len(read_ledger(ledger)) >= s + 10, what="sampling")
        wait_until(lambda k=kill: [s["state"] for s in status.on("/status")].count("online")
                   > k, what="the agent online")  # else there is no will to publish
        time.sleep(rng.uniform(0.2, 1.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The last sample before the kill may not have been committed yet.
        uncertain.add(read_ledger(ledger)[-1])
        # The broker publishes the agent's last will: the cloud sees it go.
        wait_until(lambda k=kill: [s["state"] for s in status.on("/status")].count("offline")
                   > k, what="the last will")
    status.close()
    proc = subprocess.Popen(command, env=env)
    # Count from this start: the ledger already holds the earlier runs' samples, and a
    # SIGTERM sent before the agent samples (so before its handler is set) would kill it.
    start = len(read_ledger(ledger))
    wait_until(lambda: len(read_ledger(ledger)) >= start + 10, what="sampling")
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    produced = set(read_ledger(ledger))
    dev, metric = next(_pairs(values))
    wait_until(lambda: set(stored_stamps(cloud, dev, metric)) >= produced - uncertain,
               timeout_s=60, what="the cloud to store every reading")
    check_each_reading_stored_once(cloud, values, produced, uncertain)


def test_past_the_disk_budget_the_oldest_are_evicted_and_the_count_is_reported(
        mosquitto, gateway, tmp_path: Path) -> None:
    gw_id, values = gateway
    config = agent_config(tmp_path, gw_id, mosquitto, outbox_max_bytes=160 << 10,
                          sample_period_s=0.02)
    mosquitto.stop()  # a long outage from the start
    driver = LedgerDriver(values, tmp_path / "ledger")
    agent = EdgeAgent(config, driver)
    with running(agent):
        wait_until(lambda: agent.outbox.evicted_readings > 200, what="evictions")
    evicted = agent.outbox.evicted_readings
    produced = read_ledger(tmp_path / "ledger")

    mosquitto.start()
    recorder = Recorder(mosquitto, [f"fp/v1/gw/{gw_id}/#"])
    try:
        agent = EdgeAgent(config, driver)  # same outbox, now with a broker
        driver.paused = True  # no new readings: what arrives is what was kept
        with running(agent):
            def received() -> list[dict]:
                return [r for b in first_arrivals(recorder.telemetry()) for r in b["readings"]]
            wait_until(lambda: len(received()) + evicted == len(produced) * len(values),
                       what="every kept reading")
            status = wait_until(lambda: [s for s in recorder.on("/status")
                                         if s["state"] == "online"], what="a birth")[-1]
        assert status["evicted"] == evicted  # reported to the cloud, exactly
        stamps = sorted({r["ts"] for r in received()})
        assert stamps == produced[len(produced) - len(stamps):]  # the newest, without a gap
        assert len(stamps) < len(produced)
    finally:
        recorder.close()


def test_a_critical_crossing_while_offline_is_published_first_on_reconnect(
        mosquitto, gateway, tmp_path: Path) -> None:
    gw_id, values = gateway
    dev = next(iter(values))
    metric = next(iter(values[dev]))
    recorder = Recorder(mosquitto, [f"fp/v1/gw/{gw_id}/telemetry"])
    driver = LedgerDriver(values)
    agent = EdgeAgent(agent_config(tmp_path, gw_id, mosquitto), driver)
    limit = values[dev][metric]
    agent.apply(RunSettings(1, 0.1, 20, 0.3, rules=(
        EdgeRule("too-high", metric, "above", limit + 1, limit + 0.5, "critical"),)))
    try:
        with running(agent):
            wait_until(lambda: len(recorder.telemetry()) >= 3, what="streaming")
            driver.paused = True
            wait_until(lambda: agent.outbox.backlog_readings == 0 and not agent.link._inflight,
                       what="everything sent")
            sent_before = len(recorder.telemetry())
            mosquitto.stop()
            wait_until(lambda: not agent.connected.is_set(), what="the agent to notice")
            driver.paused = False
            wait_until(lambda: agent.outbox.backlog_readings >= 10 * len(values),
                       what="a backlog")
            driver.override[dev] = {metric: limit + 5}
            wait_until(lambda: agent.outbox.backlog_readings >= 30 * len(values),
                       what="more backlog after the crossing")
            mosquitto.start()
            wait_until(lambda: len(recorder.telemetry()) > sent_before + 5, what="the drain")
        after = recorder.telemetry()[sent_before:]
        assert after[0]["readings"] == [
            {"dev": dev, "ts": after[0]["readings"][0]["ts"], "m": {**values[dev],
                                                                   metric: limit + 5}}]
        older = [b for b in after[1:] if b["seq"] < after[0]["seq"]]
        assert older, "the crossing overtook the backlog that was older"
    finally:
        recorder.close()
