"""The console's plan view: engineers' routes, running the dispatcher, pinning or
reassigning a job, and the nearest qualified engineers for one (emergency view)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from asset_registry.tables import Device, Site
from dispatch.planning import candidates
from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import require_role
from portal.context import ContextDep, SessionDep
from portal.schemas import RowId, WorkOrderPublic
from service.tables import OPEN_STATUSES, Engineer, WorkOrder

router = APIRouter(tags=["dispatch"])
Staff = Annotated[Principal, Depends(require_role("dispatcher", "admin"))]
# Statuses still on an engineer's route today (done jobs drop off the map).
ROUTED = ("assigned", "accepted", "en_route", "on_site")


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


@router.get("/api/plans/routes")
def routes(_: Staff, session: SessionDep) -> list[RoutePublic]:
    """Every engineer's route of open jobs in order, with each stop's place and ETA."""
    stops = session.exec(
        select(WorkOrder, Site.lat, Site.lon)
        .join(Device, col(Device.id) == WorkOrder.device_id)
        .join(Site, col(Site.id) == Device.site_id)
        .where(col(WorkOrder.status).in_(ROUTED), col(WorkOrder.engineer_id).is_not(None))
        .order_by(WorkOrder.engineer_id, WorkOrder.eta, WorkOrder.route_seq, WorkOrder.id)
    ).all()
    by_engineer: dict[str, list[StopPublic]] = {}
    for order, lat, lon in stops:
        assert order.id is not None and order.engineer_id is not None
        by_engineer.setdefault(order.engineer_id, []).append(StopPublic(
            work_order_id=order.id, device_id=order.device_id, lat=lat, lon=lon,
            eta=order.eta, status=order.status,
            pinned=order.pinned_engineer_id is not None or order.pinned_start is not None))
    return [RoutePublic(engineer_id=e.id, name=e.name, home_lat=e.home_lat,
                        home_lon=e.home_lon, stops=by_engineer.get(e.id, []))
            for e in session.exec(select(Engineer).order_by(Engineer.id))]


@router.post("/api/plans", status_code=202)
def run_dispatcher(ctx: ContextDep, principal: Staff) -> PlanRequested:
    """Ask the dispatcher for a full re-optimisation now. It runs in the background
    (a plan takes seconds); the new plan arrives as a `plan` live event and in
    GET /api/plans/changes."""
    ctx.request_replan()
    with session_scope(ctx.engine) as session:
        record(session, principal.actor, "plan.request", "dispatcher")
    return PlanRequested(requested=True, detail="the dispatcher is re-planning; watch "
                         "/api/plans/changes")


@router.put("/api/work-orders/{order_id}/pin")
def pin(order_id: RowId, body: Pin, ctx: ContextDep, principal: Staff) -> WorkOrderPublic:
    """Lock an open job to an engineer (a reassignment) and/or an arrival time; null
    values release the lock. The next plan keeps to it; one is requested at once."""
    with session_scope(ctx.engine) as session:
        order = session.get(WorkOrder, order_id)
        if order is None:
            raise HTTPException(404, f"no work order {order_id}")
        if order.status not in OPEN_STATUSES:
            raise HTTPException(409, f"work order {order_id} is {order.status}; only "
                                f"{', '.join(OPEN_STATUSES)} jobs can be re-planned")
        if body.engineer_id is not None and session.get(Engineer, body.engineer_id) is None:
            raise HTTPException(422, f"no engineer '{body.engineer_id}'")
        order.pinned_engineer_id, order.pinned_start = body.engineer_id, body.start
        order.updated_at = now_ms()
        session.add(order)
        record(session, principal.actor, "work_order.pin", f"work_order:{order_id}",
               f"engineer {body.engineer_id or 'any'}, start {body.start or 'any'}")
        public = WorkOrderPublic.model_validate(order, from_attributes=True)
    ctx.request_replan()
    return public


@router.get("/api/work-orders/{order_id}/candidates")
async def order_candidates(order_id: RowId, _: Staff, ctx: ContextDep, session: SessionDep
                           ) -> list[CandidatePublic]:
    """Qualified engineers for an open job, nearest arrival first: each ETA is where
    the job would fit into that engineer's current route without bumping anyone."""
    if session.get(WorkOrder, order_id) is None:
        raise HTTPException(404, f"no work order {order_id}")
    try:
        found = await run_in_threadpool(candidates, ctx.engine, ctx.tz, order_id)
    except ValueError as err:
        raise HTTPException(409, str(err)) from None
    names = dict(session.exec(select(Engineer.id, Engineer.name)).all())
    return [CandidatePublic(engineer_id=c.engineer_id, name=names.get(c.engineer_id, ""),
                            drive_s=c.drive_s, eta=c.eta, reason=c.reason) for c in found]
