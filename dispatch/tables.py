"""The plans the dispatcher stored: one row per plan, with its figures.

Which engineer a work order is planned for, in which order and when, is kept on the
work order itself (`service.tables.WorkOrder`: engineer_id, route_seq, eta)."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


class DispatchPlan(SQLModel, table=True):
    __tablename__ = "dispatch_plan"
    id: int | None = Field(default=None, primary_key=True)
    created_at: int = Field(sa_type=BigInteger)
    assigned: int
    unassigned: int
    objective: int
