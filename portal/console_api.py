"""Dispatcher-console extras: the plan's recent changes, printable QR label sheets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlmodel import col, select
from starlette.responses import Response

from asset_registry.tables import Device
from portal.auth.accounts import Principal
from portal.auth.dependencies import require_role
from portal.context import ContextDep, SessionDep
from portal.qr_labels import COLUMNS, ROWS, Label, label_sheets

router = APIRouter()

Staff = Annotated[Principal, Depends(require_role("dispatcher", "admin"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


@router.get("/api/plans/changes", tags=["dispatch"])
def plan_changes(_: Staff, ctx: ContextDep) -> list[dict[str, Any]]:
    """The latest plans, newest first: why each was made (a full re-optimisation or an
    emergency insertion) and what it changed per engineer."""
    return [{
        "plan_id": summary.plan_id, "kind": kind, "assigned": summary.assigned,
        "unassigned": summary.unassigned,
        "changes": [c.as_dict() for c in summary.changes],
    } for kind, summary in reversed(ctx.plan_history())]


@router.get("/api/qr-labels.svg", tags=["devices"], response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
def label_sheet(_: Admin, ctx: ContextDep, session: SessionDep,
                device_id: Annotated[list[str] | None, Query(max_length=1000)] = None,
                page: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    """An A4 sheet of QR labels (3 x 8) for the devices named (default: all), in serial
    order; `page` picks the sheet when there are more than 24."""
    query = select(Device).order_by(col(Device.serial))
    if device_id:
        query = query.where(col(Device.id).in_(device_id))
    devices = session.exec(query).all()
    if device_id and len(devices) != len(set(device_id)):
        missing = sorted(set(device_id) - {d.id for d in devices})
        raise HTTPException(404, f"no device {', '.join(missing[:5])}")
    models = ctx.models
    sheets = label_sheets([Label(d.qr_token, d.serial,
                                 models[d.model_id].name if d.model_id in models else d.model_id)
                           for d in devices], ctx.base_url)
    if not sheets:
        raise HTTPException(404, "no devices to label")
    if page > len(sheets):
        raise HTTPException(404, f"there are {len(sheets)} sheets of {COLUMNS * ROWS} labels")
    return Response(sheets[page - 1], media_type="image/svg+xml",
                    headers={"X-Label-Sheets": str(len(sheets))})
