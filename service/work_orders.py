"""A work order's life cycle: every move, by people (status forward, giving a job back)
and by the dispatcher (planning it onto an engineer, or leaving it unplanned).

Each move writes a `WorkOrderEvent`: the order's timeline, and the source of its
notices (`service/notice_recorder.py`).
"""

from __future__ import annotations

from sqlmodel import Session

from foundations.clock import now_ms
from service.tables import WORK_ORDER_STATUSES, Case, WorkOrder, WorkOrderEvent

# Priorities run from 1 (lowest) to this; at this level an order is urgent: the
# dispatcher inserts it into the plan at once.
URGENT_PRIORITY = 5


class StatusError(ValueError):
    pass


def set_status(session: Session, order: WorkOrder, status: str, note: str = "") -> None:
    """Move a work order forward in its life cycle; going backwards is refused."""
    if status not in WORK_ORDER_STATUSES:
        raise StatusError(f"unknown status '{status}' (one of {WORK_ORDER_STATUSES})")
    if WORK_ORDER_STATUSES.index(status) <= WORK_ORDER_STATUSES.index(order.status):
        raise StatusError(f"work order {order.id} is already '{order.status}'")
    order.status, order.updated_at = status, now_ms()
    session.add(order)
    session.add(WorkOrderEvent(work_order_id=order.id, status=status, at=order.updated_at,
                               note=note))
    if status == "accepted":
        # Taken by the engineer: later plans keep it with them.
        order.pinned_engineer_id = order.engineer_id
    if status == "done":
        case = session.get(Case, order.case_id)
        if case is not None:
            case.status = "closed"
            session.add(case)


def give_back(session: Session, order: WorkOrder, reason: str) -> None:
    """The engineer cannot complete the job: it returns to the dispatcher with the
    reason on its timeline, to be planned again (urgent ones at once)."""
    if order.status == "done":
        raise StatusError(f"work order {order.id} is already 'done'")
    if not reason.strip():
        raise StatusError("say why the job cannot be completed")
    at = now_ms()
    session.add(WorkOrderEvent(work_order_id=order.id, status="cannot_complete", at=at,
                               note=f"{order.engineer_id or 'engineer'}: {reason.strip()}"))
    order.status, order.updated_at = "new", at
    order.engineer_id = order.eta = order.route_seq = order.pinned_engineer_id = None
    order.unassigned_reason = None
    session.add(order)


def plan(session: Session, order: WorkOrder, engineer_id: str | None, route_seq: int | None,
         eta: int | None, reason: str | None, at: int) -> None:
    """The dispatcher's move: the order in an engineer's route (position, ETA), or left
    unplanned with the reason. A change of engineer is an event on its timeline; a
    new ETA or position alone is plan bookkeeping, no event."""
    if engineer_id != order.engineer_id:
        status = "assigned" if engineer_id else "new"
        note = f"assigned to {engineer_id}" if engineer_id else (reason or "")
        session.add(WorkOrderEvent(work_order_id=order.id, status=status, at=at, note=note))
        order.status = status
    order.engineer_id, order.route_seq, order.eta = engineer_id, route_seq, eta
    order.unassigned_reason = reason
    order.updated_at = at
    session.add(order)
