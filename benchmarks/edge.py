"""`fieldpulse bench edge`: the agent's memory, CPU share and backlog drain rate.

One run, side by side on this machine, against a real Mosquitto started here:

1. Outage backlog: the agent's outbox is filled with `outage_s` seconds of the
   fleet's readings, exactly as an offline agent would have left it (same
   batches, same code path: `Outbox.stage` + `close_batches`, timestamps one
   sample period apart). Building it this way takes seconds instead of ten
   minutes; the agent cannot tell the difference.
2. The agent starts as its own process (`benchmarks.edge_worker`, synthetic
   driver) with the broker up: it drains the backlog oldest first while it keeps
   sampling live. A subscriber counts what arrives. Drain rate = backlog
   readings / time from the first to the last backlog batch received; the ratio
   is that over the live rate (devices x metrics... per second, in readings).
3. Live: once drained, the agent's RSS and CPU time are read with psutil over
   `live_s` seconds of steady streaming (CPU % of one core).

The drain runs twice in the same run: with end-to-end acks (the subscriber acks
each batch on the gateway's ack topic as the cloud does after its commit, so what
is measured is the agent's side of the protocol and the round trip), and the
previous way (`cloud_acks = false`: the broker's PUBACK deletes). `ack_cost_ratio`
is the drain rate with acks over the rate without.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

import orjson
import typer

from benchmarks import checkout_env

TARGETS = {"rss_mb": 60.0, "cpu_pct": 5.0, "drain_ratio": 20.0}


class _Counter:
    """Counts telemetry readings by seq (first arrival only, as ingest would)."""

    def __init__(self, port: int, gateway_id: str, auth: tuple[str, str],
                 ack: bool = False) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.first_at: dict[int, float] = {}
        self.readings: dict[int, int] = {}
        self.ready = threading.Event()
        self._ack = ack
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=auth[0],
                                   protocol=mqtt.MQTTv5)
        self._client.username_pw_set(*auth)
        self._client.on_connect = lambda c, *_: c.subscribe(
            f"fp/v1/gw/{gateway_id}/telemetry", qos=1)
        self._client.on_subscribe = lambda *_: self.ready.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def _on_message(self, _c, _u, msg) -> None:
        doc = orjson.loads(msg.payload)
        if doc["seq"] not in self.first_at:
            self.first_at[doc["seq"]] = time.monotonic()
            self.readings[doc["seq"]] = len(doc["readings"])
        if self._ack:  # as the cloud does once the batch is committed
            entry = {"seq": doc["seq"], "outcome": "stored"}
            if "epoch" in doc:
                entry["epoch"] = doc["epoch"]
            self._client.publish(msg.topic.removesuffix("telemetry") + "ack",
                                 orjson.dumps({"v": 1, "gw": doc["gw"], "acks": [entry]}), qos=1)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _fill_backlog(state_dir: Path, devices: int, metrics: int, seconds: int,
                  batch: int, max_bytes: int) -> tuple[int, int]:
    from benchmarks.edge_worker import SyntheticDriver
    from edge_agent.outbox import Outbox

    state_dir.mkdir(parents=True)
    driver = SyntheticDriver(devices, metrics)
    box = Outbox(state_dir / "outbox.sqlite3", max_bytes)
    start_ms = int(time.time() * 1000) - seconds * 1000
    for s in range(seconds):
        box.stage(driver.read(start_ms + s * 1000), max_readings=batch)
        if box.staged_readings >= batch:
            box.close_batches(batch)
    box.close_batches(batch)
    batches, readings = box.next_seq, box.backlog_readings
    box.close()
    return batches, readings


def _run_agent(work: Path, broker, devices: int, metrics: int, outage_s: int,
               live_s: float, cloud_acks: bool) -> dict:
    """One phase: fill the backlog, start the agent, time the drain; `live_s` > 0: then
    measure the agent's RSS and CPU while it streams live."""
    import psutil

    from testing_support.broker_logins import login, password_file

    gateway_id, batch = "gw-bench", 100
    phase = work / ("acks" if cloud_acks else "puback")
    config = phase / "gateway.json"
    phase.mkdir(parents=True)
    config.write_text(json.dumps({
        "gateway_id": gateway_id, "state_dir": str(phase / "edge"),
        "broker": {"port": broker.port, "username": gateway_id,
                   "password_file": str(password_file(broker, gateway_id, phase))},
        "sampling": {"sample_period_s": 1.0, "batch_max_readings": batch,
                     "batch_max_age_s": 2.0},
        "outbox": {"max_bytes": 512 * 1024 * 1024, "cloud_acks": cloud_acks},
    }))
    backlog_batches, backlog = _fill_backlog(phase / "edge", devices, metrics, outage_s, batch,
                                             512 * 1024 * 1024)
    counter = _Counter(broker.port, gateway_id,
                       login(broker, f"fieldpulse-bench-{phase.name}"), ack=cloud_acks)
    counter.ready.wait(10)
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.edge_worker", str(config),
                             str(devices), str(metrics)], env=checkout_env())
    result: dict = {}
    try:
        agent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 300
        while sum(1 for s in counter.first_at if s < backlog_batches) < backlog_batches:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the backlog did not drain")
            time.sleep(0.05)
        times = [counter.first_at[s] for s in range(backlog_batches)]
        drain_s = max(max(times) - min(times), 1e-3)
        result = {"backlog_readings": backlog, "backlog_batches": backlog_batches,
                  "drain_s": round(drain_s, 3), "drain_readings_per_s": round(backlog / drain_s)}
        if live_s > 0:
            time.sleep(2.0)  # settle: the last live batches after the drain
            cpu0, t0 = agent.cpu_times(), time.monotonic()
            live0 = sum(n for s, n in counter.readings.items() if s >= backlog_batches)
            time.sleep(live_s)
            cpu1, t1 = agent.cpu_times(), time.monotonic()
            live1 = sum(n for s, n in counter.readings.items() if s >= backlog_batches)
            cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
            result |= {"live_readings_per_s": round((live1 - live0) / (t1 - t0), 1),
                       "rss_mb": round(agent.memory_info().rss / 1e6, 1),
                       "cpu_pct": round(100 * cpu_s / (t1 - t0), 2)}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        counter.close()
    return result


def run_bench(devices: int, metrics: int, outage_s: int, live_s: float) -> dict:
    from fieldpulse.broker import MosquittoBroker

    work = Path(tempfile.mkdtemp(prefix="fp-bench-edge-"))
    broker = MosquittoBroker(work / "broker").start()
    try:
        before = _run_agent(work, broker, devices, metrics, outage_s, 0, cloud_acks=False)
        acked = _run_agent(work, broker, devices, metrics, outage_s, live_s, cloud_acks=True)
    finally:
        broker.stop()
    live_rate = devices / 1.0  # readings per second: one per device per 1 s sample
    return {
        "devices": devices, "metrics": metrics, "outage_s": outage_s, **acked,
        "drain_ratio": round(acked["drain_readings_per_s"] / live_rate, 1),
        "puback_drain_readings_per_s": before["drain_readings_per_s"],
        "ack_cost_ratio": round(acked["drain_readings_per_s"]
                                / before["drain_readings_per_s"], 3),
        "live_s": live_s,
    }


def bench_edge(
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    devices: Annotated[int, typer.Option(help="Devices behind the gateway.")] = 100,
    metrics: Annotated[int, typer.Option(help="Metrics per device.")] = 10,
    outage_s: Annotated[int, typer.Option(help="Length of the outage to drain (s).")] = 600,
    live_s: Annotated[float, typer.Option(help="Seconds of live streaming measured.")] = 30.0,
) -> None:
    """Edge agent: RSS, CPU share at 1 Hz, and backlog drain rate vs the live rate."""
    result = run_bench(devices, metrics, outage_s, live_s)
    if json_output:
        typer.echo(json.dumps(result))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("measure", "value", "target", title=(
        f"edge agent: {devices} devices x {metrics} metrics at 1 Hz, "
        f"{outage_s} s outage backlog"))
    table.add_row("resident memory (RSS)", f"{result['rss_mb']} MB", f"< {TARGETS['rss_mb']:g} MB")
    table.add_row("CPU share (one core)", f"{result['cpu_pct']} %", f"< {TARGETS['cpu_pct']:g} %")
    table.add_row("backlog drained", f"{result['backlog_readings']} readings in "
                  f"{result['drain_s']} s", "")
    table.add_row("drain rate / live rate", f"{result['drain_ratio']} x",
                  f">= {TARGETS['drain_ratio']:g} x")
    table.add_row("live rate received", f"{result['live_readings_per_s']} readings/s", "")
    table.add_row("drain without cloud acks (PUBACK deletes)",
                  f"{result['puback_drain_readings_per_s']} readings/s", "")
    table.add_row("drain with acks / without", f"{result['ack_cost_ratio']}", "")
    Console().print(table)
