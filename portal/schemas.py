"""The API's wire shapes, kept apart from the stored tables."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field

# A row id in a path: bounded to the database's 64-bit integers, so a huge number
# is a 422 for the caller and not an overflow in the database driver (500).
RowId = Annotated[int, Path(ge=-(2**63), le=2**63 - 1)]


class LatestValuePublic(BaseModel):
    metric: str
    label: str
    unit: str
    value: float
    ts: int


class DevicePublic(BaseModel):
    id: str
    serial: str
    model_id: str
    model_name: str
    customer_id: str
    customer_name: str
    site_id: str
    site_name: str
    lat: float
    lon: float
    gateway_id: str
    online: bool
    last_seen: int | None
    worst_severity: str | None  # of the device's open alerts; None when all is well
    open_alerts: int


class DeviceDetail(DevicePublic):
    latest: list[LatestValuePublic]


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


class WorkOrderPublic(BaseModel):
    id: int
    case_id: int
    device_id: str
    skill: str
    duration_min: int
    priority: int
    status: str
    engineer_id: str | None
    eta: int | None
    route_seq: int | None
    unassigned_reason: str | None
    # The case's response clock (ms epoch): on site by then, or the SLA is breached.
    sla_due: int | None = None
    # Locked by the dispatcher: plans keep the job with this engineer / at this time.
    pinned_engineer_id: str | None = None
    pinned_start: int | None = None
    created_at: int
    updated_at: int


class EngineerPublic(BaseModel):
    id: str
    name: str
    skills: list[str]
    shift_start: str
    shift_end: str


class DeadLetterPublic(BaseModel):
    id: int
    received_at: int
    topic: str
    gateway_id: str | None
    kind: str = ""  # the reason's category, the key rejects are counted by
    reason: str
    field: str
    payload: str


class WorkerPublic(BaseModel):
    name: str
    state: str = Field(description="running | stalled | restarting | starting | stopped")
    restarts: int
    last_beat_age_s: float | None
    last_error: str | None


class Health(BaseModel):
    status: str = Field(description="ok, or degraded when a worker or a dependency is down")
    broker_connected: bool
    database: bool
    devices: int
    workers: list[WorkerPublic]
