"""What a gateway (or whoever speaks for it) cannot make ingest believe: a reading from
before the clock was set, a status from the far future, a second batch under a stored seq.
Each is dead-lettered with its reason, counted, listed and exported, never stored."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from ingest_helpers import MODELS, make_pipeline, open_registry
from publishing import batch, normal_metrics, topic
from sqlalchemy import Engine, func, select, update
from sqlmodel import Session

from asset_registry.tables import Gateway
from ingest.checks import EARLIEST_TS_MS
from ingest.metrics import IngestCollector, exposition, make_registry
from ingest.pipeline import IngestPipeline
from ingest.tables import DeadLetter, IngestedBatch
from ingest.telemetry_store import SqlTelemetryStore
from portal.app import create_app
from portal.context import PortalContext
from simulators.fleet import Fleet
from support import make_account

MAX_JSON_INT = 2**53 - 1


@dataclass
class World:
    engine: Engine
    pipeline: IngestPipeline
    gateway: str
    device: str
    metrics: dict[str, float]


@pytest.fixture
def world(tmp_path: Path, fleet: Fleet) -> Iterator[World]:
    engine = open_registry(f"sqlite:///{tmp_path / 'db.sqlite'}", fleet)
    gateway = fleet.gateways[0].id
    device = fleet.devices_of(gateway)[0]
    yield World(engine, make_pipeline(engine, SqlTelemetryStore(engine)), gateway, device.id,
                normal_metrics(MODELS[device.model_id]))
    engine.dispose()


def _letters(engine: Engine) -> list[DeadLetter]:
    with Session(engine) as s:
        return list(s.exec(select(DeadLetter).order_by(DeadLetter.id)).scalars())


def _stored_readings(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.sum(IngestedBatch.readings), 0))
                            ).scalar_one()


def _exported(pipeline: IngestPipeline) -> str:
    return exposition(make_registry(IngestCollector(pipeline.stats))).decode()


def _listed(engine: Engine) -> list[dict]:
    app = create_app(PortalContext(engine=engine, models=MODELS))
    admin = make_account(engine, "admin")
    with TestClient(app) as client:
        return client.get("/api/dead-letters", headers=admin.headers).json()


def test_readings_stamped_at_0_or_in_1971_are_dead_lettered_not_stored(world: World) -> None:
    now = int(time.time() * 1000)
    year_1971 = 31_536_000_000 + 86_400_000
    sent = [batch(world.gateway, seq, [{"dev": world.device, "ts": ts, "m": world.metrics}], now)
            for seq, ts in ((1, 0), (2, year_1971), (3, EARLIEST_TS_MS - 1))]
    good = batch(world.gateway, 4, [{"dev": world.device, "ts": now, "m": world.metrics}], now)
    outcomes = world.pipeline.handle_many([(topic(world.gateway), p) for p in [*sent, good]])

    assert [(o.stored, o.rejected) for o in outcomes] == [(0, 1), (0, 1), (0, 1), (1, 0)]
    assert _stored_readings(world.engine) == 1
    letters = _letters(world.engine)
    assert [(d.kind, d.field) for d in letters] == [("ancient_timestamp", "readings[0].ts")] * 3
    assert "before 1577836800000 (2020-01-01)" in letters[0].reason
    assert world.pipeline.stats.snapshot()["rejected_by_reason"] == {"ancient_timestamp": 3}
    assert 'fieldpulse_ingest_rejected_total{reason="ancient_timestamp",worker="0"} 3.0' in \
        _exported(world.pipeline)


def _status(gateway: str, ts: int, state: str = "online") -> bytes:
    return orjson.dumps({"v": 1, "gw": gateway, "state": state, "ts": ts, "fw": "1.0",
                         "devices": []})


def _gateway(engine: Engine, gateway_id: str) -> Gateway:
    with Session(engine) as s:
        found = s.get(Gateway, gateway_id)
        assert found is not None
        return found


def test_a_status_from_the_far_future_is_refused_and_cannot_freeze_a_gateway(
        world: World) -> None:
    status_topic = topic(world.gateway, "status")
    now = int(time.time() * 1000)
    forged = world.pipeline.handle_many([(status_topic, _status(world.gateway, MAX_JSON_INT,
                                                                 "offline"))])
    assert [o.kind for o in forged] == ["rejected"]
    letters = _letters(world.engine)
    assert [(d.kind, d.field) for d in letters] == [("future_timestamp", "ts")]
    assert world.pipeline.stats.snapshot()["rejected_by_reason"] == {"future_timestamp": 1}
    # Retained, it comes again at every subscribe: kept once.
    again = world.pipeline.handle_many([(status_topic, _status(world.gateway, MAX_JSON_INT,
                                                                "offline"))])
    assert [o.kind for o in again] == ["duplicate"] and len(_letters(world.engine)) == 1

    # The gateway's real status still counts.
    assert [o.kind for o in world.pipeline.handle_many(
        [(status_topic, _status(world.gateway, now))])] == ["status"]
    assert _gateway(world.engine, world.gateway).online

    # A gateway frozen before the upgrade (status_ts far in the future) thaws at its next
    # real status.
    with world.engine.begin() as conn:
        conn.execute(update(Gateway).where(Gateway.id == world.gateway)
                     .values(status_ts=MAX_JSON_INT, online=False))
    world.pipeline.handle_many([(status_topic, _status(world.gateway, now + 1000))])
    thawed = _gateway(world.engine, world.gateway)
    assert thawed.online and thawed.status_ts == now + 1000


def test_a_second_batch_under_a_stored_seq_with_other_content_is_a_visible_conflict(
        world: World) -> None:
    now = int(time.time() * 1000)
    gw, dev, m = world.gateway, world.device, world.metrics

    def readings(ts: int) -> list[dict]:
        return [{"dev": dev, "ts": ts, "m": m}, {"dev": dev, "ts": ts + 1, "m": m}]

    claimed = batch(gw, 7, readings(now - 5000), now - 5000)  # whoever took seq 7 first
    real = batch(gw, 7, readings(now), now)  # the gateway's own batch 7
    assert world.pipeline.handle_many([(topic(gw), claimed)])[0].kind == "stored"

    # An identical redelivery stays a plain duplicate, also when the gateway publishes it
    # again later (only `sent` differs) and when two copies share one group.
    resent = batch(gw, 7, readings(now - 5000), now)
    again = world.pipeline.handle_many([(topic(gw), claimed), (topic(gw), resent)])
    assert [o.kind for o in again] == ["duplicate", "duplicate"]

    conflict = world.pipeline.handle_many([(topic(gw), real)])
    assert [(o.kind, o.rejected) for o in conflict] == [("rejected", 2)]
    assert _stored_readings(world.engine) == 2  # the first batch 7 only

    letters = _letters(world.engine)
    assert [(d.kind, d.field, d.topic) for d in letters] == [
        ("conflicting_duplicate", "seq", topic(gw))]
    assert f"seq 7 of gateway '{gw}' was already stored with other content" in letters[0].reason
    assert orjson.loads(letters[0].payload) == orjson.loads(real)  # kept to look at
    stats = world.pipeline.stats.snapshot()
    assert stats["rejected_by_reason"] == {"conflicting_duplicate": 1}
    assert stats["batches_duplicate"] == 2 and stats["batches_rejected"] == 1
    assert stats["readings_rejected"] == 2
    assert ('fieldpulse_ingest_rejected_total{reason="conflicting_duplicate",worker="0"} 1.0'
            in _exported(world.pipeline))
    assert [(d["kind"], d["field"]) for d in _listed(world.engine)] == [
        ("conflicting_duplicate", "seq")]

    # Two different batches 8 in one group: the first is stored, the second conflicts.
    both = world.pipeline.handle_many([(topic(gw), batch(gw, 8, readings(now + 10), now)),
                                       (topic(gw), batch(gw, 8, readings(now + 20), now))])
    assert [o.kind for o in both] == ["stored", "rejected"]
    # The broker redelivering the conflict (DUP flag) does not dead-letter it twice.
    redelivered = world.pipeline.handle_many([(topic(gw), real)], redelivered={0})
    assert [o.kind for o in redelivered] == ["duplicate"]
    assert len(_letters(world.engine)) == 2


def test_a_batch_stored_before_digests_were_kept_is_still_a_plain_duplicate(
        world: World) -> None:
    now = int(time.time() * 1000)
    payload = batch(world.gateway, 3, [{"dev": world.device, "ts": now, "m": world.metrics}],
                    now)
    world.pipeline.handle(topic(world.gateway), payload)
    with world.engine.begin() as conn:  # as a row written before the migration
        conn.execute(update(IngestedBatch).values(payload_hash=None))
    other = batch(world.gateway, 3, [{"dev": world.device, "ts": now + 5, "m": world.metrics}],
                  now)
    assert world.pipeline.handle(topic(world.gateway), other).kind == "duplicate"
    assert _letters(world.engine) == []
