"""Gaps a gateway reports (`evicted`, `lost` in its status) are kept per gateway with their
time range, survive the next status overwriting the retained one, and reach /metrics."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
from ingest_helpers import make_pipeline, open_registry
from publishing import topic
from sqlalchemy import select
from sqlmodel import Session

from ingest.gaps import gap_totals
from ingest.metrics import IngestCollector, exposition, make_registry
from ingest.tables import GatewayGap
from ingest.telemetry_store import SqlTelemetryStore
from simulators.fleet import Fleet


def status(gw: str, ts: int, **counts: int) -> bytes:
    return orjson.dumps({"v": 1, "gw": gw, "state": "online", "ts": ts, "fw": "1",
                         "devices": [], **counts})


def test_each_growth_of_a_gateways_drop_counts_is_a_gap_with_its_time_range(
        tmp_path: Path, fleet: Fleet) -> None:
    engine = open_registry(f"sqlite:///{tmp_path / 'db.sqlite'}", fleet)
    pipeline = make_pipeline(engine, SqlTelemetryStore(engine))
    gw = fleet.gateways[0].id
    t = int(time.time() * 1000) - 60_000
    for ts, counts in [(t, {"evicted": 0}), (t + 1000, {"evicted": 120}),
                       (t + 2000, {"evicted": 120}), (t + 3000, {"evicted": 200, "lost": 7}),
                       (t + 4000, {"evicted": 30})]:  # a new outbox: counting from 0 again
        pipeline.handle_many([(topic(gw, "status"), status(gw, ts, **counts))])
    with Session(engine) as s:
        gaps = [(g.kind, g.readings, g.since_ts, g.until_ts)
                for g in s.exec(select(GatewayGap).order_by(GatewayGap.id)).scalars()]
    assert gaps == [("evicted", 120, None, t + 1000), ("evicted", 80, t + 1000, t + 3000),
                    ("lost", 7, None, t + 3000), ("evicted", 30, t + 3000, t + 4000)]
    with engine.connect() as conn:
        assert gap_totals(conn) == {(gw, "evicted"): 230, (gw, "lost"): 7}

    def totals() -> dict[tuple[str, str], int]:
        with engine.connect() as conn:
            return gap_totals(conn)

    text = exposition(make_registry(IngestCollector(pipeline.stats, gaps=totals))).decode()
    assert (f'fieldpulse_gateway_gap_readings_total{{gateway="{gw}",kind="evicted"}} 230.0'
            in text)
    engine.dispose()
