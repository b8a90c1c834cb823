"""The outbox writer: a hook on every ORM session's flush that records each change of
a tracked table as an `outbox_event` row, on the flush's own connection, so the event
commits or rolls back with the change. No write path needs to know about it.

Only ORM writes are seen: a Core `update()` of a tracked table bypasses the hook.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, event, func, inspect, select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from foundations.clock import now_ms
from foundations.database import table_of
from integrations.domain_events.tables import OutboxEvent
from integrations.domain_events.tracking import SPECS, Tracking

OUTBOX: Table = table_of(OutboxEvent)


@dataclass(frozen=True, slots=True)
class Change:
    table: Table
    spec: Tracking
    record_id: Any
    verb: str  # created | updated | deleted (or the spec's verb for created)
    changed: tuple[str, ...]
    last_state: dict[str, Any] | None  # deleted rows only: read from the object


def install() -> None:
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


def _after_flush(session: Session, _flush_context: object) -> None:
    # Sorted: the session's sets have no order, the outbox should have one.
    changes = sorted(_changes(session), key=lambda c: (c.verb == "deleted",
                                                       c.spec.record_type, c.record_id))
    if changes:
        write(session.connection(), changes, now_ms())


def _changes(session: Session) -> Iterator[Change]:
    # In after_flush the new/dirty/deleted sets and attribute histories are still
    # those of the flush that just ran, and new rows have their ids.
    for obj in session.new:
        spec = SPECS.get(type(obj))
        if spec is not None:
            yield Change(_table(obj), spec, _pk(obj), spec.created, (), None)
    for obj in session.dirty:
        spec = SPECS.get(type(obj))
        if spec is None:
            continue
        state = inspect(obj)
        changed = tuple(a.key for a in state.mapper.column_attrs
                        if state.attrs[a.key].history.has_changes())
        if set(changed) - spec.ignore:
            yield Change(_table(obj), spec, _pk(obj), "updated", changed, None)
    for obj in session.deleted:
        spec = SPECS.get(type(obj))
        if spec is not None:
            loaded = inspect(obj).dict
            last = {c.name: loaded.get(c.name) for c in _table(obj).columns}
            yield Change(_table(obj), spec, _pk(obj), "deleted", (), last)


def _table(obj: SQLModel) -> Table:
    return table_of(type(obj))


def _pk(obj: object) -> Any:
    # Not inspect(obj).identity: new rows get theirs only after the flush.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    assert len(key) == 1 and key[0] is not None, "tracked tables have one key column"
    return key[0]


def write(conn: Connection, changes: list[Change], at_ms: int) -> None:
    states = _states_after(conn, changes)
    last_seq = _last_seqs(conn, changes)
    rows = []
    for ch in changes:
        key = (ch.spec.record_type, str(ch.record_id))
        last_seq[key] = seq = last_seq.get(key, 0) + 1
        state = ch.last_state if ch.last_state is not None else states[(ch.table.name,
                                                                          ch.record_id)]
        rows.append({
            "record_type": key[0], "record_id": key[1], "seq": seq,
            "event_type": f"{key[0]}.{ch.verb}",
            "payload": json.dumps(state, default=str, separators=(",", ":")),
            "changed": json.dumps(list(ch.changed)) if ch.changed else "",
            "occurred_at": at_ms,
        })
    conn.execute(OUTBOX.insert(), rows)


def _states_after(conn: Connection, changes: list[Change]
                  ) -> dict[tuple[str, Any], dict[str, Any]]:
    """Each inserted or updated row as the database now holds it (server defaults and
    columns the session never loaded included)."""
    wanted: dict[Table, set[Any]] = defaultdict(set)
    for ch in changes:
        if ch.last_state is None:
            wanted[ch.table].add(ch.record_id)
    states = {}
    for table, ids in wanted.items():
        (pk,) = table.primary_key.columns
        for row in conn.execute(select(table).where(pk.in_(ids))):
            mapping = dict(row._mapping)
            states[(table.name, mapping[pk.name])] = mapping
    return states


def _last_seqs(conn: Connection, changes: list[Change]) -> dict[tuple[str, str], int]:
    by_type: dict[str, set[str]] = defaultdict(set)
    for ch in changes:
        by_type[ch.spec.record_type].add(str(ch.record_id))
    seqs = {}
    for record_type, ids in by_type.items():
        query = (select(OUTBOX.c.record_id, func.max(OUTBOX.c.seq))
                 .where(OUTBOX.c.record_type == record_type, OUTBOX.c.record_id.in_(ids))
                 .group_by(OUTBOX.c.record_id))
        seqs.update({(record_type, rid): seq for rid, seq in conn.execute(query)})
    return seqs
