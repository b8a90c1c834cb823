"""The dedupe key (gateway, epoch, seq) and the acks that name it, on the pipeline alone.

A gateway whose outbox was lost numbers from 0 again under a new epoch: its batches are
new. A batch without an epoch (an older gateway) is keyed with the empty one, as before.
Every committed batch (stored, duplicate, dead-lettered) is named in its gateway's ack.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from ingest_helpers import MODELS, make_pipeline, open_registry
from publishing import normal_metrics, topic
from sqlalchemy import Engine, select
from sqlmodel import Session

from firmware_contracts.validate import load
from ingest.acks import ack_messages
from ingest.pipeline import IngestPipeline
from ingest.tables import DeadLetter, IngestedBatch
from ingest.telemetry_store import SqlTelemetryStore
from simulators.fleet import Fleet

OLD, NEW = "a" * 32, "b" * 32


@pytest.fixture
def world(tmp_path: Path, fleet: Fleet) -> Iterator[tuple[Engine, IngestPipeline, str, str,
                                                          dict[str, float]]]:
    engine = open_registry(f"sqlite:///{tmp_path / 'db.sqlite'}", fleet)
    gateway = fleet.gateways[0].id
    device = fleet.devices_of(gateway)[0]
    yield (engine, make_pipeline(engine, SqlTelemetryStore(engine)), gateway, device.id,
           normal_metrics(MODELS[device.model_id]))
    engine.dispose()


def telemetry(gw: str, seq: int, dev: str, m: dict[str, float], ts: int,
              epoch: str | None) -> bytes:
    doc: dict[str, object] = {"v": 1, "gw": gw}
    if epoch is not None:
        doc["epoch"] = epoch
    doc |= {"seq": seq, "sent": ts, "readings": [{"dev": dev, "ts": ts, "m": m}]}
    return orjson.dumps(doc)


def test_the_same_seq_under_a_new_epoch_is_a_new_batch(world) -> None:
    engine, pipeline, gw, dev, m = world
    now = int(time.time() * 1000)
    first = pipeline.handle_many([(topic(gw), telemetry(gw, 0, dev, m, now - 9000, OLD))])
    # The outbox was lost: seq 0 again, other readings, a new epoch.
    again = pipeline.handle_many([(topic(gw), telemetry(gw, 0, dev, m, now, NEW)),
                                  (topic(gw), telemetry(gw, 0, dev, m, now - 9000, OLD))])
    assert [o.kind for o in first + again] == ["stored", "stored", "duplicate"]
    with Session(engine) as s:
        keys = {(b.epoch, b.seq) for b in s.exec(select(IngestedBatch)).scalars()}
    assert keys == {(OLD, 0), (NEW, 0)}


def test_a_batch_without_an_epoch_is_deduplicated_as_before(world) -> None:
    engine, pipeline, gw, dev, m = world
    now = int(time.time() * 1000)
    payload = telemetry(gw, 5, dev, m, now, None)
    outcomes = pipeline.handle_many([(topic(gw), payload), (topic(gw), payload)])
    assert [(o.kind, o.epoch, o.seq) for o in outcomes] == [("stored", None, 5),
                                                            ("duplicate", None, 5)]
    with Session(engine) as s:
        assert [(b.epoch, b.seq) for b in s.exec(select(IngestedBatch)).scalars()] == [("", 5)]


def test_a_conflict_under_one_epoch_keeps_both_versions(world) -> None:
    engine, pipeline, gw, dev, m = world
    now = int(time.time() * 1000)
    stored = telemetry(gw, 3, dev, m, now - 5000, NEW)
    other = telemetry(gw, 3, dev, m, now, NEW)
    outcomes = pipeline.handle_many([(topic(gw), stored)]) + pipeline.handle_many(
        [(topic(gw), other)])
    assert [o.kind for o in outcomes] == ["stored", "rejected"]
    assert SqlTelemetryStore(engine).points(dev, next(iter(m)), 0, 2**53) == [
        (now - 5000, next(iter(m.values())))]  # the first version, stored
    with Session(engine) as s:
        (letter,) = s.exec(select(DeadLetter)).scalars()
    assert letter.kind == "conflicting_duplicate" and f"epoch '{NEW}'" in letter.reason
    assert orjson.loads(letter.payload) == orjson.loads(other)  # the second, kept


def test_every_committed_batch_is_acked_to_its_gateway_by_its_key(world) -> None:
    _, pipeline, gw, dev, m = world
    now = int(time.time() * 1000)
    bad = orjson.dumps({"v": 1, "gw": gw, "epoch": NEW, "seq": 9, "sent": now,
                        "readings": [{"dev": dev, "ts": "soon", "m": m}]})
    outcomes = pipeline.handle_many([
        (topic(gw), telemetry(gw, 7, dev, m, now, NEW)),
        (topic(gw), telemetry(gw, 7, dev, m, now, NEW)),
        (topic(gw), bad),  # dead-lettered: kept, so acked too
        (topic(gw), b"not json"),  # no key to ack by
        (topic(gw, "status"), orjson.dumps({"v": 1, "gw": gw, "state": "offline",
                                            "ts": now})),
    ])
    assert [o.kind for o in outcomes] == ["stored", "duplicate", "rejected", "rejected",
                                          "status"]
    ((ack_to, payload),) = ack_messages(outcomes)
    assert ack_to == f"fp/v1/gw/{gw}/ack"
    assert load("ack", payload)["acks"] == [
        {"seq": 7, "epoch": NEW, "outcome": "stored"},
        {"seq": 7, "epoch": NEW, "outcome": "duplicate"},
        {"seq": 9, "epoch": NEW, "outcome": "dead_lettered"},
    ]
