"""The telemetry store: where readings go, behind one small interface.

The SQL backend keeps readings in the relational database (the embedded
default). Writes happen inside the caller's transaction so a batch, its dedupe
key and its readings commit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from ingest.checks import AcceptedReading
from ingest.tables import LatestValue, reading_table


class TelemetryStore(Protocol):
    def write(self, conn: Connection, readings: Sequence[AcceptedReading]) -> int: ...

    def series(
        self, conn: Connection, device_id: str, metric: str, start_ms: int, end_ms: int
    ) -> list[tuple[int, float]]: ...


def _rows(readings: Iterable[AcceptedReading]) -> list[dict]:
    return [
        {"device_id": r.device_id, "metric": metric, "ts": r.ts, "value": float(value)}
        for r in readings
        for metric, value in r.metrics.items()
    ]


class SqlTelemetryStore:
    def write(self, conn: Connection, readings: Sequence[AcceptedReading]) -> int:
        rows = _rows(readings)
        if rows:
            conn.execute(reading_table.insert(), rows)
            upsert_latest(conn, rows)
        return len(rows)

    def series(
        self, conn: Connection, device_id: str, metric: str, start_ms: int, end_ms: int
    ) -> list[tuple[int, float]]:
        t = reading_table.c
        query = (
            select(t.ts, t.value)
            .where(t.device_id == device_id, t.metric == metric, t.ts >= start_ms, t.ts < end_ms)
            .order_by(t.ts)
        )
        return [(ts, value) for ts, value in conn.execute(query)]


def upsert_latest(conn: Connection, rows: list[dict]) -> None:
    """Keep the newest value per (device, metric); an older, late reading never wins."""
    newest: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row["device_id"], row["metric"])
        if key not in newest or row["ts"] >= newest[key]["ts"]:
            newest[key] = row
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    table = LatestValue.__table__
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["device_id", "metric"],
        set_={"ts": stmt.excluded.ts, "value": stmt.excluded.value},
        where=stmt.excluded.ts >= table.c.ts,
    )
    conn.execute(stmt, list(newest.values()))
