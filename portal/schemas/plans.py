"""The plan view: engineers' routes, pins, candidates, and plans proposed for review."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, Field

ProposalId = Annotated[int, Path(ge=1, le=2**62)]


class StopPublic(BaseModel):
    work_order_id: int
    device_id: str
    lat: float
    lon: float
    eta: int | None
    status: str
    pinned: bool


class RoutePublic(BaseModel):
    engineer_id: str
    name: str
    home_lat: float
    home_lon: float
    stops: list[StopPublic]


class PlanRequested(BaseModel):
    requested: bool
    detail: str


class Pin(BaseModel):
    engineer_id: str | None = Field(default=None, max_length=100,
                                    description="keep the job with this engineer (null: any)")
    start: int | None = Field(default=None, ge=0, le=2**62,
                              description="arrive at this time, ms epoch (null: any)")


class CandidatePublic(BaseModel):
    engineer_id: str
    name: str
    drive_s: int
    eta: int | None
    reason: str


class PlanFigures(BaseModel):
    assigned: int
    unassigned: int
    travel_h: float
    sla_late_h: float


class ProposedStop(BaseModel):
    work_order_id: int
    device_id: str
    eta_before: int | None  # ms epoch in the plan in force (None: not with this engineer)
    eta_after: int | None  # ms epoch in the proposal


class EngineerChange(BaseModel):
    engineer_id: str
    name: str
    added: list[ProposedStop]
    removed: list[ProposedStop]
    moved: list[ProposedStop]


class LeftUndone(BaseModel):
    work_order_id: int
    device_id: str
    reason: str


class ProposalPublic(BaseModel):
    id: int
    made_at: int
    expires_at: int
    made_by: str
    before: PlanFigures
    after: PlanFigures
    changes: list[EngineerChange]
    unassigned: list[LeftUndone]


class PlanAccepted(BaseModel):
    plan_id: int
    assigned: int
    unassigned: int
    changes: list[dict[str, str | list[str]]]
