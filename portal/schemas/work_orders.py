"""Work orders, their changes through the intake API, and the engineer app's job report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from service.work_orders import ENGINEER_STEPS

# The phone's outbox entry id; safe as part of a file name.
CLIENT_ID = r"^[A-Za-z0-9_-]{16,64}$"
# The customer's signature: a PNG as a data URL or base64.
MAX_SIGNATURE_CHARS = 2_000_000
CLIENT_ID_HELP = ("the phone's id for this upload: sent again (the answer was lost), "
                  "it is not stored twice")


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


class WorkOrderChange(BaseModel):
    priority: int | None = Field(default=None, ge=1, le=5)
    status: Literal["accepted", "en_route", "on_site", "done"] | None = Field(
        default=None, description="forward only, and only once an engineer is assigned")
    note: str = Field(default="", max_length=2000)


class StatusChange(BaseModel):
    status: str = Field(description=f"one of {', '.join(ENGINEER_STEPS)}")
    note: str = Field(default="", max_length=2000)


class GiveBack(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class PartLine(BaseModel):
    part: str = Field(min_length=1, max_length=200)
    qty: int = Field(default=1, ge=1, le=1000)


class PartsIn(BaseModel):
    parts: list[PartLine] = Field(min_length=1, max_length=200)
    client_id: str | None = Field(default=None, pattern=CLIENT_ID, description=CLIENT_ID_HELP)


class NotesIn(BaseModel):
    notes: str = Field(max_length=10_000)


class SignOffIn(BaseModel):
    signed_by: str = Field(min_length=1, max_length=200)
    signature_png: str = Field(description="the signature as a PNG data URL or base64",
                               max_length=MAX_SIGNATURE_CHARS)
    client_id: str | None = Field(default=None, pattern=CLIENT_ID, description=CLIENT_ID_HELP)
