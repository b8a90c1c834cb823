"""Ingest's counters (`/api/ingest/stats`, `/metrics`) continue across a restart: each
commit saves what it counted, and a new pipeline on the same database starts from there."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from ingest_helpers import MODELS, make_pipeline, open_registry
from publishing import batch, normal_metrics, topic
from sqlalchemy import Engine

from ingest.pipeline import IngestPipeline
from ingest.stats import StatsSnapshot
from ingest.telemetry_store import SqlTelemetryStore
from simulators.fleet import Fleet


def counts(pipeline: IngestPipeline) -> dict[str, object]:
    """The snapshot without the lag histogram, which describes the running process."""
    snap: StatsSnapshot = pipeline.stats.snapshot()
    return {k: v for k, v in snap.items() if not k.startswith("lag_")}


def traffic(engine: Engine, fleet: Fleet, seq: int) -> IngestPipeline:
    """A new pipeline on `engine` that stores a batch, sees it again, refuses an invalid
    topic and two undecodable payloads, and acks."""
    pipeline = make_pipeline(engine, SqlTelemetryStore(engine))
    gw = fleet.gateways[0].id
    device = fleet.devices_of(gw)[0]
    now = int(time.time() * 1000)
    good = batch(gw, seq, [{"dev": device.id, "ts": now, "m": normal_metrics(
        MODELS[device.model_id])}], now)
    pipeline.handle_many([(topic(gw), good), ("fp/v1/gw/gw.bad/telemetry", good)])
    pipeline.handle_many([(topic(gw), good), (topic(gw), b"{not json")])
    pipeline.stats.count_acks(1)
    # Another garbage status each time: the same one again is a replay, not counted twice.
    pipeline.handle_many([(topic(gw, "status"), b"{not json, %d" % seq)])
    return pipeline


def test_the_counts_continue_in_a_new_pipeline_on_the_same_database(
        tmp_path: Path, fleet: Fleet) -> None:
    engine = open_registry(f"sqlite:///{tmp_path / 'db.sqlite'}", fleet)
    first = counts(traffic(engine, fleet, seq=1))
    assert first["batches_stored"] == 1 and first["batches_duplicate"] == 1
    assert first["batches_acked"] == 1
    assert first["rejected_by_reason"] == {"invalid_topic": 1, "contract": 2}
    # A restart: a new pipeline, as `fieldpulse run` builds one, on the same database.
    assert counts(make_pipeline(engine, SqlTelemetryStore(engine))) == first
    # And it counts on from there: the same traffic once more (a new seq) doubles each.
    second = counts(traffic(engine, fleet, seq=2))
    reasons = first["rejected_by_reason"]
    assert isinstance(reasons, dict)
    assert second == {k: ({r: 2 * n for r, n in reasons.items()} if k == "rejected_by_reason"
                          else 2 * v) for k, v in first.items()}  # type: ignore[operator]
    engine.dispose()


def test_a_failed_commit_counts_nothing(tmp_path: Path, fleet: Fleet,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    engine = open_registry(f"sqlite:///{tmp_path / 'db.sqlite'}", fleet)
    pipeline = make_pipeline(engine, SqlTelemetryStore(engine))
    gw = fleet.gateways[0].id
    device = fleet.devices_of(gw)[0]
    now = int(time.time() * 1000)
    good = batch(gw, 1, [{"dev": device.id, "ts": now, "m": normal_metrics(
        MODELS[device.model_id])}], now)

    def broken(*_args: object) -> None:
        raise OSError("disk gone")

    pipeline.stats.count_acks(2)
    monkeypatch.setattr(pipeline, "_write_batches", broken)
    with pytest.raises(OSError):
        pipeline.handle_many([(topic(gw), good)])
    monkeypatch.undo()
    assert counts(make_pipeline(engine, SqlTelemetryStore(engine)))["batches_stored"] == 0
    # The acks counted before the failed commit are saved with the next one.
    pipeline.handle_many([(topic(gw), good)])
    saved = counts(make_pipeline(engine, SqlTelemetryStore(engine)))
    assert (saved["batches_stored"], saved["batches_acked"]) == (1, 2)
    engine.dispose()
