"""Service cases: read with their SLA clocks, opened and changed through the intake API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from portal.schemas.commands import CommandPublic
from portal.schemas.work_orders import WorkOrderPublic


class SlaClockPublic(BaseModel):
    name: str  # response (engineer on site) | resolution (case closed)
    due: int
    warn_at: int
    met_at: int | None
    state: str  # ok | warning | breached | met
    warned_at: int | None
    breached_at: int | None


class CasePublic(BaseModel):
    id: int
    device_id: str
    customer_id: str
    source: str
    alert_id: int | None
    title: str
    status: str
    created_at: int
    sla_level: str
    sla_state: str  # the worst of its clocks
    clocks: list[SlaClockPublic]


class WorkOrderEventPublic(BaseModel):
    status: str
    at: int
    note: str


class CaseWorkOrder(WorkOrderPublic):
    events: list[WorkOrderEventPublic]


class CaseFilePublic(BaseModel):
    name: str
    content_type: str
    uploaded_at: int
    url: str  # GET it (staff): /api/cases/{id}/files/{name}


class CaseDetail(CasePublic):
    description: str
    contact: str
    work_orders: list[CaseWorkOrder]
    # Remote diagnosis in the case's story (sent to its device while it was open, or
    # from its alert), oldest first, each with its steps.
    commands: list[CommandPublic]
    # The customer's photos and the service reports of settled visits, oldest first.
    files: list[CaseFilePublic] = []


# -- the intake API ---------------------------------------------------------------------

class CaseIn(BaseModel):
    device_id: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    contact: str = Field(default="", max_length=200, description="e-mail or phone")
    priority: int = Field(default=3, ge=1, le=5, description="1 lowest .. 5 urgent")
    skill: str | None = Field(default=None, max_length=100,
                              description="default: the device model's service skill")
    duration_min: int | None = Field(default=None, ge=1, le=24 * 60,
                                     description="default: the device model's service time")


class CaseChange(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    contact: str | None = Field(default=None, max_length=200)
    priority: int | None = Field(default=None, ge=1, le=5,
                                 description="applies to the case's open work orders")
    status: Literal["open", "closed"] | None = Field(
        default=None, description="closed only once none of its work orders is open")


# A case as the intake API answers it (without its SLA clocks).
class CaseRecord(BaseModel):
    id: int
    device_id: str
    source: str
    title: str
    description: str
    contact: str
    status: str
    created_at: int


class CaseWithOrders(BaseModel):
    case: CaseRecord
    work_orders: list[WorkOrderPublic]
