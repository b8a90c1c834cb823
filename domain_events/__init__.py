"""Domain events: every change to a case, work order, opportunity or alert, written
to an outbox in the same database transaction as the change itself, for delivery
to external CRMs (portal/webhooks).

Record types register here with ``track``; the outbox writer records their
changes. Nothing in this package talks HTTP.
"""

from __future__ import annotations

# Table class -> the record type events about it carry ("case", "work_order", ...).
TRACKED: dict[type, str] = {}


def track(table: type, record_type: str) -> None:
    """Record every insert and update of `table` rows as domain events."""
    TRACKED[table] = record_type
