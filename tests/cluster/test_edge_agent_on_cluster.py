"""The edge agent on a NATS cluster: MQTT 3.1.1 (NATS has no MQTT 5), its first broker
down so it moves to a fallback node, its batches stored by a JetStream ingest worker and
acked back to it over the engine, so its outbox empties."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, text

from asset_registry.catalog import load_models, quiet_values
from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from fieldpulse.settings import Settings
from fieldpulse.system import IngestWorker
from foundations.processes import free_port
from ingest.consumer import BrokerAddress
from simulators.fleet import generate_fleet
from testing_support.chaos_rig import wait_for
from testing_support.cluster_rig import MODELS, stored_batches
from testing_support.ledger_agent import LedgerFileDriver
from testing_support.nats_cluster import NatsCluster


def test_the_edge_agent_fails_over_to_a_live_node_and_gets_its_cloud_acks(
        tmp_path: Path, nats_cluster: NatsCluster, registry: tuple[str, Engine]) -> None:
    url, engine = registry
    fleet = generate_fleet(seed=23, sites=6)
    gateway = fleet.gateways[0]
    devices = fleet.devices_of(gateway.id)
    values = {d.id: quiet_values(MODELS[d.model_id]) for d in devices}
    ledger = tmp_path / "gw" / "ledger"
    ledger.parent.mkdir()
    worker = IngestWorker(Settings(data_dir=tmp_path / "cloud", database_url=url,
                                   device_stale_after_s=0),
                          BrokerAddress(), models=load_models(), engine=engine,
                          jetstream=nats_cluster.urls)
    worker.start()
    stop = threading.Event()
    try:
        wait_for(worker.ingest.consumer.connected.is_set, 60, "the worker's partitions")
        config = AgentConfig(
            gateway_id=gateway.id, state_dir=tmp_path / "gw" / "state",
            broker_port=free_port(),  # nothing listens there: a dead first node
            broker_fallbacks=tuple(f"{h}:{p}" for h, p in nats_cluster.mqtt_endpoints),
            mqtt_version="3.1.1", sample_period_s=0.1, batch_max_age_s=0.3,
            reconnect_min_s=0.1, reconnect_max_s=0.5)
        agent = EdgeAgent(config, LedgerFileDriver(values, ledger))
        thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
        thread.start()
        wait_for(lambda: stored_batches(engine) >= 5, 60, "batches stored through NATS")
        (ledger.parent / "paused").touch()  # the driver stops producing
        wait_for(lambda: agent.outbox.backlog_readings == 0, 60,
                 "the cloud's acks to empty the outbox")
        samples = len(ledger.read_text().split())
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT coalesce(sum(readings), 0) FROM ingested_batch"
                                       )).scalar_one()
        assert stored == samples * len(devices)
        assert agent.link.stats.connect_failures >= 1  # it did start on the dead node
    finally:
        stop.set()
        worker.stop()
