"""Two ingest workers sharing the gateways store the same readings and raise the same alerts
as one worker, because each gateway (hence each device) belongs to exactly one worker."""

from __future__ import annotations

from pathlib import Path

from ingest_helpers import MODELS, Stream, open_registry, stored_batches
from publishing import Publisher
from sqlalchemy import Engine
from sqlmodel import Session, select

from fieldpulse.broker import MosquittoBroker
from fieldpulse.settings import Settings
from fieldpulse.system import IngestWorker
from ingest.consumer import Partition, ingest_client_id
from ingest.telemetry_store import SqlTelemetryStore
from rules.tables import Alert
from support import wait_until
from testing_support.broker_logins import address


def _alerts(engine: Engine) -> list[tuple]:
    with Session(engine) as s:
        return sorted((a.device_id, a.rule_id, a.raised_at, a.state, a.cleared_at)
                      for a in s.exec(select(Alert)))


def _workers(tmp: Path, name: str, broker: MosquittoBroker, fleet, count: int
             ) -> tuple[Engine, list[IngestWorker]]:
    url = f"sqlite:///{tmp / f'{name}.db'}"
    engine = open_registry(url, fleet)
    workers = [
        IngestWorker(Settings(data_dir=tmp / name, database_url=url, ingest_partition=i,
                              ingest_partitions=count, device_stale_after_s=0),
                     address(broker, ingest_client_id(Partition(i, count))), models=MODELS,
                     engine=engine)
        for i in range(count)
    ]
    for w in workers:
        w.start()
    for w in workers:
        wait_until(w.ingest.consumer.connected.is_set, what=f"{name} to subscribe")
    return engine, workers


def test_two_workers_store_the_same_readings_and_alerts_as_one(
        tmp_path: Path, mosquitto: MosquittoBroker, fleet) -> None:
    # Each gateway's devices breach their first rule for a few batches, then recover.
    stream = Stream(fleet, batches_per_gateway=30, readings_per_batch=10)
    stream.breach_at = {(gw.id, seq) for gw in fleet.gateways for seq in (5, 6, 7, 20)}
    one_engine, one = _workers(tmp_path, "one", mosquitto, fleet, 1)
    two_engine, two = _workers(tmp_path, "two", mosquitto, fleet, 2)
    publisher = Publisher(mosquitto)
    try:
        publisher.publish_all(stream.messages())  # both set-ups receive every message
        total = len(fleet.gateways) * stream.batches_per_gateway
        for engine in (one_engine, two_engine):
            wait_until(lambda e=engine: stored_batches(e) == total, what="every batch stored")
    finally:
        publisher.close()
        for w in one + two:
            w.stop()

    # The gateways really were shared: each of the two workers stored some, not all.
    shares = [w.ingest.pipeline.stats.batches_stored for w in two]
    assert sum(shares) == total and all(0 < s < total for s in shares)
    owners = {gw.id: [Partition(i, 2).owns(gw.id) for i in range(2)] for gw in fleet.gateways}
    assert all(sum(o) == 1 for o in owners.values())

    alerts = _alerts(one_engine)
    assert alerts == _alerts(two_engine)
    # One raise and one clear per episode: two episodes per device (seq 5-7 and seq 20).
    assert len(alerts) == 2 * len(fleet.devices)
    assert {state for *_, state, _ in alerts} == {"cleared"}
    one_store, two_store = SqlTelemetryStore(one_engine), SqlTelemetryStore(two_engine)
    for device in fleet.devices:
        for metric in MODELS[device.model_id].attributes:
            assert one_store.points(device.id, metric, 0, 2**53) \
                == two_store.points(device.id, metric, 0, 2**53)
    one_engine.dispose()
    two_engine.dispose()
