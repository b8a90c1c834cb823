"""The JSON API (documented at /docs and /openapi.json)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from portal import queries
from portal.auth.accounts import Principal
from portal.auth.dependencies import require_role
from portal.context import ContextDep, SessionDep
from portal.schemas import (
    AlertPublic,
    DeadLetterPublic,
    DeviceDetail,
    EngineerPublic,
    Health,
    WorkerPublic,
    WorkOrderPublic,
)

router = APIRouter()
STAFF = [Depends(require_role("dispatcher", "admin"))]
ADMIN = [Depends(require_role("admin"))]
AnyRole = Annotated[Principal, Depends(require_role("admin", "dispatcher", "engineer"))]


# Open: liveness probes carry no credentials, and it tells nothing about any one device.
@router.get("/healthz", tags=["operations"],
            responses={503: {"model": Health, "description": "a worker or a dependency is down"}})
def healthz(ctx: ContextDep, session: SessionDep, response: Response) -> Health:
    """Every background worker's liveness and whether the broker and the database answer:
    200 when all is well, 503 (same body) when something is down."""
    report = ctx.health()
    database = report.probes.get("database", True)
    if not report.ok:
        response.status_code = 503
    return Health(
        status="ok" if report.ok else "degraded", broker_connected=ctx.broker_connected(),
        database=database, devices=queries.count_devices(session) if database else 0,
        workers=[WorkerPublic(name=w.name, state=w.state, restarts=w.restarts,
                              last_beat_age_s=w.last_beat_age_s, last_error=w.last_error)
                 for w in report.workers])


@router.get("/api/devices/{device_id}", tags=["devices"], dependencies=STAFF)
def device(device_id: str, ctx: ContextDep, session: SessionDep) -> DeviceDetail:
    detail = queries.device_detail(session, device_id, ctx.models)
    if detail is None:
        raise HTTPException(404, f"no device '{device_id}'")
    return detail


@router.get("/api/alerts", tags=["alerts"], dependencies=STAFF)
def alerts(
    session: SessionDep,
    state: str | None = Query(None, pattern="^(open|active|acknowledged|cleared|closed)$",
                              description="'open' is active or acknowledged"),
    device_id: str | None = None,
) -> list[AlertPublic]:
    return queries.list_alerts(session, state, device_id)


@router.get("/api/work-orders", tags=["work orders"])
def work_orders(session: SessionDep, principal: AnyRole, engineer_id: str | None = None,
                device_id: str | None = None, status: str | None = None
                ) -> list[WorkOrderPublic]:
    """All work orders; an engineer's token or session lists only that engineer's."""
    if principal.role == "engineer":
        if engineer_id not in (None, principal.engineer_id):
            raise HTTPException(403, f"'{principal.username}' may only list their own jobs")
        if principal.engineer_id is None:
            return []
        engineer_id = principal.engineer_id
    return queries.list_work_orders(session, engineer_id, device_id, status)


@router.get("/api/engineers", tags=["engineers"], dependencies=STAFF)
def engineers(session: SessionDep) -> list[EngineerPublic]:
    return queries.list_engineers(session)


@router.get("/api/dead-letters", tags=["operations"], dependencies=ADMIN)
def dead_letters(session: SessionDep) -> list[DeadLetterPublic]:
    return queries.list_dead_letters(session)


@router.get("/api/ingest/stats", tags=["operations"], dependencies=ADMIN)
def ingest_stats(ctx: ContextDep) -> dict:
    return ctx.ingest_stats()
