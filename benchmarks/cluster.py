"""`fieldpulse bench cluster`: ingest through a 3-node NATS JetStream engine on loopback.

Phases, each on a fresh PostgreSQL database and the same engine cluster:

- `workers_1`, `workers_2`: the ingest workers (own processes, `--jetstream`) are started,
  lease the partitions, and are then frozen (SIGSTOP: their leases stay held); the
  gateways publish the whole backlog QoS 1; the workers are thawed (SIGCONT) and timed
  until every batch is stored. readings/s is ingest draining the engine, publishers idle.
- `baseline_sqlite_pipeline`: the same batches through one in-process `IngestPipeline` on
  SQLite, groups of 64, no broker at all: the single-process figure the cluster is set
  against (`fieldpulse bench ingest` measures the single process with Mosquitto).
- `failover`: two workers, paced gateways; one engine node is killed (`node_failover_s`:
  until every gateway that was on it has a PUBACK from another node), then a worker
  (`worker_takeover_s`: until the survivor leases every partition); `lost` and
  `duplicated` count each device's stored readings against the gateways' plans.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer


def _registry(pg: Any, name: str, fleet: Any) -> tuple[str, Any]:
    import psycopg

    from fieldpulse.fleet_import import import_fleet
    from fieldpulse.schema import upgrade
    from foundations.database import make_engine

    with psycopg.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg.url.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    import_fleet(engine, fleet)
    return url, engine


def _drain_phase(work: Path, pg: Any, nats: Any, fleet: Any, workers: int, batches: int,
                 readings: int) -> dict[str, Any]:
    from testing_support.chaos_rig import wait_for
    from testing_support.cluster_rig import (
        ClusterWorker,
        FailoverGateway,
        count_stored,
        lease_holders,
        leases,
        plans,
        stored_batches,
    )

    url, engine = _registry(pg, f"bench_w{workers}", fleet)
    procs = [ClusterWorker(f"w{workers}-{i}", work, url, nats.urls).start()
             for i in range(workers)]
    try:
        wait_for(lambda: lease_holders(engine) == workers and len(leases(engine)) == 16,
                 90, f"{workers} worker(s) leasing the partitions")
        time.sleep(2 * 1.0)  # a rebalance or two: each holds its fair share
        for p in procs:
            os.kill(p.pid, signal.SIGSTOP)
        plan_list = plans(fleet, batches, readings)
        gateways = [FailoverGateway(p, nats.mqtt_endpoints, first=i)
                    for i, p in enumerate(plan_list)]
        for g in gateways:
            g.start()
        for g in gateways:
            g.join()
        total = sum(p.batches for p in plan_list)
        started = time.monotonic()
        for p in procs:
            os.kill(p.pid, signal.SIGCONT)
        wait_for(lambda: stored_batches(engine) >= total, 600, "backlog stored")
        elapsed = time.monotonic() - started
        missing, duplicated, _ = count_stored(engine, plan_list)
        stored = total * readings
        return {"workers": workers, "readings": stored, "seconds": round(elapsed, 2),
                "readings_per_s": round(stored / elapsed), "lost": missing,
                "duplicated": duplicated}
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGCONT)
            p.stop()
        engine.dispose()


def _baseline(work: Path, fleet: Any, batches: int, readings: int) -> dict[str, Any]:
    from asset_registry.catalog import load_models
    from fieldpulse.fleet_import import import_fleet
    from fieldpulse.schema import upgrade
    from foundations.database import make_engine
    from ingest.device_directory import DeviceDirectory
    from ingest.pipeline import IngestPipeline
    from ingest.telemetry_store import SqlTelemetryStore
    from notifications.alert_notices import record_alert_notice
    from rules.service import RulesService
    from service.alert_cases import open_alert_work_order
    from testing_support.cluster_rig import plans

    engine = make_engine(f"sqlite:///{work / 'baseline.db'}")
    upgrade(engine)
    import_fleet(engine, fleet)
    models = load_models()
    rules = RulesService(engine, models, open_alert_work_order,
                         record_notice=record_alert_notice)
    pipeline = IngestPipeline(engine, DeviceDirectory(engine, models), SqlTelemetryStore(engine),
                              on_readings=rules.on_blocks)
    messages = [(f"fp/v1/gw/{p.gateway_id}/telemetry", p.payload(s))
                for s in range(batches) for p in plans(fleet, batches, readings)]
    started = time.monotonic()
    for i in range(0, len(messages), 64):
        pipeline.handle_many(messages[i:i + 64])
    elapsed = time.monotonic() - started
    engine.dispose()
    return {"readings": len(messages) * readings, "seconds": round(elapsed, 2),
            "readings_per_s": round(len(messages) * readings / elapsed)}


def _failover_phase(work: Path, pg: Any, nats: Any, fleet: Any) -> dict[str, Any]:
    from testing_support.chaos_rig import wait_for
    from testing_support.cluster_rig import (
        ClusterWorker,
        FailoverGateway,
        count_stored,
        lease_holders,
        leases,
        plans,
    )

    url, engine = _registry(pg, "bench_failover", fleet)
    procs = [ClusterWorker(f"f-{i}", work, url, nats.urls).start() for i in range(2)]
    try:
        wait_for(lambda: lease_holders(engine) == 2 and len(leases(engine)) == 16, 90,
                 "two workers leasing the partitions")
        plan_list = plans(fleet, batches=60, readings=50)
        gateways = [FailoverGateway(p, nats.mqtt_endpoints, pace_s=0.05, first=i)
                    for i, p in enumerate(plan_list)]
        for g in gateways:
            g.start()
        wait_for(lambda: sum(g.sent for g in gateways) > 100, 60, "publishing under way")
        victim = 1
        on_victim = [g for g in gateways if g.endpoints[g._endpoint][1]
                     == nats.nodes[victim].mqtt_port]
        before = {id(g): g.sent for g in on_victim}
        nats.kill(victim)
        killed = time.monotonic()
        wait_for(lambda: all(g.sent > before[id(g)] + 1 or g.sent == g.plan.batches
                             for g in on_victim), 60, "gateways of the dead node publishing")
        node_failover_s = time.monotonic() - killed
        procs[0].kill9()
        killed = time.monotonic()
        wait_for(lambda: lease_holders(engine) == 1 and len(leases(engine)) == 16, 60,
                 "the survivor leasing every partition")
        worker_takeover_s = time.monotonic() - killed
        for g in gateways:
            g.join()
        wait_for(lambda: count_stored(engine, plan_list)[0] == 0, 120, "everything stored")
        missing, duplicated, _ = count_stored(engine, plan_list)
        nats.restart(victim)
        return {"node_failover_s": round(node_failover_s, 2),
                "gateways_on_killed_node": len(on_victim),
                "worker_takeover_s": round(worker_takeover_s, 2),
                "lost": missing, "duplicated": duplicated}
    finally:
        for p in procs:
            p.stop()
        engine.dispose()


def bench_cluster(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    batches: Annotated[int, typer.Option(help="Batches per gateway in the drain phases.")] = 100,
    readings: Annotated[int, typer.Option(help="Readings per batch.")] = 100,
    sites: Annotated[int, typer.Option(help="Sites in the simulated fleet.")] = 8,
) -> None:
    """Cluster ingest: readings/s with 1 and 2 workers, the single-process SQLite
    baseline, failover times, lost and duplicated readings."""
    from simulators.fleet import generate_fleet
    from testing_support.nats_cluster import NatsCluster
    from testing_support.servers import PostgresServer

    fleet = generate_fleet(seed=7, sites=sites)
    work = Path(tempfile.mkdtemp(prefix="fp-bench-cluster-"))
    pg = PostgresServer().start()
    nats = NatsCluster(size=3, base_dir=work / "nats").start()
    result: dict[str, Any] = {"load_average": os.getloadavg()[0]}
    try:
        for n in (1, 2):
            result[f"workers_{n}"] = _drain_phase(work, pg, nats, fleet, n, batches, readings)
        result["baseline_sqlite_pipeline"] = _baseline(work, fleet, batches, readings)
        result["failover"] = _failover_phase(work, pg, nats, fleet)
        result["lost"] = sum(result[k]["lost"] for k in ("workers_1", "workers_2", "failover"))
        result["duplicated"] = sum(result[k]["duplicated"]
                                   for k in ("workers_1", "workers_2", "failover"))
    finally:
        nats.remove()
        pg.remove()
        shutil.rmtree(work, ignore_errors=True)
    typer.echo(json.dumps(result) if json_output else json.dumps(result, indent=2))
