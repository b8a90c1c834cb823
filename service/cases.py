"""Opening and changing a service case: every channel (alerts, customers, maintenance
plans, CRMs, sales) comes through `open_case`, so every case gets its SLA clocks from
the customer's contract and its first work order the same way; other systems change
and close cases through `change_case`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlmodel import Session, col, select

from asset_registry.catalog import DeviceModel
from asset_registry.parts import PartNeed
from asset_registry.tables import Customer, Device, Site
from foundations.clock import now_ms
from service import sla
from service.parts_needed import parts_json
from service.tables import OPEN_STATUSES, Case, WorkOrder, WorkOrderEvent
from service.work_orders import reprioritise

log = logging.getLogger("fieldpulse.service")
# A service request from another system (a CRM, through the intake API).
API_SOURCE = "api"
CASE_STATUSES = ("open", "closed")


class CaseError(ValueError):
    """The case cannot take this change; the message says why."""


def open_case(
    session: Session, *, device_id: str, source: str, title: str, skill: str,
    duration_min: int, priority: int, description: str = "", contact: str = "",
    alert_id: int | None = None, at: int | None = None, planned_for: int | None = None,
    parts_needed: Sequence[PartNeed] = (),
) -> tuple[Case, WorkOrder]:
    """Open a service case with one work order, ready for the next plan.

    The work order's `sla_due` is the response clock, which the solver tries to
    arrive by. Planned work (`planned_for`: a maintenance visit's due date) is due
    by that date instead.
    """
    at = now_ms() if at is None else at
    level = contract_level(session, device_id)
    due = sla.due_times(sla.policy_for(level), priority, at, planned_for)
    case = Case(device_id=device_id, source=source, alert_id=alert_id, title=title,
                description=description, contact=contact, created_at=at, sla_level=level,
                response_due=due.response_due, resolution_due=due.resolution_due)
    session.add(case)
    session.flush()
    assert case.id is not None
    order = WorkOrder(case_id=case.id, device_id=device_id, skill=skill,
                      duration_min=duration_min, priority=priority, created_at=at, updated_at=at,
                      sla_due=due.response_due, parts_needed=parts_json(parts_needed))
    session.add(order)
    session.flush()
    assert order.id is not None
    session.add(WorkOrderEvent(work_order_id=order.id, status="new", at=at, note=title))
    log.info("case %s opened (%s) with work order %s for %s", case.id, source, order.id, device_id)
    return case, order


def contract_level(session: Session, device_id: str) -> str:
    """The service level of the contract of the device's customer."""
    level = session.exec(select(Customer.contract_level)
                         .join(Site, col(Site.customer_id) == Customer.id)
                         .join(Device, col(Device.site_id) == Site.id)
                         .where(Device.id == device_id)).first()
    return level or sla.DEFAULT_LEVEL


def open_requested_case(
    session: Session, device: Device, model: DeviceModel | None, *, title: str,
    description: str, contact: str, priority: int, skill: str | None = None,
    duration_min: int | None = None,
) -> tuple[Case, WorkOrder]:
    """A service request from another system: a case with one work order, whose skill
    and service time default to the device model's (a device of an unknown model
    needs both given)."""
    if model is None and (skill is None or duration_min is None):
        raise CaseError(f"device '{device.id}' has no known model: give skill and "
                        "duration_min")
    return open_case(
        session, device_id=device.id, source=API_SOURCE, title=title,
        description=description, contact=contact, priority=priority,
        skill=skill or (model.service_skill if model else ""),
        duration_min=duration_min or (model.service_minutes if model else 60))


def change_case(session: Session, case: Case, *, title: str | None = None,
                description: str | None = None, contact: str | None = None,
                priority: int | None = None, status: str | None = None) -> None:
    """What another system may change on a case (None: unchanged): its texts, the
    priority of its work orders the dispatcher may still plan, and its status from
    open to closed (`close_case`). A closed case does not reopen."""
    if status is not None and status != case.status:
        if status not in CASE_STATUSES:
            raise CaseError(f"status: one of {', '.join(CASE_STATUSES)}")
        if status == "open":
            raise CaseError(f"case {case.id} is closed; open a new case instead")
        close_case(session, case)
    if title is not None:
        case.title = title
    if description is not None:
        case.description = description
    if contact is not None:
        case.contact = contact
    if priority is not None:
        for order in case_orders(session, case):
            if order.status in OPEN_STATUSES:
                reprioritise(session, order, priority)
    session.add(case)


def close_case(session: Session, case: Case) -> None:
    """Close a case once none of its work orders is still to be done."""
    unfinished = [o.id for o in case_orders(session, case) if o.status != "done"]
    if unfinished:
        raise CaseError(f"case {case.id} still has work orders not done: {unfinished}")
    case.status = "closed"
    session.add(case)


def case_orders(session: Session, case: Case) -> list[WorkOrder]:
    """The case's work orders, oldest first."""
    return list(session.exec(select(WorkOrder).where(WorkOrder.case_id == case.id)
                             .order_by(col(WorkOrder.id))))
