"""Shapes of settling a job at the door and of its bill."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from portal.schemas.work_orders import CLIENT_ID, CLIENT_ID_HELP


class UsedPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    part: str = Field(min_length=1, max_length=64, description="part number (GET /api/parts)")
    qty: int = Field(default=1, ge=1, le=1000)


class SettleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parts: list[UsedPart] = Field(default_factory=list, max_length=100,
                                  description="parts used, taken from the engineer's van")
    labour_minutes: int = Field(ge=0, le=24 * 60)
    client_id: str | None = Field(default=None, pattern=CLIENT_ID, description=CLIENT_ID_HELP)


class InvoiceLine(BaseModel):
    kind: str
    code: str
    description: str
    qty: int
    unit_cents: int
    covered: bool
    total_cents: int


class SettlementPublic(BaseModel):
    work_order_id: int
    coverage: str
    currency: str
    lines: list[InvoiceLine]
    total_cents: int
    labour_minutes: int
    settled_by: str
    settled_at: int
    report_url: str
    already: bool = False  # a settlement sent again: the stored one
