"""The alert inbox's actions beyond acknowledge/close/comment: assign an alert to a
person, and turn it into a service case with a work order."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.accounts import ASSIGNABLE_ROLES, Principal
from portal.auth.audit import record
from portal.auth.dependencies import require_role
from portal.auth.tables import PortalUser
from portal.context import ContextDep
from portal.schemas import RowId, WorkOrderPublic
from rules.tables import Alert, AlertEvent
from service.alert_cases import AlertCaseError, case_for_alert, open_alert
from service.work_orders import URGENT_PRIORITY

router = APIRouter(tags=["alerts"])
Staff = Annotated[Principal, Depends(require_role("dispatcher", "admin"))]
# The alert's trail records this action; the latest "assigned" names the assignee.
ASSIGNED = "assigned"


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
    try:
        with session_scope(ctx.engine) as session:
            case, order = case_for_alert(session, alert_id, ctx.models, by=principal.username,
                                         note=body.note, priority=body.priority)
            record(session, principal.actor, "alert.work_order", f"alert:{alert_id}",
                   f"case {case.id}, work order {order.id}, priority {order.priority}")
            public = WorkOrderPublic.model_validate(order, from_attributes=True)
    except AlertCaseError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    ctx.request_replan()
    return public


def _open_alert(session: Session, alert_id: int) -> Alert:
    try:
        return open_alert(session, alert_id)
    except AlertCaseError as exc:
        raise HTTPException(exc.status, str(exc)) from None
