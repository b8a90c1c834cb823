"""`fieldpulse bench ingest`: the ingest tier's throughput against its ceiling, side by side.

One run starts its own Mosquitto per phase and several publisher processes that
publish v1 telemetry batches from simulated gateways at full speed (QoS 1). It
measures, on the same machine in the same run:

(a) the ceiling: a bare paho subscriber in this process that only decodes
    (orjson) and counts readings;
(b) FieldPulse's ingest in this process (one consumer, the fast path, dedupe,
    threshold rules, device state) storing end to end, for each backend.

Rates are readings from the start of publishing until the last one is
received (a) or stored (b); the ratio is b/a. Latency is from a reading's
timestamp (set when its batch is published) to the commit that stored it.
This is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import paho.mqtt.client as mqtt
import typer
from paho.mqtt.enums import CallbackAPIVersion
from rich.console import Console
from rich.table import Table

from fieldpulse.broker import MosquittoBroker
from firmware_contracts.topics import TELEMETRY_FILTER, telemetry_topic
from testing_support.broker_logins import login

BACKENDS = ("sqlite", "postgresql", "victoriametrics")


@dataclass(frozen=True, slots=True)
class Workload:
    gateways: dict[str, list[tuple[str, dict[str, float]]]]  # gateway -> (device, normal m)
    batches_per_gateway: int
    readings_per_batch: int

    @property
    def total_readings(self) -> int:
        return len(self.gateways) * self.batches_per_gateway * self.readings_per_batch


def _publisher(port: int, auth: tuple[str, str],
               gateways: dict[str, list[tuple[str, dict[str, float]]]],
               batches: int, per_batch: int, go: Any, done: Any,
               rate: float | None = None) -> None:
    """Publish `batches` rounds (one batch per gateway each); at full speed, or paced to
    `rate` readings/s so that latency is measured without a backlog."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(*auth)
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    topics = {gw: telemetry_topic(gw) for gw in gateways}
    go.wait()
    start = time.perf_counter()
    last = None
    for seq in range(batches):
        if rate:
            due = start + seq * per_batch * len(gateways) / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        for gw, devices in gateways.items():
            now = int(time.time() * 1000)
            # One reading per device and instant (a second would be a duplicate_reading).
            readings = [{"dev": devices[i % len(devices)][0], "ts": now - i // len(devices),
                         "m": devices[i % len(devices)][1]} for i in range(per_batch)]
            body = orjson.dumps({"v": 1, "gw": gw, "seq": seq, "sent": now,
                                 "readings": readings})
            last = client.publish(topics[gw], body, qos=1)
    if last is not None:
        last.wait_for_publish(timeout=600)
    client.disconnect()
    client.loop_stop()
    done.set()


@contextmanager
def _publishers(broker: MosquittoBroker, work: Workload, processes: int,
                rate: float | None = None) -> Iterator[Callable[[], float]]:
    """Start publisher processes ready to go; yields `go()` which starts them all."""
    ctx = mp.get_context("fork")
    go = ctx.Event()
    names = sorted(work.gateways)
    procs = []
    for i in range(processes):
        share = {gw: work.gateways[gw] for gw in names[i::processes]}
        if share:
            # Each publishes for several gateways: a cloud account of its own.
            auth = login(broker, f"fieldpulse-bench-publisher-{i}")
            p = ctx.Process(target=_publisher, daemon=True, args=(
                broker.port, auth, share, work.batches_per_gateway, work.readings_per_batch,
                go, ctx.Event(), rate / processes if rate else None))
            p.start()
            procs.append(p)
    time.sleep(0.5)  # connected and waiting

    def start() -> float:
        t0 = time.perf_counter()
        go.set()
        return t0

    try:
        yield start
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()


def _percentile(samples: list[tuple[int, int]], q: float) -> float:
    total = sum(n for _, n in samples)
    if not total:
        return float("nan")
    rank, seen = q * total, 0
    for lag, n in sorted(samples):
        seen += n
        if seen >= rank:
            return float(lag)
    return float(samples[-1][0])


def _wait(what: str, done: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"benchmark timed out waiting for {what}")
        time.sleep(0.005)


def measure_ceiling(tmp: Path, work: Workload, publishers: int) -> float:
    broker = MosquittoBroker(tmp / "broker-ceiling").start()  # a fresh broker, no backlog
    try:
        count = [0]
        last = [0.0]
        subscribed = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-ceiling",
                             protocol=mqtt.MQTTv5)
        client.username_pw_set(*login(broker, "fieldpulse-bench-ceiling"))

        def on_message(_c, _u, msg) -> None:
            count[0] += len(orjson.loads(msg.payload)["readings"])
            last[0] = time.perf_counter()

        client.on_message = on_message
        client.on_subscribe = lambda *_: subscribed.set()
        client.connect("127.0.0.1", broker.port)
        client.subscribe(TELEMETRY_FILTER, qos=1)
        client.loop_start()
        subscribed.wait(10)
        with _publishers(broker, work, publishers) as go:
            t0 = go()
            _wait("the bare subscriber", lambda: count[0] >= work.total_readings, 600)
        client.disconnect()
        client.loop_stop()
        return count[0] / (last[0] - t0)
    finally:
        broker.stop()


def measure_ingest(tmp: Path, work: Workload, publishers: int, backend: str,
                   fleet: Any, stack: ExitStack, rules: bool = True,
                   rate: float | None = None, acks: bool = True) -> dict[str, float]:
    from asset_registry.catalog import load_models
    from fieldpulse.fleet_import import import_fleet
    from fieldpulse.settings import Settings
    from fieldpulse.system import IngestWorker, open_database
    from ingest.consumer import ConsumerTuning
    from testing_support.broker_logins import address
    from testing_support.servers import PostgresServer, VictoriaMetricsServer

    data_dir = tmp / (f"data-{backend}-{'rules' if rules else 'norules'}-{rate or 'max'}"
                      f"{'' if acks else '-noacks'}")
    database_url = None
    vm_url = ""
    if backend == "postgresql":
        pg = PostgresServer().start()
        stack.callback(pg.remove)
        database_url = pg.url
    elif backend == "victoriametrics":
        vm = VictoriaMetricsServer(tmp / f"vm-{data_dir.name}").start()
        stack.callback(vm.stop)
        vm_url = vm.url
    settings = Settings(data_dir=data_dir, database_url=database_url,
                        telemetry_backend="victoriametrics" if vm_url else "sql",
                        victoriametrics_url=vm_url, device_stale_after_s=0)
    broker = MosquittoBroker(tmp / f"{data_dir.name}-broker").start()
    try:
        engine = open_database(settings)
        import_fleet(engine, fleet)
        worker = IngestWorker(settings, address(broker), models=load_models(), engine=engine,
                              evaluate_rules=rules,
                              tuning=ConsumerTuning(acknowledge_gateways=acks))
        stats = worker.ingest.pipeline.stats
        stats.lag_samples = []
        worker.start()
        _wait("ingest to subscribe", worker.ingest.consumer.connected.is_set, 30)
        with _publishers(broker, work, publishers, rate) as go:
            t0 = go()
            _wait(f"ingest ({backend}) to store everything",
                  lambda: stats.readings_stored >= work.total_readings, 1800)
            elapsed = time.perf_counter() - t0
        worker.stop()
        engine.dispose()
        samples = stats.lag_samples
        return {"readings_per_s": stats.readings_stored / elapsed,
                "stored": stats.readings_stored,
                "p50_ms": _percentile(samples, 0.50), "p99_ms": _percentile(samples, 0.99)}
    finally:
        broker.stop()


def bench_ingest(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    readings: Annotated[int, typer.Option(help="Readings published per phase.")] = 1_000_000,
    batch: Annotated[int, typer.Option(help="Readings per batch (v1 contract).")] = 100,
    sites: Annotated[int, typer.Option(help="Sites in the simulated fleet (gateways).")] = 8,
    publishers: Annotated[int, typer.Option(help="Publisher processes.")] = 2,
    backend: Annotated[list[str] | None, typer.Option(
        help="Backends to measure (repeatable): sqlite, postgresql, victoriametrics.")] = None,
    without_rules: Annotated[bool, typer.Option(
        "--without-rules", help="Also measure SQLite with rule evaluation off.")] = False,
    paced_rate: Annotated[int, typer.Option(
        help="Readings/s of the paced latency phase (0: half of each backend's measured "
             "rate). At full speed latency is mostly the backlog's queueing; paced, it is "
             "what a reading waits when ingest keeps up.")] = 0,
    paced_seconds: Annotated[float, typer.Option(help="Length of the paced phase.")] = 10.0,
) -> None:
    """Measure ingest readings/s per backend against a bare decoding subscriber."""
    from asset_registry.catalog import load_models, quiet_values
    from simulators.fleet import generate_fleet

    backends = backend or list(BACKENDS)
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        raise typer.BadParameter(f"unknown backend(s) {sorted(unknown)}; "
                                 f"choose from {', '.join(BACKENDS)}")
    models = load_models()
    fleet = generate_fleet(seed=7, sites=sites)
    gateways: dict[str, list[tuple[str, dict[str, float]]]] = {}
    for device in fleet.devices:
        gateways.setdefault(device.gateway_id, []).append(
            (device.id, quiet_values(models[device.model_id])))
    per_gateway = max(1, readings // (batch * len(gateways)))
    work = Workload(gateways, per_gateway, batch)
    console = Console(stderr=json_output)
    console.print(f"{work.total_readings:,} readings per phase from {len(gateways)} gateways "
                  f"in batches of {batch}, {publishers} publisher processes")
    tmp = Path(tempfile.mkdtemp(prefix="fieldpulse-bench-"))
    result: dict[str, Any] = {"readings": work.total_readings, "batch": batch,
                              "gateways": len(gateways)}
    try:
        with ExitStack() as stack:
            console.print("measuring (a) the bare-subscriber ceiling ...")
            before = measure_ceiling(tmp / "before", work, publishers)
            measured: dict[str, dict[str, float]] = {}
            for name in backends:
                console.print(f"measuring (b) ingest into {name} ...")
                measured[name] = measure_ingest(tmp, work, publishers, name, fleet, stack)
                rate = paced_rate or max(1000, round(measured[name]["readings_per_s"] / 2, -3))
                rounds = max(1, int(rate * paced_seconds) // (batch * len(gateways)))
                console.print(f"measuring latency of {name} paced at {rate:,.0f} readings/s ...")
                paced = measure_ingest(tmp, Workload(gateways, rounds, batch), publishers, name,
                                       fleet, stack, rate=rate)
                measured[name].update(paced_rate=rate, paced_p50_ms=paced["p50_ms"],
                                      paced_p99_ms=paced["p99_ms"])
            if "sqlite" in backends:
                # What the end-to-end acks cost ingest: the same phase without them.
                console.print("measuring (b) ingest into sqlite without acks to gateways ...")
                measured["sqlite_without_acks"] = measure_ingest(
                    tmp, work, publishers, "sqlite", fleet, stack, acks=False)
                backends = [*backends, "sqlite_without_acks"]
            if without_rules:
                console.print("measuring (b) ingest into sqlite, rules off ...")
                measured["sqlite_without_rules"] = measure_ingest(
                    tmp, work, publishers, "sqlite", fleet, stack, rules=False)
                backends = [*backends, "sqlite_without_rules"]
            # The machine's load drifts: measure the ceiling again and compare with the mean.
            console.print("measuring (a) the bare-subscriber ceiling again ...")
            after = measure_ceiling(tmp / "after", work, publishers)
            ceiling = (before + after) / 2
            result["ceiling_readings_per_s"] = round(ceiling)
            result["ceiling_before_after"] = [round(before), round(after)]
            for name, m in measured.items():
                result[name] = {"readings_per_s": round(m["readings_per_s"]),
                                "ratio": round(m["readings_per_s"] / ceiling, 3),
                                "p50_ms": m["p50_ms"], "p99_ms": m["p99_ms"]}
                if "paced_rate" in m:
                    result[name].update(paced_rate=m["paced_rate"],
                                        paced_p50_ms=m["paced_p50_ms"],
                                        paced_p99_ms=m["paced_p99_ms"])
            if "sqlite_without_acks" in measured:
                result["acks_cost_ratio"] = round(
                    measured["sqlite"]["readings_per_s"]
                    / measured["sqlite_without_acks"]["readings_per_s"], 3)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if json_output:
        print(orjson.dumps(result).decode())
        return
    table = Table(title="ingest throughput (same run, same machine)")
    for column in ("phase", "readings/s", "ratio", "p50 ms", "p99 ms",
                   "paced at /s", "paced p50 ms", "paced p99 ms"):
        table.add_column(column, justify="right")
    table.add_row("(a) ceiling, before", f"{before:,.0f}")
    table.add_row("(a) ceiling, after", f"{after:,.0f}")
    table.add_row("(a) ceiling (mean)", f"{ceiling:,.0f}", "1.000")
    for name in backends:
        r = result[name]
        paced = ((f"{r['paced_rate']:,.0f}", f"{r['paced_p50_ms']:.0f}",
                  f"{r['paced_p99_ms']:.0f}") if "paced_rate" in r else ("", "", ""))
        table.add_row(f"(b) {name}", f"{r['readings_per_s']:,}", f"{r['ratio']:.3f}",
                      f"{r['p50_ms']:.0f}", f"{r['p99_ms']:.0f}", *paced)
    Console(width=max(console.width, 110)).print(table)
    if "acks_cost_ratio" in result:
        Console().print(f"SQLite with acks to gateways / without: {result['acks_cost_ratio']}")
