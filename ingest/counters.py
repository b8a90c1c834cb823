"""Ingest's counters in the database (`IngestCounter`): each commit adds what it counted
in the same transaction, so the counts continue across restarts exactly — never counted
for a group that rolled back, never lost for one that committed."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, insert, select, update

from foundations.database import table_of
from ingest.tables import IngestCounter

_TABLE = table_of(IngestCounter)


def saved_counts(conn: Connection) -> dict[str, int]:
    return {name: value for name, value in conn.execute(select(_TABLE.c.name, _TABLE.c.value))}


def add_counts(conn: Connection, delta: Mapping[str, int]) -> None:
    """Add to the stored counters, creating those not stored yet. An update first, so
    concurrent ingest processes add rather than overwrite."""
    for name, n in sorted(delta.items()):  # one order: no deadlock between two processes
        if n == 0:
            continue
        done = conn.execute(update(_TABLE).where(_TABLE.c.name == name)
                            .values(value=_TABLE.c.value + n))
        if done.rowcount == 0:
            conn.execute(insert(_TABLE).values(name=name, value=n))
