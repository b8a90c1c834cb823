"""The engineer's job app: today's route, a job's detail, and what they record on site.

JSON endpoints for the mobile page (`/engineer/{id}/jobs/{order_id}`), whose
script queues every change while the phone has no signal and sends it when it
reconnects. Replaying a change is harmless: a status the job already reached
answers 200 with `already: true`, and so does a photo or a sign-off sent again
with the same `client_id` (the phone's outbox entry; it names the stored file),
so a queue that sends twice does no harm.
Engineers act on their own jobs only; dispatchers and admins on anyone's.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from starlette.responses import FileResponse, Response

from asset_registry.tables import Customer, Device, Site
from foundations.clock import now_ms
from portal import queries
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import own_engineer, page_role, require_role
from portal.context import ContextDep, PortalContext, SessionDep
from portal.rendering import render
from portal.schemas import RowId
from portal.uploads import read_image
from rules.tables import Alert
from service.job_reports import ReportError, add_parts, add_photo, as_dict, set_notes, sign_off
from service.tables import (
    WORK_ORDER_STATUSES,
    Case,
    CaseAttachment,
    JobReport,
    WorkOrder,
    WorkOrderEvent,
)
from service.work_orders import StatusError, give_back, set_status

router = APIRouter(tags=["engineer app"])
pages = APIRouter(include_in_schema=False)

Staff = Annotated[Principal, Depends(require_role("engineer", "dispatcher", "admin"))]
StaffPage = Annotated[Principal, Depends(page_role("engineer", "dispatcher", "admin"))]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ENGINEER_STEPS = ("accepted", "en_route", "on_site", "done")
# The phone's outbox entry id; safe as part of a file name.
CLIENT_ID = r"^[A-Za-z0-9_-]{16,64}$"
CLIENT_ID_HELP = ("the phone's id for this upload: sent again (the answer was lost), "
                  "it is not stored twice")


class StatusChange(BaseModel):
    status: str = Field(description=f"one of {', '.join(ENGINEER_STEPS)}")
    note: str = Field(default="", max_length=2000)


class GiveBack(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class PartLine(BaseModel):
    part: str = Field(min_length=1, max_length=200)
    qty: int = Field(default=1, ge=1, le=1000)


class PartsIn(BaseModel):
    parts: list[PartLine] = Field(min_length=1, max_length=200)
    client_id: str | None = Field(default=None, pattern=CLIENT_ID, description=CLIENT_ID_HELP)


class NotesIn(BaseModel):
    notes: str = Field(max_length=10_000)


class SignOffIn(BaseModel):
    signed_by: str = Field(min_length=1, max_length=200)
    signature_png: str = Field(description="the signature as a PNG data URL or base64",
                               max_length=2_000_000)
    client_id: str | None = Field(default=None, pattern=CLIENT_ID, description=CLIENT_ID_HELP)


def _order(session: Session, order_id: int, principal: Principal) -> WorkOrder:
    order = session.get(WorkOrder, order_id)
    if order is None:
        raise HTTPException(404, f"no work order {order_id}")
    if principal.role == "engineer" and order.engineer_id != principal.engineer_id:
        raise HTTPException(403, f"work order {order_id} is not one of "
                                 f"'{principal.username}''s jobs")
    return order


def _uploads(ctx: PortalContext, order_id: int) -> Path:
    if ctx.uploads_dir is None:
        raise HTTPException(503, "this installation keeps no uploads (no uploads folder set)")
    folder = ctx.uploads_dir / "work-orders" / str(order_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _nav_link(lat: float, lon: float) -> str:
    # A geo: URI opens the phone's own maps app; nothing is fetched from here.
    return f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}"


@router.get("/api/engineers/{engineer_id}/jobs")
def engineer_jobs(engineer_id: str, session: SessionDep, principal: Staff) -> list[dict[str, Any]]:
    """The engineer's open jobs in route order, with ETAs and a navigation link."""
    own_engineer(engineer_id, principal)
    return [{
        "work_order_id": order.id, "status": order.status, "eta": order.eta,
        "route_seq": order.route_seq, "duration_min": order.duration_min, "title": case.title,
        "customer": customer.name, "site": site.name, "address": site.address,
        "lat": site.lat, "lon": site.lon, "navigation": _nav_link(site.lat, site.lon),
        "device_id": device.id, "serial": device.serial, "model_id": device.model_id,
    } for order, case, device, site, customer in queries.engineer_jobs(session, engineer_id)]


@router.get("/api/work-orders/{order_id}/job")
def job_detail(order_id: RowId, ctx: ContextDep, session: SessionDep,
               principal: Staff) -> dict[str, Any]:
    """A job with its device's latest readings, alerts, service history and report."""
    order = _order(session, order_id, principal)
    case = session.get(Case, order.case_id)
    device = session.get(Device, order.device_id)
    assert case is not None and device is not None
    site = session.get(Site, device.site_id)
    customer = session.get(Customer, site.customer_id) if site else None
    alerts = session.exec(select(Alert).where(Alert.device_id == device.id)
                          .order_by(col(Alert.id).desc()).limit(20)).all()
    history = [
        {"work_order_id": wo.id, "status": wo.status, "title": past.title,
         "events": [{"status": e.status, "at": e.at, "note": e.note} for e in events]}
        for wo, past, events in queries.device_work_orders_with_events(session, device.id)
        if wo.id != order.id
    ]
    return {
        "work_order_id": order.id, "status": order.status, "eta": order.eta,
        "title": case.title, "description": case.description,
        "customer": customer.name if customer else None, "contact": case.contact,
        "site": site.name if site else None, "address": site.address if site else None,
        "navigation": _nav_link(site.lat, site.lon) if site else None,
        "device": {"id": device.id, "serial": device.serial, "model_id": device.model_id,
                   "online": device.online, "last_seen": device.last_seen},
        "latest": [v.model_dump() for v in queries.latest_values(session, device, ctx.models)],
        "alerts": [{"id": a.id, "severity": a.severity, "state": a.state, "message": a.message,
                    "raised_at": a.raised_at} for a in alerts],
        "history": history,
        "report": as_dict(session.get(JobReport, order.id)),
        "customer_photos": [a.file_name for a in _attachments(session, order.case_id)],
    }


def _attachments(session: Session, case_id: int) -> list[CaseAttachment]:
    return list(session.exec(select(CaseAttachment).where(CaseAttachment.case_id == case_id)
                             .order_by(col(CaseAttachment.id))))


@router.post("/api/work-orders/{order_id}/status")
def change_status(order_id: RowId, body: StatusChange, session: SessionDep,
                  principal: Staff) -> dict[str, Any]:
    """accept, on the way, on site, done; a step the job already passed is a no-op."""
    if body.status not in ENGINEER_STEPS:
        raise HTTPException(422, f"status: one of {', '.join(ENGINEER_STEPS)}")
    order = _order(session, order_id, principal)
    if WORK_ORDER_STATUSES.index(order.status) >= WORK_ORDER_STATUSES.index(body.status):
        return {"work_order_id": order.id, "status": order.status, "already": True}
    if order.engineer_id is None:
        raise HTTPException(409, f"work order {order_id} has no engineer yet")
    try:
        set_status(session, order, body.status,
                   note=f"by {principal.username}" + (f": {body.note}" if body.note else ""))
    except StatusError as err:
        raise HTTPException(409, str(err)) from None
    record(session, principal.actor, "work_order.status", f"work_order:{order_id}", body.status)
    session.commit()
    return {"work_order_id": order.id, "status": order.status, "already": False}


@router.post("/api/work-orders/{order_id}/cannot-complete")
def cannot_complete(order_id: RowId, body: GiveBack, ctx: ContextDep, session: SessionDep,
                    principal: Staff) -> dict[str, Any]:
    """Give the job back to the dispatcher, with the reason the customer will see. Sent
    again (the phone never saw the answer), it is answered as done, not refused."""
    given_back = session.get(WorkOrder, order_id)
    if given_back is not None and _gave_back(session, given_back, principal, body.reason):
        return {"work_order_id": order_id, "status": given_back.status, "already": True}
    order = _order(session, order_id, principal)
    try:
        give_back(session, order, body.reason)
    except StatusError as err:
        raise HTTPException(409, str(err)) from None
    record(session, principal.actor, "work_order.cannot_complete", f"work_order:{order_id}",
           body.reason)
    session.commit()
    ctx.request_replan()
    return {"work_order_id": order.id, "status": order.status}


def _gave_back(session: Session, order: WorkOrder, principal: Principal, reason: str) -> bool:
    """Whether this caller already gave the order back with this reason and it is not
    theirs again since: then the request is a replay, answered without doing it twice
    (an engineer's replay would otherwise get a 403, the job being no longer theirs)."""
    who = principal.engineer_id or "engineer"
    if principal.engineer_id is not None and order.engineer_id == principal.engineer_id:
        return False
    return session.exec(select(WorkOrderEvent.id).where(
        WorkOrderEvent.work_order_id == order.id, WorkOrderEvent.status == "cannot_complete",
        WorkOrderEvent.note == f"{who}: {reason.strip()}")).first() is not None


def _report_change(session: Session, order_id: int, principal: Principal, action: str,
                   detail: str, change) -> dict[str, Any]:
    order = _order(session, order_id, principal)
    try:
        report = change(order)
    except ReportError as err:
        raise HTTPException(409, str(err)) from None
    record(session, principal.actor, action, f"work_order:{order_id}", detail)
    session.commit()
    return as_dict(report)


@router.post("/api/work-orders/{order_id}/parts")
def record_parts(order_id: RowId, body: PartsIn, session: SessionDep,
                 principal: Staff) -> dict[str, Any]:
    parts = [p.model_dump() for p in body.parts]
    order = _order(session, order_id, principal)
    try:
        report, added = add_parts(session, order, parts, now_ms(), entry=body.client_id)
    except ReportError as err:
        raise HTTPException(409, str(err)) from None
    if added:  # a replay (same client_id) changed nothing and is not logged again
        record(session, principal.actor, "job_report.parts", f"work_order:{order_id}",
               ", ".join(f"{p['qty']} x {p['part']}" for p in parts))
        session.commit()
    return as_dict(report)


@router.put("/api/work-orders/{order_id}/notes")
def record_notes(order_id: RowId, body: NotesIn, session: SessionDep,
                 principal: Staff) -> dict[str, Any]:
    return _report_change(session, order_id, principal, "job_report.notes", body.notes[:200],
                          lambda order: set_notes(session, order, body.notes, now_ms()))


@router.post("/api/work-orders/{order_id}/photos")
async def upload_photo(order_id: RowId, ctx: ContextDep, session: SessionDep,
                       principal: Staff,
                       photo: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
                       client_id: Annotated[str | None, Form(pattern=CLIENT_ID,
                                                             description=CLIENT_ID_HELP)] = None,
                       ) -> dict[str, Any]:
    data, suffix = await read_image(photo, "photo")
    if not data:
        raise HTTPException(422, "photo: the file is empty")
    _order(session, order_id, principal)  # refuse before writing anything
    stored = as_dict(session.get(JobReport, order_id))
    if client_id and any(Path(p).stem == client_id for p in stored["photos"]):
        return {**stored, "already": True}
    name = f"{client_id or secrets.token_urlsafe(12)}{suffix}"
    (_uploads(ctx, order_id) / name).write_bytes(data)
    return {**_report_change(session, order_id, principal, "job_report.photo", name,
                             lambda order: add_photo(session, order, name, now_ms())),
            "already": False}


@router.post("/api/work-orders/{order_id}/sign-off")
def customer_sign_off(order_id: RowId, body: SignOffIn, ctx: ContextDep, session: SessionDep,
                      principal: Staff) -> dict[str, Any]:
    """The customer signs on the engineer's phone; the signature is kept as a PNG."""
    encoded = body.signature_png.split(",", 1)[-1]
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, "signature_png: not base64") from None
    if not image.startswith(PNG_MAGIC):
        raise HTTPException(422, "signature_png: not a PNG image")
    order = _order(session, order_id, principal)
    name = f"signature-{body.client_id or secrets.token_urlsafe(8)}.png"
    stored = session.get(JobReport, order_id)
    if body.client_id and stored and stored.signed_at is not None and stored.signature == name:
        return {**as_dict(stored), "already": True}
    if order.status not in ("on_site", "done"):
        raise HTTPException(409, "the customer signs off on site: mark the job 'on_site' first")
    (_uploads(ctx, order_id) / name).write_bytes(image)
    return {**_report_change(session, order_id, principal, "job_report.sign_off",
                             body.signed_by,
                             lambda o: sign_off(session, o, body.signed_by, name, now_ms())),
            "already": False}


@router.get("/api/work-orders/{order_id}/files/{name}", response_class=FileResponse,
            responses={200: {"content": {"image/*": {}}}})
def job_file(order_id: RowId, name: str, ctx: ContextDep, session: SessionDep,
             principal: Staff) -> FileResponse:
    """A photo or the signature of the job's report, or a photo the customer sent."""
    order = _order(session, order_id, principal)
    stored = session.get(JobReport, order_id)
    mine = set(as_dict(stored)["photos"]) | (
        {stored.signature} if stored and stored.signature else set())
    theirs = {a.file_name for a in _attachments(session, order.case_id)}
    if ctx.uploads_dir is None or name not in mine | theirs:
        raise HTTPException(404, f"work order {order_id} has no file '{name[:100]}'")
    folder = (ctx.uploads_dir / "work-orders" / str(order_id) if name in mine
              else ctx.uploads_dir / "cases" / str(order.case_id))
    return FileResponse(folder / name)


@pages.get("/engineer/{engineer_id}/jobs/{order_id}")
def job_page(engineer_id: str, order_id: RowId, request: Request, session: SessionDep,
             principal: StaffPage) -> Response:
    own_engineer(engineer_id, principal)
    order = _order(session, order_id, principal)
    return render(request, "engineer_job.html",
                  {"engineer_id": engineer_id, "order_id": order.id}, principal)
