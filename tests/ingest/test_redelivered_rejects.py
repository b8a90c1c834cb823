"""A rejected message the broker delivers again after a crash is not dead-lettered twice."""

from __future__ import annotations

from pathlib import Path

from ingest_helpers import make_pipeline, open_registry
from sqlalchemy import func, select

from firmware_contracts.topics import telemetry_topic
from ingest.tables import DeadLetter
from ingest.telemetry_store import SqlTelemetryStore
from simulators.fleet import generate_fleet


def test_a_redelivered_reject_is_a_duplicate_but_a_resent_one_is_kept(tmp_path: Path) -> None:
    fleet = generate_fleet(seed=11, sites=2)
    engine = open_registry(f"sqlite:///{tmp_path / 'db.sqlite'}", fleet)
    pipeline = make_pipeline(engine, SqlTelemetryStore(engine))
    topic = telemetry_topic(fleet.gateways[0].id)
    truncated = b'{"v": 1, "gw": "' + fleet.gateways[0].id.encode() + b'", "seq": 3, "rea'

    def dead_letters() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(DeadLetter)).scalar_one()

    assert [o.kind for o in pipeline.handle_many([(topic, truncated)])] == ["rejected"]
    # The broker redelivers it (DUP flag): committed before, acked never.
    again = pipeline.handle_many([(topic, truncated)], redelivered={0})
    assert [o.kind for o in again] == ["duplicate"]
    assert dead_letters() == 1
    stats = pipeline.stats.snapshot()
    assert stats["rejected_by_reason"] == {"contract": 1} and stats["batches_duplicate"] == 1
    # The same bad payload sent again by the gateway is a new event, kept and counted.
    assert [o.kind for o in pipeline.handle_many([(topic, truncated)])] == ["rejected"]
    assert dead_letters() == 2
