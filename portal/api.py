"""The JSON API (documented at /docs and /openapi.json)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from portal import queries
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


@router.get("/healthz", tags=["operations"])
def healthz(ctx: ContextDep, session: SessionDep) -> Health:
    return Health(status="ok", broker_connected=ctx.broker_connected(),
                  devices=queries.count_devices(session))


@router.get("/api/devices", tags=["devices"])
def devices(ctx: ContextDep, session: SessionDep,
            severity: str | None = Query(None, description="only devices whose worst open "
                                         "alert has this severity")) -> list[DevicePublic]:
    return queries.list_devices(session, ctx.models, severity)


@router.get("/api/devices/{device_id}", tags=["devices"])
def device(device_id: str, ctx: ContextDep, session: SessionDep) -> DeviceDetail:
    detail = queries.device_detail(session, device_id, ctx.models)
    if detail is None:
        raise HTTPException(404, f"no device '{device_id}'")
    return detail


@router.get("/api/alerts", tags=["alerts"])
def alerts(
    session: SessionDep,
    state: str | None = Query(None, pattern="^(open|active|acknowledged|cleared|closed)$",
                              description="'open' is active or acknowledged"),
    device_id: str | None = None,
) -> list[AlertPublic]:
    return queries.list_alerts(session, state, device_id)


@router.get("/api/work-orders", tags=["work orders"])
def work_orders(session: SessionDep, engineer_id: str | None = None,
                device_id: str | None = None, status: str | None = None
                ) -> list[WorkOrderPublic]:
    return queries.list_work_orders(session, engineer_id, device_id, status)


@router.get("/api/engineers", tags=["engineers"])
def engineers(session: SessionDep) -> list[EngineerPublic]:
    return queries.list_engineers(session)


@router.get("/api/dead-letters", tags=["operations"])
def dead_letters(session: SessionDep) -> list[DeadLetterPublic]:
    return queries.list_dead_letters(session)


@router.get("/api/ingest/stats", tags=["operations"])
def ingest_stats(ctx: ContextDep) -> dict:
    return ctx.ingest_stats()
