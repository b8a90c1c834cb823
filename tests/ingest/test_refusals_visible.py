"""Every refusal visible, nothing padded stored: an invalid topic, one device read twice at
one instant in a batch, a batch padded with whitespace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from ingest_helpers import MODELS, make_pipeline, open_registry
from publishing import batch, normal_metrics, topic
from sqlalchemy import Engine, select
from sqlmodel import Session

from ingest.pipeline import IngestPipeline
from ingest.tables import DeadLetter
from ingest.telemetry_store import SqlTelemetryStore
from simulators.fleet import Fleet


@pytest.fixture
def world(tmp_path: Path, fleet: Fleet) -> Iterator[tuple[Engine, IngestPipeline, str, str,
                                                          dict[str, float]]]:
    engine = open_registry(f"sqlite:///{tmp_path / 'db.sqlite'}", fleet)
    gateway = fleet.gateways[0].id
    device = fleet.devices_of(gateway)[0]
    yield (engine, make_pipeline(engine, SqlTelemetryStore(engine)), gateway, device.id,
           normal_metrics(MODELS[device.model_id]))
    engine.dispose()


def letters(engine: Engine) -> list[DeadLetter]:
    with Session(engine) as s:
        return list(s.exec(select(DeadLetter).order_by(DeadLetter.id)).scalars())


def test_a_topic_with_an_invalid_gateway_id_is_dead_lettered_with_the_reason(world) -> None:
    engine, pipeline, _gw, dev, m = world
    now = int(time.time() * 1000)
    payload = batch("gw.bad", 1, [{"dev": dev, "ts": now, "m": m}], now)
    (outcome,) = pipeline.handle_many([("fp/v1/gw/gw.bad/telemetry", payload)])
    assert outcome.kind == "rejected"
    (letter,) = letters(engine)
    assert (letter.kind, letter.field, letter.gateway_id) == ("invalid_topic", "topic", None)
    assert "'gw.bad'" in letter.reason and letter.payload == payload.decode()
    assert pipeline.stats.snapshot()["rejected_by_reason"] == {"invalid_topic": 1}
    # Topics outside the scheme stay ignored, as before.
    assert pipeline.handle_many([("homeassistant/status", b"x")])[0].kind == "ignored"


def test_one_device_twice_at_one_instant_in_a_batch_is_stored_once(world) -> None:
    engine, pipeline, gw, dev, m = world
    now = int(time.time() * 1000)
    twice = [{"dev": dev, "ts": now, "m": m}, {"dev": dev, "ts": now, "m": m},
             {"dev": dev, "ts": now + 1, "m": m}]
    (outcome,) = pipeline.handle_many([(topic(gw), batch(gw, 1, twice, now))])
    assert (outcome.kind, outcome.stored, outcome.rejected) == ("stored", 2, 1)
    metric = next(iter(m))
    assert [ts for ts, _ in SqlTelemetryStore(engine).points(dev, metric, 0, 2**53)] == [
        now, now + 1]
    (letter,) = letters(engine)
    assert (letter.kind, letter.field) == ("duplicate_reading", "readings[1].ts")


def test_a_padded_batch_is_stored_without_its_padding(world) -> None:
    engine, pipeline, gw, dev, m = world
    now = int(time.time() * 1000)
    compact = batch(gw, 1, [{"dev": dev, "ts": now, "m": m}], now)
    padded = compact[:-1] + b" " * 100_000 + b"}"
    (outcome,) = pipeline.handle_many([(topic(gw), padded)])
    assert outcome.kind == "stored"
    with engine.connect() as conn:
        (data,) = conn.exec_driver_sql("SELECT data FROM reading_chunk").scalars()
    assert len(data) < 1000
    assert orjson.loads(data)["readings"] == orjson.loads(compact)["readings"]
