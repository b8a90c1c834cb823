"""Commands to devices (remote diagnosis): sent, and followed to the device's answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from commands.service import DEFAULT_EXPIRES_S, MAX_EXPIRES_S


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1, max_length=64,
                         description="a command of the device's model (`[commands.NAME]` in "
                                     "its model file; a wrong name is answered with the "
                                     "list), e.g. read_now")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="the command's parameters, e.g. "
                                               '{"metrics": ["tds_ppm"]}')
    expires_in_s: float = Field(
        default=DEFAULT_EXPIRES_S, ge=1, le=MAX_EXPIRES_S,
        description="seconds from now: not delivered and not run after that (an offline "
                    "gateway gets it when it comes back, if still in time)")
    alert_id: int | None = Field(
        default=None, description="the device's alert it is sent from: its steps go on "
                                  "the alert's trail")


class CommandEventPublic(BaseModel):
    status: str
    at: int
    note: str


class CommandPublic(BaseModel):
    id: str
    device_id: str
    gateway_id: str
    command: str
    params: dict[str, Any]
    # queued | sent | delivered (the gateway has it) | succeeded | failed | expired
    status: str
    created_by: str
    created_at: int
    expires_at: int
    updated_at: int
    attempts: int
    result: dict[str, Any] | None  # the device's answer, once it came
    error: str | None
    alert_id: int | None
    history: list[CommandEventPublic]


class ParamSpecPublic(BaseModel):
    name: str
    type: str  # metrics: a list of `choices` | number, within `min`..`max`
    required: bool
    min: float | None
    max: float | None
    choices: list[str]  # the model's metrics, for a `metrics` parameter


class CommandSpecPublic(BaseModel):
    name: str
    label: str
    kind: str  # diagnostic (read-only) | control
    allowed: bool  # the caller may send it
    params: list[ParamSpecPublic]
