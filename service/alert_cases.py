"""Alerts becoming service cases: the one place that turns an alert into work, and
the other things a person does with an open alert in the inbox (assigning it).

Two ways in, one rule. The rules service opens a case when a model's action says so
(`open_alert_work_order`, passed to it by the assembly); a dispatcher turns an open
alert into a case from the alert inbox (`case_for_alert`). Either way the work order
gets the device model's service skill and time, a priority by the alert's severity
(unless a person chose one), and the customer's SLA clocks.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session

from asset_registry.catalog import DeviceModel
from asset_registry.tables import Device
from foundations.clock import now_ms
from rules.actions import WorkOrderRequest, work_order_request
from rules.tables import OPEN_STATES, Alert, AlertEvent
from service.cases import open_case
from service.tables import Case, WorkOrder

SOURCE = "alert"
# The alert's trail records a case opened by a person with this action.
CASE_OPENED = "case_opened"
# ... and an assignment with this one; the latest names the assignee (in its note).
ASSIGNED = "assigned"


class AlertCaseError(ValueError):
    """The alert cannot become a case; `status` is the HTTP status that says why."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def open_alert_work_order(session: Session, req: WorkOrderRequest) -> int:
    """The rules' action `open_work_order`: a case with one work order; its id."""
    case, _ = _open(session, req)
    assert case.id is not None
    return case.id


def _open(session: Session, req: WorkOrderRequest) -> tuple[Case, WorkOrder]:
    return open_case(session, device_id=req.device_id, source=SOURCE, alert_id=req.alert_id,
                     title=req.title, description=req.description, skill=req.skill,
                     duration_min=req.duration_min, priority=req.priority,
                     parts_needed=req.parts)


def open_alert(session: Session, alert_id: int) -> Alert:
    """The alert, if it is open (a person may act on it); AlertCaseError otherwise."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertCaseError(f"no alert {alert_id}", 404)
    if alert.state not in OPEN_STATES:
        raise AlertCaseError(f"alert {alert_id} is {alert.state}; only open alerts "
                             "can be assigned or turned into a work order", 409)
    return alert


def assign(session: Session, alert: Alert, to: str, by: str) -> None:
    """`by` gives the open alert to `to` (whom the caller has checked may take it)."""
    assert alert.id is not None
    session.add(AlertEvent(alert_id=alert.id, action=ASSIGNED, by=by, at=now_ms(), note=to))


def case_for_alert(session: Session, alert_id: int, models: Mapping[str, DeviceModel], *,
                   by: str, note: str = "", priority: int | None = None
                   ) -> tuple[Case, WorkOrder]:
    """A person turns an open alert into a case with one work order, once."""
    alert = open_alert(session, alert_id)
    if alert.case_id is not None:
        raise AlertCaseError(f"alert {alert_id} already has case {alert.case_id}", 409)
    device = session.get(Device, alert.device_id)
    model = models.get(device.model_id) if device else None
    if model is None:
        raise AlertCaseError(f"device '{alert.device_id}' has no known model; cannot tell "
                             "which skill the job needs", 409)
    req = work_order_request(model, device_id=alert.device_id, alert_id=alert_id,
                             message=alert.message, severity=alert.severity,
                             description=note, priority=priority, rule_id=alert.rule_id)
    case, order = _open(session, req)
    alert.case_id = case.id
    session.add(alert)
    session.add(AlertEvent(alert_id=alert_id, action=CASE_OPENED, by=by, at=now_ms(),
                           note=f"case {case.id}, work order {order.id}"))
    return case, order
