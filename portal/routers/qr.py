"""Devices' QR codes (admins): rotating one, re-printing one, and A4 sheets of
printable labels. The customer's page a code opens is `portal/pages/customer.py`."""

from __future__ import annotations

import io
from typing import Annotated

import segno
from fastapi import APIRouter, HTTPException, Query
from sqlmodel import Session
from starlette.responses import Response

from asset_registry.qr_tokens import new_qr_token
from asset_registry.tables import Device
from portal.auth.audit import record
from portal.auth.dependencies import Admin, GuardedRoute
from portal.context import ContextDep, SessionDep
from portal.qr_codes import customer_url, write_qr_codes
from portal.qr_labels import COLUMNS, ROWS, Label, label_sheets
from portal.queries.devices import devices_by_serial
from portal.schemas.qr import QrCodeIssued

router = APIRouter(route_class=GuardedRoute)


def _device(session: Session, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise HTTPException(404, f"no device '{device_id}'")
    return device


@router.post("/api/devices/{device_id}/qr-token", tags=["access", "devices"])
def rotate_qr_token(device_id: str, principal: Admin, ctx: ContextDep,
                    session: SessionDep) -> QrCodeIssued:
    """Revoke the device's QR code and issue a new one: the old URL answers 404 from now on.

    The new code is written to the server's QR directory for printing."""
    device = _device(session, device_id)
    device.qr_token = new_qr_token()
    record(session, principal.actor, "qr_token.rotate", f"device:{device_id}")
    session.commit()
    files = []
    if ctx.qr_dir is not None:
        write_qr_codes([(device_id, device.qr_token)], ctx.base_url, ctx.qr_dir)
        files = [str(ctx.qr_dir / f"{device_id}.{ext}") for ext in ("svg", "png")]
    return QrCodeIssued(device_id=device_id, url=customer_url(ctx.base_url, device.qr_token),
                        files=files)


@router.get("/api/devices/{device_id}/qr.svg", tags=["access", "devices"],
            response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
def qr_code_svg(device_id: str, _: Admin, ctx: ContextDep, session: SessionDep) -> Response:
    """The device's current QR code, to print a new label without revoking the old one."""
    device = _device(session, device_id)
    out = io.BytesIO()
    segno.make(customer_url(ctx.base_url, device.qr_token), error="m").save(
        out, kind="svg", scale=4, border=2)
    return Response(out.getvalue(), media_type="image/svg+xml")


@router.get("/api/qr-labels.svg", tags=["devices"], response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
def label_sheet(_: Admin, ctx: ContextDep, session: SessionDep,
                device_id: Annotated[list[str] | None, Query(max_length=1000)] = None,
                page: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    """An A4 sheet of QR labels (3 x 8) for the devices named (default: all), in serial
    order; `page` picks the sheet when there are more than 24."""
    devices = devices_by_serial(session, device_id)
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
