"""The JSON API (documented at /docs and /openapi.json)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query
from starlette.responses import Response

from portal import queries
from portal.auth.accounts import Principal
from portal.auth.dependencies import require_role
from portal.context import ContextDep, SessionDep
from portal.schemas import (
    AlertPublic,
    DeadLetterPublic,
    DeviceDetail,
    DevicePublic,
    EngineerPublic,
    Health,
    WorkOrderPublic,
)

router = APIRouter()
STAFF = [Depends(require_role("dispatcher", "admin"))]
ADMIN = [Depends(require_role("admin"))]
AnyRole = Annotated[Principal, Depends(require_role("admin", "dispatcher", "engineer"))]


# Open: liveness probes carry no credentials, and it tells nothing about any one device.
@router.get("/healthz", tags=["operations"])
def healthz(ctx: ContextDep, session: SessionDep) -> Health:
    return Health(status="ok", broker_connected=ctx.broker_connected(),
                  devices=queries.count_devices(session))


@router.get("/api/devices", tags=["devices"], dependencies=STAFF,
            response_model=list[DevicePublic])
def devices(ctx: ContextDep, session: SessionDep,
            severity: str | None = Query(None, max_length=20, description="only devices "
                                         "whose worst open alert has this severity ('ok': "
                                         "none open)"),
            model: str | None = Query(None, max_length=100, description="a device model id"),
            online: bool | None = Query(None, description="online (true) or offline (false)"),
            customer: str | None = Query(None, max_length=100, description="a customer id"),
            q: str | None = Query(None, max_length=100, description="part of the serial or "
                                  "of the customer's name (case-insensitive)"),
            ) -> Response:
    # Already in the wire shape: serialised directly, as re-validating 10,000
    # devices through the response model would take longer than reading them.
    rows = queries.device_map(session, ctx.models, queries.DeviceFilter(
        severity=severity, model_id=model, online=online, customer_id=customer,
        search=q.strip() if q else None))
    return Response(orjson.dumps(rows), media_type="application/json")


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
