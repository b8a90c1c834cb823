"""Alerts in the inbox and what people do with them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.work_orders import URGENT_PRIORITY


class AlertPublic(BaseModel):
    id: int
    device_id: str
    rule_id: str
    metric: str
    severity: str
    message: str
    state: str
    raised_at: int
    raised_value: float
    replayed: bool
    parent_id: int | None
    acknowledged_at: int | None
    acknowledged_by: str | None
    escalated_at: int | None
    cleared_at: int | None
    cleared_value: float | None
    closed_at: int | None
    closed_by: str | None
    case_id: int | None
    assigned_to: str | None = None  # the latest assignment in the alert's trail


class AlertAction(BaseModel):
    by: str | None = Field(default=None, max_length=100, deprecated=True,
                           description="ignored: the authenticated user is who acts")
    note: str = Field(default="", max_length=2000)


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
