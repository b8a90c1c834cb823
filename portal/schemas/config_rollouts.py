"""Configuration rollouts: a device model's edge settings and rules to all its gateways."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from firmware_contracts.kinds import ID_PATTERN, MAX_READINGS, METRIC_PATTERN


class EdgeRuleIn(BaseModel):
    """An edge threshold rule (contract v1's config rule; the devices are filled in)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN, max_length=40)
    metric: str = Field(pattern=METRIC_PATTERN)
    condition: Literal["above", "below"]
    threshold: float = Field(allow_inf_nan=False)
    clear: float = Field(allow_inf_nan=False)
    severity: Literal["info", "low", "medium", "high", "critical"]


class RolloutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sample_period_s: float = Field(gt=0, le=86_400, allow_inf_nan=False,
                                   description="seconds between two samples of the model's "
                                               "devices")
    batch_max_readings: int = Field(default=100, ge=1, le=MAX_READINGS)
    batch_max_age_s: float = Field(default=5.0, gt=0, le=3600, allow_inf_nan=False)
    rules: list[EdgeRuleIn] | None = Field(
        default=None, max_length=256,
        description="edge rules; absent: the model's own threshold rules")


class RolloutTargetPublic(BaseModel):
    gateway_id: str
    # pending | published | applied | failed | superseded (a newer rollout came first)
    status: str
    error: str | None
    updated_at: int


class RolloutPublic(BaseModel):
    id: int  # also the config version the gateways run once they applied it
    model_id: str
    rollback_of: int | None
    created_by: str
    created_at: int
    applied: int
    total: int
    failed: int
    targets: list[RolloutTargetPublic]
