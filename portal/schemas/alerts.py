"""Alerts in the inbox and what people do with them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.work_orders import URGENT_PRIORITY


class Contribution(BaseModel):
    metric: str
    share: float = Field(description="its share of the evidence, 0-1")
    deviation: float | None = Field(
        description="how far from the device's normal, in the metric's normal spreads "
                    "(null for an `anomaly` rule's one metric)")


class Explanation(BaseModel):
    """What made an anomaly rule raise: the metrics that carried the score."""

    channel: str = Field(description="instant | sustained | stuck (model_anomaly), "
                                     "window (anomaly)")
    score: float
    contributions: list[Contribution]


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
    explanation: Explanation | None = None  # anomaly rules: the metrics behind it


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


class AlertEventPublic(BaseModel):
    action: str  # raised | acknowledged | escalated | cleared | closed | comment | command …
    by: str
    at: int
    note: str
