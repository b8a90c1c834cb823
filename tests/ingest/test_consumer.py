"""The consumer against a real Mosquitto: bad input, metrics, flow control, device presence."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from ingest_helpers import MODELS, make_pipeline, open_registry
from publishing import Publisher, batch, normal_metrics, topic
from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.tables import Device, Gateway
from fieldpulse.broker import MosquittoBroker
from fieldpulse.parts import Ingest
from fieldpulse.settings import Settings
from foundations.workers import Periodic, Supervisor
from ingest.consumer import ConsumerTuning, IngestConsumer
from ingest.device_state import mark_stale_devices
from ingest.metrics import IngestCollector, exposition, make_registry
from ingest.pipeline import IngestPipeline
from ingest.tables import DeadLetter
from ingest.telemetry_store import SqlTelemetryStore
from portal.app import create_app
from portal.context import PortalContext
from portal.routers import operations as metrics_route
from support import make_account, wait_until
from testing_support.broker_logins import address


@dataclass
class Running:
    engine: Engine
    pipeline: IngestPipeline
    consumer: IngestConsumer
    publisher: Publisher


@pytest.fixture
def running(tmp_path: Path, mosquitto: MosquittoBroker, fleet) -> Iterator[Running]:
    engine = open_registry(f"sqlite:///{tmp_path / 'c.db'}", fleet)
    pipeline = make_pipeline(engine, SqlTelemetryStore(engine))
    consumer = IngestConsumer(pipeline, address(mosquitto))
    supervisor = Supervisor([consumer]).start()
    wait_until(consumer.connected.is_set, what="ingest to subscribe")
    publisher = Publisher(mosquitto)
    yield Running(engine, pipeline, consumer, publisher)
    publisher.close()
    supervisor.stop()
    engine.dispose()


def _dead_letters(engine: Engine) -> list[DeadLetter]:
    with Session(engine) as s:
        return list(s.exec(select(DeadLetter).order_by(DeadLetter.id)).all())


def test_every_malformed_payload_is_dead_lettered_by_reason_and_ingest_keeps_going(
        running: Running, fleet) -> None:
    gw, other_gw = fleet.gateways[0], fleet.gateways[1]
    device = fleet.devices_of(gw.id)[0]
    foreign = fleet.devices_of(other_gw.id)[0]
    model = MODELS[device.model_id]
    good = normal_metrics(model)
    metric = next(iter(model.attributes))
    now = int(time.time() * 1000)

    def one(seq: int, **reading) -> bytes:
        return batch(gw.id, seq, [{"dev": device.id, "ts": now, "m": good, **reading}], now)

    bad = [
        # (payload, expected kind, expected field)
        (b'{"v": 1, "gw": "' + gw.id.encode() + b'", "seq": 1, "readi', "contract", "$"),
        (one(2, ts="yesterday"), "contract", "readings[0].ts"),
        (one(3, m={metric: "hot"}), "contract", f"readings[0].m.{metric}"),
        (batch(gw.id, 4, [{"dev": device.id, "ts": now, "m": good}] * 10_001), "contract",
         "readings"),
        (b"[" + b"1," * 4_500_000 + b"1]", "payload_too_large", "$"),
        (batch("gw-elsewhere", 5, [{"dev": device.id, "ts": now, "m": good}]), "contract", "gw"),
        (one(6, dev="dev-nobody"), "unknown_device", "readings[0].dev"),
        (one(7, dev=foreign.id), "foreign_device", "readings[0].dev"),
        (one(8, m={**good, "colour": 1.0}), "unknown_metric", "readings[0].m.colour"),
        (one(9, m={metric: model.attributes[metric].max + 1}), "out_of_range",
         f"readings[0].m.{metric}"),
        (one(10, ts=now + 3_600_000), "future_timestamp", "readings[0].ts"),
    ]
    running.publisher.publish_all([(topic(gw.id), payload) for payload, _, _ in bad])
    # A duplicate of a stored batch, then a good batch: both handled, nothing dead-lettered.
    running.publisher.publish_all([(topic(gw.id), one(11))] * 2 + [(topic(gw.id), one(12))])

    wait_until(lambda: running.pipeline.stats.batches_stored >= 7,
               what="the good and partly rejected batches")
    wait_until(lambda: len(_dead_letters(running.engine)) >= len(bad), what="dead letters")
    letters = _dead_letters(running.engine)
    assert [(d.kind, d.field) for d in letters] == [(k, f) for _, k, f in bad]
    assert all(d.reason and d.topic == topic(gw.id) for d in letters)
    assert "does not match the topic" in letters[5].reason
    assert len(letters[4].payload) <= 64 * 1024  # kept, but not whole
    stats = running.pipeline.stats.snapshot()
    assert stats["rejected_by_reason"] == {
        "contract": 5, "payload_too_large": 1, "unknown_device": 1, "foreign_device": 1,
        "unknown_metric": 1, "out_of_range": 1, "future_timestamp": 1}
    assert stats["batches_duplicate"] == 1
    assert stats["readings_stored"] == 2  # seq 11 once, seq 12
    assert running.consumer.connected.is_set()

    # Listed through the API, newest first.
    app = create_app(PortalContext(engine=running.engine, models=MODELS))
    admin = make_account(running.engine, "admin")
    with TestClient(app) as client:
        listed = client.get("/api/dead-letters", headers=admin.headers).json()
    assert [d["field"] for d in listed] == [f for _, _, f in reversed(bad)]


def test_metrics_endpoint_exposes_counters_rejects_by_reason_and_lag(running: Running, fleet
                                                                     ) -> None:
    gw = fleet.gateways[0]
    device = fleet.devices_of(gw.id)[0]
    good = normal_metrics(MODELS[device.model_id])
    now = int(time.time() * 1000)
    # Three instants: one device twice at one instant is a duplicate_reading now.
    three = [{"dev": device.id, "ts": now + i, "m": good} for i in range(3)]
    running.publisher.publish_all([
        (topic(gw.id), batch(gw.id, 1, three)),
        (topic(gw.id), batch(gw.id, 1, three)),
        (topic(gw.id), batch(gw.id, 2, [{"dev": "dev-nobody", "ts": now, "m": good}])),
    ])
    wait_until(lambda: running.pipeline.stats.batches_received >= 3, what="3 batches")
    registry = make_registry(IngestCollector(running.pipeline.stats,
                                             running.consumer.connected.is_set))
    app = create_app(PortalContext(engine=running.engine, models=MODELS,
                                   metrics=lambda: exposition(registry)))
    app.include_router(metrics_route.router)
    admin = make_account(running.engine, "admin")
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401  # token-protected
        response = client.get("/metrics", headers=admin.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = set(response.text.splitlines())
    assert 'fieldpulse_ingest_readings_stored_total{worker="0"} 3.0' in lines
    assert 'fieldpulse_ingest_batches_duplicate_total{worker="0"} 1.0' in lines
    assert 'fieldpulse_ingest_readings_duplicate_total{worker="0"} 3.0' in lines
    assert ('fieldpulse_ingest_rejected_total{reason="unknown_device",worker="0"} 1.0'
            in lines)
    assert 'fieldpulse_ingest_lag_seconds_count{worker="0"} 3.0' in lines
    assert 'fieldpulse_ingest_broker_connected{worker="0"} 1.0' in lines


class SlowStore(SqlTelemetryStore):
    """The real SQL store, slowed down, watching how much ingest holds in memory."""

    def __init__(self, engine: Engine, consumer_box: list) -> None:
        super().__init__(engine)
        self.box = consumer_box
        self.max_queued = 0

    def write(self, conn, batches):
        if self.box:
            self.max_queued = max(self.max_queued, self.box[0]._queue.qsize())
        time.sleep(0.05)
        return super().write(conn, batches)


def test_a_slow_store_slows_consumption_instead_of_growing_memory(
        tmp_path: Path, mosquitto: MosquittoBroker, fleet) -> None:
    engine = open_registry(f"sqlite:///{tmp_path / 'slow.db'}", fleet)
    box: list = []
    store = SlowStore(engine, box)
    pipeline = make_pipeline(engine, store)
    tuning = ConsumerTuning(receive_maximum=10, group_messages=2)
    consumer = IngestConsumer(pipeline, address(mosquitto),
                              tuning=tuning)
    box.append(consumer)
    supervisor = Supervisor([consumer]).start()
    publisher = Publisher(mosquitto)
    try:
        wait_until(consumer.connected.is_set, what="ingest to subscribe")
        gw = fleet.gateways[0]
        device = fleet.devices_of(gw.id)[0]
        good = normal_metrics(MODELS[device.model_id])
        now = int(time.time() * 1000)
        messages = [(topic(gw.id), batch(gw.id, seq, [{"dev": device.id, "ts": now + seq,
                                                       "m": good}])) for seq in range(120)]
        publisher.publish_all(messages)
        # Ingest stores 2 per 50 ms, far behind the publisher: the broker holds the backlog,
        # ingest at most its window.
        wait_until(lambda: pipeline.stats.batches_stored == len(messages), timeout_s=60,
                   what="every batch to be stored")
        assert 0 < store.max_queued <= tuning.receive_maximum
    finally:
        publisher.close()
        supervisor.stop()
        engine.dispose()


def test_devices_follow_gateway_birth_and_death_and_go_stale_when_silent(
        running: Running, fleet) -> None:
    gw = fleet.gateways[4]
    devices = [d.id for d in fleet.devices_of(gw.id)]
    now = int(time.time() * 1000)
    status = lambda state, ts: orjson.dumps(  # noqa: E731
        {"v": 1, "gw": gw.id, "state": state, "ts": ts, "fw": "1.0", "devices": devices}
        if state == "online" else {"v": 1, "gw": gw.id, "state": state, "ts": ts})

    def online() -> dict[str, bool]:
        with Session(running.engine) as s:
            return {d.id: d.online for d in s.exec(select(Device).where(Device.gateway_id
                                                                         == gw.id))}

    running.publisher.publish_all([(topic(gw.id, "status"), status("online", now))])
    wait_until(lambda: all(online().values()), what="birth to set devices online")
    # An older, replayed status changes nothing; the last will sets them offline.
    running.publisher.publish_all([(topic(gw.id, "status"), status("offline", now - 10)),
                                   (topic(gw.id, "status"), status("online", now - 5))])
    wait_until(lambda: running.pipeline.stats.status_messages >= 3, what="3 statuses")
    assert all(online().values())
    running.publisher.publish_all([(topic(gw.id, "status"), status("offline", now + 10))])
    wait_until(lambda: not any(online().values()), what="death to set devices offline")
    with Session(running.engine) as s:
        assert s.get(Gateway, gw.id).online is False

    # Readings bring one device back; silence past the limit makes it stale again.
    first = fleet.devices_of(gw.id)[0]
    good = normal_metrics(MODELS[first.model_id])
    running.publisher.publish_all([(topic(gw.id), batch(
        gw.id, 1, [{"dev": first.id, "ts": now - 60_000, "m": good}]))])
    wait_until(lambda: online()[first.id], what="a reading to set the device online")
    assert mark_stale_devices(running.engine, now, stale_after_ms=120_000) == 0
    assert mark_stale_devices(running.engine, now, stale_after_ms=30_000) == 1
    assert not online()[first.id]


def test_api_stats_and_metrics_are_wired_in_the_cloud_system(cloud) -> None:
    """CloudSystem hands the portal its ingest metrics (the route is mounted by the lead)."""
    text = cloud.system.metrics().decode()
    assert "fieldpulse_ingest_readings_stored_total" in text
    stats = httpx.get(f"{cloud.base_url}/api/ingest/stats", headers=cloud.auth,
                      timeout=10).json()
    assert stats["readings_stored"] == 0 and "lag_counts" in stats


def test_housekeeping_runs_as_supervised_workers_on_the_wall_clock(tmp_path: Path,
                                                                   mosquitto: MosquittoBroker,
                                                                   fleet) -> None:
    """Staleness and retention are workers of their own beside the consumer, each run
    on its own thread with the wall clock in ms."""
    engine = open_registry(f"sqlite:///{tmp_path / 'h.db'}", fleet)
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'h.db'}",
                        device_stale_after_s=60)
    ingest = Ingest(settings, address(mosquitto), engine, MODELS,
                    on_readings=None)
    assert [w.name for w in ingest.workers] == ["ingest", "stale-devices",
                                                "telemetry-retention"]
    calls: list[tuple[str, int]] = []
    step = Periodic("stale", lambda: calls.append((threading.current_thread().name,
                                                   int(time.time() * 1000))), 0.1)
    with Supervisor([ingest.consumer, step]):
        wait_until(lambda: len(calls) >= 3, what="three housekeeping runs")
    engine.dispose()
    assert {name for name, _ in calls} == {"stale"}
