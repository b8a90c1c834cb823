"""The console's key figures over a chosen period (`GET /api/kpis?days=7|30|90`):
SLA compliance, first-time-fix rate, mean time to repair, customer ratings and alerts
by device model, each counted by the database (`service.kpis`)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from foundations.clock import now_ms
from portal.auth.dependencies import GuardedRoute, Staff
from portal.context import ContextDep, SessionDep
from portal.schemas.kpis import (
    FirstTimeFixKpi,
    KpisPublic,
    ModelAlerts,
    RatingsPublic,
    SharePublic,
)
from service.kpis import Share, service_kpis

router = APIRouter(route_class=GuardedRoute, tags=["service figures"])


def _share(share: Share) -> SharePublic:
    return SharePublic(counted=share.counted, met=share.met, rate=share.rate)


@router.get("/api/kpis")
def kpis(session: SessionDep, ctx: ContextDep, _principal: Staff,
         days: int = Query(30, ge=1, le=366, description="the period: the last N days")
         ) -> KpisPublic:
    k = service_kpis(session, now_ms(), days)
    ftf = k.first_time_fix
    return KpisPublic(
        days=k.days, since=k.since_ms, until=k.until_ms,
        sla_response=_share(k.sla_response), sla_resolution=_share(k.sla_resolution),
        first_time_fix=FirstTimeFixKpi(cases=ftf.cases, first_time=ftf.first_time,
                                       rate=ftf.rate),
        repairs=k.repairs, mean_time_to_repair_min=k.mean_time_to_repair_min,
        ratings=RatingsPublic(count=k.ratings.count, mean=k.ratings.mean,
                              by_stars=k.ratings.by_stars),
        alerts_by_model=[ModelAlerts(model_id=m, alerts=n,
                                     model_name=ctx.models[m].name if m in ctx.models else m)
                         for m, n in k.alerts_by_model])
