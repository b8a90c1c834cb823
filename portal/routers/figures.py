"""The service manager's figures for the console: the first-time-fix rate, and how much
stock is low (`service.first_time_fix`, the stock levels)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import func, select

from foundations.clock import now_ms
from portal.auth.dependencies import GuardedRoute, Staff
from portal.context import ContextDep, SessionDep
from portal.queries.stock import levels
from service.first_time_fix import first_time_fix
from service.stock_tables import ReplenishmentRequest

router = APIRouter(route_class=GuardedRoute, tags=["parts and stock"])


class FirstTimeFixPublic(BaseModel):
    cases: int  # closed cases with at least one visit
    first_time: int  # of them, closed after one visit
    rate: float | None  # None: no case closed yet
    window_days: int


class ServiceFigures(BaseModel):
    first_time_fix: FirstTimeFixPublic
    low_stock: int  # (location, part) levels below their threshold
    open_replenishment: int


@router.get("/api/service-figures")
def service_figures(session: SessionDep, ctx: ContextDep, _principal: Staff) -> ServiceFigures:
    figure = first_time_fix(session, now_ms())
    open_requests = session.exec(select(func.count()).select_from(ReplenishmentRequest)
                                 .where(ReplenishmentRequest.status == "open")).one()
    return ServiceFigures(
        first_time_fix=FirstTimeFixPublic(cases=figure.cases, first_time=figure.first_time,
                                          rate=figure.rate, window_days=figure.window_days),
        low_stock=len(levels(session, ctx.models, None, low_only=True)),
        open_replenishment=open_requests)
