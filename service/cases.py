"""Opening a service case: every channel (alerts, customers, maintenance plans, CRMs,
sales) comes through `open_case`, so every case gets its SLA clocks from the
customer's contract and its first work order the same way."""

from __future__ import annotations

import logging

from sqlmodel import Session, col, select

from asset_registry.tables import Customer, Device, Site
from foundations.clock import now_ms
from service import sla
from service.tables import Case, WorkOrder, WorkOrderEvent

log = logging.getLogger("fieldpulse.service")


def open_case(
    session: Session, *, device_id: str, source: str, title: str, skill: str,
    duration_min: int, priority: int, description: str = "", contact: str = "",
    alert_id: int | None = None, at: int | None = None, planned_for: int | None = None,
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
                      sla_due=due.response_due)
    session.add(order)
    session.flush()
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
