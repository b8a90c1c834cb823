"""The wire models of the console's key figures (`GET /api/kpis`, `service.kpis`)."""

from __future__ import annotations

from pydantic import BaseModel


class SharePublic(BaseModel):
    counted: int  # cases whose clock is decided (met, or its due time passed)
    met: int  # of them, met in time
    rate: float | None  # None: nothing decided in the period


class FirstTimeFixKpi(BaseModel):
    cases: int  # closed cases (opened in the period) with at least one visit
    first_time: int  # of them, closed after one visit
    rate: float | None


class RatingsPublic(BaseModel):
    count: int
    mean: float | None
    by_stars: dict[int, int]  # 1..5 -> how many ratings


class ModelAlerts(BaseModel):
    model_id: str
    model_name: str
    alerts: int


class KpisPublic(BaseModel):
    days: int
    since: int  # ms epoch
    until: int  # ms epoch
    sla_response: SharePublic  # an engineer on site in time
    sla_resolution: SharePublic  # the case closed in time
    first_time_fix: FirstTimeFixKpi
    repairs: int  # closed cases behind the mean time to repair
    mean_time_to_repair_min: float | None
    ratings: RatingsPublic
    alerts_by_model: list[ModelAlerts]  # most first
