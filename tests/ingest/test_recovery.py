"""Crashes mid-stream lose nothing and store nothing twice: ingest, PostgreSQL, the broker.

Ingest runs as its own process (`python -m fieldpulse.system`) so it can be killed
with SIGKILL; the publisher resends until the broker acknowledges, like a
gateway's outbox.
"""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest
from ingest_helpers import Stream, WorkerProcess, flush, open_registry, stored_batches
from publishing import Publisher
from sqlalchemy import Engine, func, select

from fieldpulse.broker import MosquittoBroker
from ingest.tables import IngestedBatch
from ingest.telemetry_store import SqlTelemetryStore, TelemetryStore, VictoriaMetricsStore
from support import wait_until
from testing_support.servers import PostgresServer


def assert_exactly_once(engine: Engine, store: TelemetryStore, stream: Stream) -> None:
    """Every published reading stored, none twice: per device and metric, point for point."""
    expected: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for _, payload in stream.messages():
        for r in orjson.loads(payload)["readings"]:
            for metric, value in r["m"].items():
                expected.setdefault((r["dev"], metric), []).append((r["ts"], value))
    flush(store)
    for (device_id, metric), points in expected.items():
        assert store.points(device_id, metric, 0, 2**53) == sorted(points), (device_id, metric)
    with engine.connect() as conn:
        total = conn.execute(select(func.sum(IngestedBatch.readings))).scalar_one()
    assert total == stream.total_readings


def _stream(fleet) -> Stream:
    return Stream(fleet, batches_per_gateway=80, readings_per_batch=25)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "victoriametrics"])
def test_ingest_killed_mid_stream_and_restarted_loses_nothing_and_stores_nothing_twice(
        backend: str, tmp_path: Path, mosquitto: MosquittoBroker, fleet, request) -> None:
    vm_url = ""
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'fieldpulse.db'}"
    engine = open_registry(url, fleet)
    store: TelemetryStore = SqlTelemetryStore(engine)
    if backend == "victoriametrics":
        vm_url = request.getfixturevalue("victoria").url
        store = VictoriaMetricsStore(vm_url)
    worker = WorkerProcess(tmp_path / "w", mosquitto, database_url=url,
                           backend="victoriametrics" if vm_url else "sql", vm_url=vm_url)
    worker.start().wait_connected()
    stream = _stream(fleet)
    messages = stream.messages()
    publisher = Publisher(mosquitto)
    killed = threading.Event()

    def kill_when_a_third_is_stored(i: int) -> None:
        if i == len(messages) // 2 and not killed.is_set():
            wait_until(lambda: stored_batches(engine) >= len(messages) // 3,
                       what="a third of the stream stored")
            worker.kill9()  # mid-stream: messages in flight, groups half done
            killed.set()

    try:
        publisher.publish_all(messages, between=kill_when_a_third_is_stored)
        assert killed.is_set()
        assert stored_batches(engine) < len(messages)  # the rest waits in the session
        worker.start().wait_connected()
        wait_until(lambda: stored_batches(engine) == len(messages), timeout_s=90,
                   what="every batch stored after the restart")
        assert_exactly_once(engine, store, stream)
    finally:
        publisher.close()
        worker.stop()
        engine.dispose()


def test_postgres_killed_mid_stream_loses_nothing(tmp_path: Path, mosquitto: MosquittoBroker,
                                                  fleet) -> None:
    pg = PostgresServer().start()
    try:
        engine = open_registry(pg.url, fleet)
        worker = WorkerProcess(tmp_path / "w", mosquitto, database_url=pg.url)
        worker.start().wait_connected()
        stream = _stream(fleet)
        messages = stream.messages()
        publisher = Publisher(mosquitto)

        def crash_database(i: int) -> None:
            if i == len(messages) // 2:
                wait_until(lambda: stored_batches(engine) >= len(messages) // 4,
                           what="a quarter stored")
                pg.kill()  # SIGKILL: ingest's transaction dies with it
                engine.dispose()
            if i == 3 * len(messages) // 4:
                pg.start()

        try:
            publisher.publish_all(messages, between=crash_database)
            wait_until(lambda: stored_batches(engine) == len(messages), timeout_s=90,
                       what="every batch stored once PostgreSQL is back")
            assert_exactly_once(engine, SqlTelemetryStore(engine), stream)
            # It really crashed (recovery at restart) and ingest really waited for it.
            assert "not properly shut down" in (pg.data_dir / "postgres.log").read_text()
            assert "event=store_unavailable" in worker.log.read_text()
        finally:
            publisher.close()
            worker.stop()
            engine.dispose()
    finally:
        pg.remove()


def test_a_restarted_broker_loses_nothing(tmp_path: Path, fleet) -> None:
    broker = MosquittoBroker(tmp_path / "broker").start()
    engine = open_registry(f"sqlite:///{tmp_path / 'fieldpulse.db'}", fleet)
    worker = WorkerProcess(tmp_path / "w", broker,
                           database_url=f"sqlite:///{tmp_path / 'fieldpulse.db'}")
    stream = _stream(fleet)
    messages = stream.messages()
    third = len(messages) // 3
    try:
        worker.start().wait_connected()
        publisher = Publisher(broker)
        publisher.publish_all(messages[:third])
        worker.stop()  # ingest away: the next third queues in its persistent session
        publisher.publish_all(messages[third:2 * third])
        publisher.close()
        broker.stop()  # the broker writes its persistence file on the way down ...
        broker.start()  # ... and reloads the queued session on the same port
        publisher = Publisher(broker)
        publisher.publish_all(messages[2 * third:])
        publisher.close()
        worker.start().wait_connected()
        wait_until(lambda: stored_batches(engine) == len(messages), timeout_s=90,
                   what="every batch stored after the broker restart")
        assert_exactly_once(engine, SqlTelemetryStore(engine), stream)
        log = broker.log()
        assert "New client connected" in log and "dropped" not in log.lower()
    finally:
        worker.stop()
        broker.stop()
        engine.dispose()


def test_victoriametrics_outage_mid_stream_loses_nothing(
        tmp_path: Path, mosquitto: MosquittoBroker, victoria, fleet) -> None:
    """Writes fail while the TSDB is down; ingest waits (no ack, no dead letter) and
    stores everything once it is back. (A SIGKILL would also lose VictoriaMetrics' own
    last in-memory second, which it acknowledged: see ingest/README.md.)"""
    url = f"sqlite:///{tmp_path / 'fieldpulse.db'}"
    engine = open_registry(url, fleet)
    worker = WorkerProcess(tmp_path / "w", mosquitto, database_url=url,
                           backend="victoriametrics", vm_url=victoria.url)
    worker.start().wait_connected()
    stream = _stream(fleet)
    messages = stream.messages()
    publisher = Publisher(mosquitto)

    def outage(i: int) -> None:
        if i == len(messages) // 3:
            wait_until(lambda: stored_batches(engine) >= len(messages) // 4,
                       what="a quarter stored")
            victoria.stop()
        if i == 2 * len(messages) // 3:
            # Keep the TSDB down until ingest has really hit the outage.
            wait_until(lambda: "event=store_unavailable" in worker.log.read_text(),
                       what="ingest to meet the outage")
            assert stored_batches(engine) < i  # ingest is waiting, not skipping
            victoria.start()

    try:
        publisher.publish_all(messages, between=outage)
        wait_until(lambda: stored_batches(engine) == len(messages), timeout_s=90,
                   what="every batch stored once VictoriaMetrics is back")
        assert_exactly_once(engine, VictoriaMetricsStore(victoria.url), stream)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM dead_letter").scalar_one() == 0
    finally:
        publisher.close()
        worker.stop()
        engine.dispose()
