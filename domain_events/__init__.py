"""Domain events: every change to a case, work order, opportunity or alert, written
to an outbox in the same database transaction as the change itself, for delivery
to external CRMs (portal/webhooks).

Record types register here with ``track``; the outbox writer (``outbox.py``, a hook
on every ORM session's flush) records their changes. Nothing in this package talks
HTTP, and it imports no component that could import it back at import time: the
built-in record types are registered on first use (``builtin``).
"""

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


_builtin_done = False


def builtin() -> None:
    """Track the cloud's own record types (imported here lazily: their modules may one
    day import this package, which must not import them back while they load)."""
    global _builtin_done
    if _builtin_done:
        return
    from dispatch.tables import Case, WorkOrder
    from rules.tables import Alert

    track(Case, "case")
    # Every plan rewrites each open order's ETA and route position: alone, plan
    # bookkeeping would flood receivers; it rides along with the next real change.
    track(WorkOrder, "work_order",
          ignore=("updated_at", "eta", "route_seq", "unassigned_reason"))
    track(Alert, "alert", created="raised")
    _builtin_done = True


def record_types() -> list[str]:
    builtin()
    return sorted(set(TRACKED.values()))


# The outbox table joins SQLModel's metadata and the flush hook is installed with the
# package, so any process that can record events also creates their table.
from domain_events import outbox as _outbox  # noqa: E402
from domain_events import tables as _tables  # noqa: E402, F401

_outbox.install()
