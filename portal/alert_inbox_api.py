"""The alert inbox's actions beyond acknowledge/close/comment: assign an alert to a
person, and turn it into a service case with a work order."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlmodel import select

from asset_registry.database import session_scope
from asset_registry.tables import Device
from dispatch.service import URGENT_PRIORITY, now_ms, open_case
from portal.auth.accounts import ASSIGNABLE_ROLES, Principal
from portal.auth.audit import record
from portal.auth.dependencies import require_role
from portal.auth.tables import PortalUser
from portal.context import ContextDep
from portal.schemas import RowId, WorkOrderPublic
from rules.service import PRIORITY_BY_SEVERITY
from rules.tables import OPEN_STATES, Alert, AlertEvent

router = APIRouter(tags=["alerts"])
Staff = Annotated[Principal, Depends(require_role("dispatcher", "admin"))]
# The alert's trail records these actions; the latest "assigned" names the assignee.
ASSIGNED = "assigned"
CASE_OPENED = "case_opened"


class Assignment(BaseModel):
    to: str = Field(min_length=1, max_length=100, description="a portal user's name")
    note: str = Field(default="", max_length=2000)


class AssignmentPublic(BaseModel):
    alert_id: int
    assigned_to: str


class AlertWorkOrder(BaseModel):
    priority: int | None = Field(default=None, ge=1, le=URGENT_PRIORITY,
                                 description="default: by the alert's severity")
    note: str = Field(default="", max_length=2000)


def _open_alert(session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    if alert.state not in OPEN_STATES:
        raise HTTPException(409, f"alert {alert_id} is {alert.state}; only open alerts "
                            "can be assigned or turned into a work order")
    return alert


@router.post("/api/alerts/{alert_id}/assign")
def assign(alert_id: RowId, body: Assignment, ctx: ContextDep, principal: Staff
           ) -> AssignmentPublic:
    with session_scope(ctx.engine) as session:
        alert = _open_alert(session, alert_id)
        user = session.exec(select(PortalUser).where(PortalUser.username == body.to)).first()
        if user is None:
            raise HTTPException(422, f"no portal user '{body.to}'")
        if user.disabled or user.role not in ASSIGNABLE_ROLES:
            # The inbox's picker (GET /api/assignees) offers exactly these users.
            raise HTTPException(422, f"'{body.to}' cannot take alerts: only active "
                                f"{' and '.join(ASSIGNABLE_ROLES)}s can")
        session.add(AlertEvent(alert_id=alert_id, action=ASSIGNED, by=principal.username,
                               at=now_ms(), note=body.to))
        record(session, principal.actor, "alert.assign", f"alert:{alert.id}",
               f"to {body.to}: {body.note}")
    return AssignmentPublic(alert_id=alert_id, assigned_to=body.to)


@router.post("/api/alerts/{alert_id}/work-order", status_code=201)
def to_work_order(alert_id: RowId, body: AlertWorkOrder, ctx: ContextDep, principal: Staff
                  ) -> WorkOrderPublic:
    """Open a service case with one work order for the alert's device; the
    dispatcher plans it at once (urgent ones are inserted into the current plan)."""
    with session_scope(ctx.engine) as session:
        alert = _open_alert(session, alert_id)
        if alert.case_id is not None:
            raise HTTPException(409, f"alert {alert_id} already has case {alert.case_id}")
        device = session.get(Device, alert.device_id)
        model = ctx.models.get(device.model_id) if device else None
        if model is None:
            raise HTTPException(409, f"device '{alert.device_id}' has no known model; "
                                "cannot tell which skill the job needs")
        case, order = open_case(
            session, device_id=alert.device_id, source="alert", alert_id=alert.id,
            title=alert.message, description=body.note, skill=model.service_skill,
            duration_min=model.service_minutes,
            priority=body.priority or PRIORITY_BY_SEVERITY.get(alert.severity, 3))
        alert.case_id = case.id
        session.add(alert)
        session.add(AlertEvent(alert_id=alert.id, action=CASE_OPENED, by=principal.username,
                               at=now_ms(), note=f"case {case.id}, work order {order.id}"))
        record(session, principal.actor, "alert.work_order", f"alert:{alert.id}",
               f"case {case.id}, work order {order.id}, priority {order.priority}")
        public = WorkOrderPublic.model_validate(order, from_attributes=True)
    ctx.request_replan()
    return public
