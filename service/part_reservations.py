"""Parts set aside for planned jobs: a plan in force reserves what each job needs in
its engineer's van, or at the warehouse it has the engineer pick them up at; a job
reassigned, left out of the plan or given back releases what it held. Reserving
takes what the place has: a job sent without a part (the plan found no carrier)
reserves nothing of it."""

from __future__ import annotations

from sqlmodel import Session

from service.parts_needed import needs_of
from service.stock import location_of, outstanding, release_all, reserve_all, van_id
from service.tables import WorkOrder

BY = "dispatcher"


def follow_plan(session: Session, order: WorkOrder, at: int) -> None:
    """Make the order's reservations match its assignment (idempotent)."""
    assert order.id is not None
    needs = needs_of(order.parts_needed)
    held = outstanding(session, order.id) if needs else {}
    source = None if not order.engineer_id else (order.pickup_from
                                                 or van_id(order.engineer_id))
    if any(location != source for location, _part in held):
        release_all(session, order.id, at=at, by=BY,
                    note=f"reassigned to {order.engineer_id}" + (
                        f", picks up at {order.pickup_from}" if order.pickup_from else "")
                    if source else "unassigned")
    if source is not None and needs and location_of(session, source) is not None:
        reserve_all(session, order.id, source, needs, at=at, by=BY)


def release(session: Session, order: WorkOrder, at: int, note: str) -> int:
    assert order.id is not None
    if order.parts_needed == "[]":
        return 0
    return release_all(session, order.id, at=at, by=BY, note=note)
