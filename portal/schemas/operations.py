"""Operating the installation: health, rejected messages."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
    devices: int | None = Field(
        description="devices in the device list's latest snapshot (none built yet: null); "
                    "/healthz reads no table")
    workers: list[WorkerPublic]
