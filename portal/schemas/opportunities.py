"""Sales opportunities and the customer's answers to them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

StatusFilter = Literal["active", "open", "offered", "accepted", "declined", "won", "lost"]


class OpportunityPublic(BaseModel):
    id: int
    device_id: str
    customer_id: str
    kind: str
    product: str
    quantity: int
    predicted_date: int
    predicted_early: int | None
    predicted_late: int | None
    reason: str
    owner: str
    status: str
    created_at: int
    updated_at: int
    decided_by: str | None
    work_order_id: int | None


class Decision(BaseModel):
    note: str = Field(default="", max_length=2000)
