"""Which tables' changes are domain events, and how each is named."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Table class -> the record type events about it carry ("case", "work_order", ...).
TRACKED: dict[type, str] = {}


@dataclass(frozen=True, slots=True)
class Tracking:
    record_type: str
    created: str = "created"  # the verb of an insert: "case.created", "alert.raised"
    # Columns whose change alone is no event (a replan refreshes updated_at of every order).
    ignore: frozenset[str] = frozenset()


SPECS: dict[type, Tracking] = {}


def track(table: type, record_type: str, *, created: str = "created",
          ignore: Iterable[str] = ()) -> None:
    """Record every insert, update and delete of `table` rows as domain events."""
    TRACKED[table] = record_type
    SPECS[table] = Tracking(record_type, created, frozenset(ignore))


def record_types() -> list[str]:
    return sorted(set(TRACKED.values()))
