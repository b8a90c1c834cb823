"""Ingest's persistent session belongs to the cloud's account: no gateway can take it over
(the broker takes the username as the client id), and upgrading from the anonymous broker
of earlier versions keeps what the broker had queued in it."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from ingest_helpers import MODELS, make_pipeline, open_registry, stored_batches
from publishing import batch, normal_metrics, topic
from sqlalchemy import Engine

from fieldpulse.broker import MosquittoBroker, find_mosquitto
from foundations.processes import terminate, wait_for_port
from foundations.workers import Supervisor
from ingest.consumer import BrokerAddress, IngestConsumer
from ingest.pipeline import IngestPipeline
from ingest.telemetry_store import SqlTelemetryStore
from simulators.fleet import Fleet
from support import Session, wait_until
from testing_support.broker_logins import address, login


def _batches(fleet: Fleet, count: int) -> tuple[str, list[bytes]]:
    gateway = fleet.gateways[1].id
    device = fleet.devices_of(gateway)[0]
    now = int(time.time() * 1000)
    m = normal_metrics(MODELS[device.model_id])
    return gateway, [batch(gateway, seq, [{"dev": device.id, "ts": now + seq, "m": m}], now)
                     for seq in range(count)]


class Ingest:
    """The ingest consumer as the cloud runs it, started and stopped at will."""

    def __init__(self, pipeline: IngestPipeline, broker: BrokerAddress) -> None:
        self.consumer = IngestConsumer(pipeline, broker)
        self._supervisor = Supervisor([self.consumer]).start()
        wait_until(self.consumer.connected.is_set, what="ingest to subscribe")

    def stop(self) -> None:
        self._supervisor.stop()


@pytest.fixture
def registry(tmp_path: Path, fleet: Fleet) -> Iterator[tuple[Engine, IngestPipeline]]:
    engine = open_registry(f"sqlite:///{tmp_path / 'db.sqlite'}", fleet)
    yield engine, make_pipeline(engine, SqlTelemetryStore(engine))
    engine.dispose()


def test_a_gateway_cannot_take_over_the_clouds_session_or_the_queue_in_it(
        mosquitto: MosquittoBroker, registry, fleet: Fleet) -> None:
    engine, pipeline = registry
    cloud = address(mosquitto)
    attacker = fleet.gateways[0].id
    gateway, payloads = _batches(fleet, 4)
    ingest = Ingest(pipeline, cloud)
    # While ingest is connected: logging in with its client id does not kick it off.
    thief = Session(mosquitto.port, *login(mosquitto, attacker), client_id=cloud.username)
    assert thief.refused is None
    time.sleep(1)
    assert ingest.consumer.connected.is_set()
    assert f"Client {cloud.username} already connected" not in mosquitto.log()
    thief.close()
    ingest.stop()  # away (a restart, an upgrade): the broker queues for its session

    sender = Session(mosquitto.port, *login(mosquitto, gateway))
    for payload in payloads:
        sender.publish(topic(gateway), payload)
    sender.close()
    # The same client id with a clean start would have thrown the queue away.
    thief = Session(mosquitto.port, *login(mosquitto, attacker), client_id=cloud.username)
    thief.subscribe("fp/v1/gw/+/telemetry")
    time.sleep(1)
    assert thief.received == []
    thief.close()

    ingest = Ingest(pipeline, cloud)
    try:
        wait_until(lambda: stored_batches(engine) == 4, what="the 4 queued batches")
    finally:
        ingest.stop()


def _anonymous_broker(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    """Mosquitto as FieldPulse ran it before accounts: anonymous, no ACL."""
    binary = find_mosquitto()
    assert binary is not None
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "mosquitto-before.conf"
    conf.write_text("\n".join([
        f"listener {port} 127.0.0.1", "allow_anonymous true",
        *(["user root"] if os.geteuid() == 0 else []),
        "persistence true", f"persistence_location {data_dir}/", "",
    ]))
    process = subprocess.Popen([binary, "-c", str(conf)])
    wait_for_port(port)
    return process


def test_the_upgrade_to_accounts_keeps_the_session_ingest_had_queued(
        tmp_path: Path, registry, fleet: Fleet) -> None:
    engine, pipeline = registry
    broker = MosquittoBroker(tmp_path / "broker")
    old = _anonymous_broker(broker.data_dir, broker.port)
    try:
        ingest = Ingest(pipeline, BrokerAddress("127.0.0.1", broker.port))  # anonymous
        ingest.stop()
        gateway, payloads = _batches(fleet, 4)
        sender = Session(broker.port, None)
        for payload in payloads:
            sender.publish(topic(gateway), payload)
        sender.close()
    finally:
        terminate(old)  # Mosquitto writes the queued session to its persistence file

    # The new version: accounts, the cloud's named like ingest's client id.
    cloud = address(broker)
    broker.start()
    try:
        anonymous = Session(broker.port, None)
        anonymous.close()
        assert anonymous.refused is not None  # no more
        ingest = Ingest(pipeline, cloud)
        try:
            wait_until(lambda: stored_batches(engine) == 4, what="the queued batches")
            assert sorted(orjson.loads(p)["seq"] for p in payloads) == [0, 1, 2, 3]
        finally:
            ingest.stop()
    finally:
        broker.stop()
