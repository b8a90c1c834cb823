"""A work order's life cycle: every move, by people (status forward, giving a job back,
a new priority, a pin) and by the dispatcher (planning it onto an engineer, or
leaving it unplanned).

Each status move writes a `WorkOrderEvent`: the order's timeline, and the source of
its notices (`service/notice_recorder.py`). The engineer's app, the engineer's page
and the intake API of other systems all move orders through these functions.
"""

from __future__ import annotations

from sqlmodel import Session, select

from foundations.clock import now_ms
from service import part_reservations
from service.tables import (
    OPEN_STATUSES,
    WORK_ORDER_STATUSES,
    Case,
    Engineer,
    WorkOrder,
    WorkOrderEvent,
)

# Priorities run from 1 (lowest) to this; at this level an order is urgent: the
# dispatcher inserts it into the plan at once.
URGENT_PRIORITY = 5
# The steps people take; `new` and `assigned` are the dispatcher's plans' to set.
ENGINEER_STEPS = ("accepted", "en_route", "on_site", "done")
# A give-back's event on the timeline; its note is "<engineer>: <reason>".
CANNOT_COMPLETE = "cannot_complete"
# A plan could not keep the arrival window promised to the customer (the note: why);
# the order keeps its status, the customer is told (`service/work_order_notices.py`).
WINDOW_MISSED = "window_missed"


class StatusError(ValueError):
    """The work order cannot make this move; the message says why."""


class AlreadyReached(StatusError):
    """The order is at the status asked for, or past it."""

    def __init__(self, order: WorkOrder, status: str) -> None:
        super().__init__(f"work order {order.id} is already '{order.status}'")
        # Asked for a status behind the order's (not a repeat of the current one).
        self.step_back = order.status != status


class UnknownEngineer(ValueError):
    """A pin names an engineer who does not exist."""


def set_status(session: Session, order: WorkOrder, status: str, note: str = "") -> None:
    """Move a work order forward in its life cycle; going backwards is refused."""
    if status not in WORK_ORDER_STATUSES:
        raise StatusError(f"unknown status '{status}' (one of {WORK_ORDER_STATUSES})")
    if reached(order, status):
        raise AlreadyReached(order, status)
    assert order.id is not None
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


def reached(order: WorkOrder, status: str) -> bool:
    """Whether the order is at `status` or past it."""
    return WORK_ORDER_STATUSES.index(order.status) >= WORK_ORDER_STATUSES.index(status)


def advance(session: Session, order: WorkOrder, status: str, note: str) -> None:
    """A person's step forward (the engineer's app and page, another system through the
    API): only once a plan has given the job to an engineer. `AlreadyReached` when
    the order is there or past it (a replay, or a step back), `StatusError` otherwise."""
    if order.engineer_id is None:
        raise StatusError(f"work order {order.id} has no engineer yet: it is "
                          f"'{order.status}' until a plan assigns one")
    set_status(session, order, status, note=note)


def give_back(session: Session, order: WorkOrder, reason: str) -> None:
    """The engineer cannot complete the job: it returns to the dispatcher with the
    reason on its timeline, to be planned again (urgent ones at once)."""
    if order.status == "done":
        raise StatusError(f"work order {order.id} is already 'done'")
    if not reason.strip():
        raise StatusError("say why the job cannot be completed")
    assert order.id is not None
    at = now_ms()
    session.add(WorkOrderEvent(work_order_id=order.id, status=CANNOT_COMPLETE, at=at,
                               note=_give_back_note(order.engineer_id, reason)))
    order.status, order.updated_at = "new", at
    order.engineer_id = order.eta = order.route_seq = order.pinned_engineer_id = None
    order.unassigned_reason = order.plan_note = order.pickup_from = None
    session.add(order)
    part_reservations.release(session, order, at, "given back")


def gave_back(session: Session, order: WorkOrder, engineer_id: str | None,
              reason: str) -> bool:
    """Whether `engineer_id` (None: someone without an engineer link) already gave the
    order back with this reason and it is not theirs again since: a give-back sent
    twice, to be answered as done rather than refused."""
    if engineer_id is not None and order.engineer_id == engineer_id:
        return False
    return session.exec(select(WorkOrderEvent.id).where(
        WorkOrderEvent.work_order_id == order.id, WorkOrderEvent.status == CANNOT_COMPLETE,
        WorkOrderEvent.note == _give_back_note(engineer_id, reason))).first() is not None


def _give_back_note(engineer_id: str | None, reason: str) -> str:
    return f"{engineer_id or 'engineer'}: {reason.strip()}"


def reprioritise(session: Session, order: WorkOrder, priority: int) -> bool:
    """A new priority, while the dispatcher may still plan the order; whether it changed."""
    if priority == order.priority:
        return False
    if order.status not in OPEN_STATUSES:
        raise StatusError(f"work order {order.id} is '{order.status}': its priority can no "
                          "longer change")
    order.priority, order.updated_at = priority, now_ms()
    session.add(order)
    return True


def pin(session: Session, order: WorkOrder, engineer_id: str | None,
        start: int | None) -> None:
    """Lock an open job to an engineer (a reassignment) and/or an arrival time; None
    releases the lock. The next plan keeps to it."""
    if order.status not in OPEN_STATUSES:
        raise StatusError(f"work order {order.id} is {order.status}; only "
                          f"{', '.join(OPEN_STATUSES)} jobs can be re-planned")
    if engineer_id is not None and session.get(Engineer, engineer_id) is None:
        raise UnknownEngineer(f"no engineer '{engineer_id}'")
    order.pinned_engineer_id, order.pinned_start = engineer_id, start
    order.updated_at = now_ms()
    session.add(order)


def plan(session: Session, order: WorkOrder, engineer_id: str | None, route_seq: int | None,
         eta: int | None, reason: str | None, at: int, plan_note: str | None = None,
         pickup_from: str | None = None) -> None:
    """The dispatcher's move: the order in an engineer's route (position, ETA), or left
    unplanned with the reason. A change of engineer is an event on its timeline; a
    new ETA or position alone is plan bookkeeping, no event. The parts the order
    needs are reserved in its engineer's van, or at the warehouse `pickup_from` the
    plan has them picked up at (and released anywhere else)."""
    if engineer_id != order.engineer_id:
        assert order.id is not None
        status = "assigned" if engineer_id else "new"
        note = f"assigned to {engineer_id}" if engineer_id else (reason or "")
        session.add(WorkOrderEvent(work_order_id=order.id, status=status, at=at, note=note))
        order.status = status
    order.engineer_id, order.route_seq, order.eta = engineer_id, route_seq, eta
    order.unassigned_reason, order.plan_note = reason, plan_note
    order.pickup_from = pickup_from if engineer_id else None
    order.updated_at = at
    session.add(order)
    if order.parts_needed != "[]":
        part_reservations.follow_plan(session, order, at)


def window_missed(session: Session, order: WorkOrder, reason: str, at: int) -> None:
    """The dispatcher's plan cannot keep the window promised to the customer: a timeline
    event (the customer is told); the order stays open for the dispatcher to arrange."""
    assert order.id is not None
    session.add(WorkOrderEvent(work_order_id=order.id, status=WINDOW_MISSED, at=at,
                               note=reason))
