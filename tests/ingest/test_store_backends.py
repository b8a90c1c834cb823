"""Every telemetry backend, for real: stored once, read back raw and downsampled, state kept."""

from __future__ import annotations

import orjson
from ingest_helpers import (
    MODELS,
    Backend,
    Stream,
    flush,
    make_pipeline,
    open_registry,
    stored_batches,
)
from publishing import batch, topic
from sqlmodel import Session, select

from asset_registry.tables import Device
from ingest.tables import LatestValue
from ingest.telemetry_store import SqlTelemetryStore


def test_batches_are_stored_once_and_read_back_exactly(backend: Backend, fleet) -> None:
    stream = Stream(fleet, batches_per_gateway=6, readings_per_batch=10)
    messages = stream.messages()
    pipeline = make_pipeline(backend.engine, backend.store)
    # Two groups (two transactions), then the whole stream again: a redelivery.
    pipeline.handle_many(messages[:7])
    pipeline.handle_many(messages[7:])
    again = pipeline.handle_many(messages)
    assert {o.kind for o in again} == {"duplicate"}
    flush(backend.store)

    stats = pipeline.stats.snapshot()
    assert stats["readings_stored"] == stream.total_readings
    assert stats["batches_duplicate"] == len(messages)
    assert stored_batches(backend.engine) == len(messages)
    expected: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for _, payload in messages:
        for r in orjson.loads(payload)["readings"]:
            for metric, value in r["m"].items():
                expected.setdefault((r["dev"], metric), []).append((r["ts"], value))
    for device in fleet.devices:
        for metric in MODELS[device.model_id].attributes:
            points = backend.store.points(device.id, metric, 0, 2**53)
            assert points == sorted(expected[(device.id, metric)]), (device.id, metric)


def test_range_queries_downsample_to_min_max_mean_per_bucket(backend: Backend, fleet) -> None:
    gw = fleet.gateways[0]
    device = fleet.devices_of(gw.id)[0]
    metric, attribute = next(iter(MODELS[device.model_id].attributes.items()))
    base = 1_700_000_000_000 - 1_700_000_000_000 % 60_000  # aligned to the minute
    # Three one-minute buckets; no point falls on a bucket boundary.
    values = {0: [1.0, 2.0, 6.0], 1: [4.0], 2: [3.0, 5.0]}
    readings = [{"dev": device.id, "ts": base + minute * 60_000 + 1_000 + i * 7_000,
                 "m": {metric: attribute.min + v}}
                for minute, vs in values.items() for i, v in enumerate(vs)]
    pipeline = make_pipeline(backend.engine, backend.store)
    outcome = pipeline.handle(topic(gw.id), batch(gw.id, 1, readings))
    assert outcome.kind == "stored" and outcome.stored == 6
    flush(backend.store)

    buckets = backend.store.buckets(device.id, metric, base, base + 3 * 60_000, 60_000)
    low = attribute.min
    assert [(b.start - base, b.n, b.min - low, b.max - low, round(b.mean - low, 6))
            for b in buckets] == [
        (0, 3, 1.0, 6.0, 3.0), (60_000, 1, 4.0, 4.0, 4.0), (120_000, 2, 3.0, 5.0, 4.0)]
    # A window that covers only the middle bucket.
    middle = backend.store.buckets(device.id, metric, base + 60_000, base + 120_000, 60_000)
    assert [(b.start - base, b.n) for b in middle] == [(60_000, 1)]


def test_latest_values_and_last_seen_are_device_state(backend: Backend, fleet) -> None:
    gw = fleet.gateways[3]
    device = fleet.devices_of(gw.id)[0]
    metric = next(iter(MODELS[device.model_id].attributes))
    low = MODELS[device.model_id].attributes[metric].min
    pipeline = make_pipeline(backend.engine, backend.store)
    t0 = 1_700_000_000_000  # ingest refuses timestamps before 2020 (a clock never set)
    newer = [{"dev": device.id, "ts": t0 + 2_000, "m": {metric: low + 2}},
             {"dev": device.id, "ts": t0 + 3_000, "m": {metric: low + 3}}]
    older = [{"dev": device.id, "ts": t0 + 1_000, "m": {metric: low + 1}}]
    pipeline.handle(topic(gw.id), batch(gw.id, 1, newer))
    pipeline.handle(topic(gw.id), batch(gw.id, 2, older))  # late: must not win

    with Session(backend.engine) as s:
        latest = s.exec(select(LatestValue).where(LatestValue.device_id == device.id)).all()
        assert [(v.metric, v.ts - t0, v.value) for v in latest] == [(metric, 3_000, low + 3)]
        row = s.get(Device, device.id)
        assert row.last_seen - t0 == 3_000 and row.online


def test_sql_retention_folds_old_chunks_into_hourly_rollups(tmp_path, fleet) -> None:

    engine = open_registry(f"sqlite:///{tmp_path / 'r.db'}", fleet)
    store = SqlTelemetryStore(engine)
    gw = fleet.gateways[0]
    device = fleet.devices_of(gw.id)[0]
    metric = next(iter(MODELS[device.model_id].attributes))
    low = MODELS[device.model_id].attributes[metric].min
    hour = 3_600_000
    # Hours counted from t0 (ingest refuses timestamps before 2020: a clock never set).
    t0 = 1_700_000_000_000 - 1_700_000_000_000 % hour
    pipeline = make_pipeline(engine, store)
    # Two hours of old data in two batches, then one recent batch.
    pipeline.handle(topic(gw.id), batch(gw.id, 1, [
        {"dev": device.id, "ts": t0 + 10 * hour + i * 60_000, "m": {metric: low + i}}
        for i in range(4)]))
    pipeline.handle(topic(gw.id), batch(gw.id, 2, [
        {"dev": device.id, "ts": t0 + 11 * hour + 5, "m": {metric: low + 10}}]))
    pipeline.handle(topic(gw.id), batch(gw.id, 3, [
        {"dev": device.id, "ts": t0 + 20 * hour, "m": {metric: low + 7}}]))
    before = store.buckets(device.id, metric, t0, t0 + 30 * hour, hour)

    folded, dropped = store.compact(raw_before_ms=t0 + 15 * hour, rollups_before_ms=0)
    assert (folded, dropped) == (2, 0)
    # Raw points older than the cut are gone; the hourly view is unchanged.
    assert [ts - t0 for ts, _ in store.points(device.id, metric, t0, t0 + 30 * hour)] \
        == [20 * hour]
    after = store.buckets(device.id, metric, t0, t0 + 30 * hour, hour)
    assert after == before
    assert [((b.start - t0) // hour, b.n) for b in after] == [(10, 4), (11, 1), (20, 1)]
    # Rollup retention: hour 10 goes, hour 11 stays.
    assert store.compact(raw_before_ms=t0 + 15 * hour,
                         rollups_before_ms=t0 + 11 * hour) == (0, 1)
    assert [(b.start - t0) // hour
            for b in store.buckets(device.id, metric, t0, t0 + 30 * hour, hour)] == [11, 20]
