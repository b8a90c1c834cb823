"""Work orders: the list, changes by other systems (the intake API), and the engineer's
job app: a job's detail, its status steps, giving it back, and its report (parts,
notes, photos, the customer's sign-off) with the files.

The job app's script queues every change while the phone has no signal and sends it
when it reconnects. Replaying a change is harmless: a status the job already reached
answers 200 with `already: true`, and so does a photo or a sign-off sent again with
the same `client_id` (the phone's outbox entry; it names the stored file).
Engineers act on their own jobs only; dispatchers and admins on anyone's. Pinning a
job and its candidates are the plan view's (`portal/routers/plans.py`).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse
from sqlmodel import Session
from starlette.responses import FileResponse, Response

from foundations.clock import now_ms
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import AnyRole, GuardedRoute, JobActor, Staff, job_of
from portal.context import ContextDep, PortalContext, SessionDep
from portal.device_list_cache import response_for
from portal.idempotency import KeyHeader, once
from portal.queries.jobs import job_detail as job_view
from portal.queries.work_orders import case_attachments, list_work_orders
from portal.read_cache import CacheSpec, cached_body
from portal.schemas.common import RowId
from portal.schemas.work_orders import (
    CLIENT_ID,
    CLIENT_ID_HELP,
    GiveBack,
    NotesIn,
    PartsIn,
    SignOffIn,
    StatusChange,
    WorkOrderChange,
    WorkOrderPublic,
)
from portal.uploads import image_type, private_dir, read_image, write_private
from service import job_reports
from service.job_reports import ReportError, as_dict
from service.tables import WORK_ORDER_STATUSES, JobReport, WorkOrder
from service.work_orders import (
    ENGINEER_STEPS,
    AlreadyReached,
    StatusError,
    advance,
    gave_back,
    give_back,
    reprioritise,
)

router = APIRouter(route_class=GuardedRoute)
ENGINEER_APP: list[str | Enum] = ["engineer app"]  # the phone's job app


@router.get("/api/work-orders", tags=["work orders"], response_model=list[WorkOrderPublic])
async def work_orders(request: Request, principal: AnyRole, engineer_id: str | None = None,
                      device_id: str | None = None, status: str | None = None) -> Response:
    """All work orders; an engineer's token or session lists only that engineer's.
    Served from memory while none changed (`portal.read_cache`); a strong ETag."""
    if principal.role == "engineer":
        if engineer_id not in (None, principal.engineer_id):
            raise HTTPException(403, f"'{principal.username}' may only list their own jobs")
        if principal.engineer_id is None:
            return JSONResponse([])
        engineer_id = principal.engineer_id
    body = await cached_body(request, "work_orders", WORK_ORDERS,
                             (engineer_id, device_id, status))
    assert body is not None
    return response_for(request, body)


def _work_orders(session: Session, key: tuple[str | None, str | None, str | None]
                 ) -> list[dict[str, Any]]:
    return [w.model_dump(mode="json") for w in list_work_orders(session, *key)]


# Plans move work orders (engineer, ETA, status): the hub's plan events count too.
WORK_ORDERS = CacheSpec(("work_order",), ("work_order", "plan"), _work_orders)


@router.patch("/api/work-orders/{order_id}", response_model=WorkOrderPublic, tags=["intake"])
def change_work_order(order_id: RowId, body: WorkOrderChange, request: Request,
                      ctx: ContextDep, principal: Staff,
                      idempotency_key: KeyHeader = None) -> JSONResponse:
    """Change a work order's priority (while it is still to be planned) or move it
    forward in its life cycle (new -> assigned are the dispatcher's plans' to set)."""

    def action(session: Session) -> tuple[int, dict[str, Any]]:
        order = session.get(WorkOrder, order_id)
        if order is None:
            raise HTTPException(404, f"no work order {order_id}")
        try:
            if body.priority is not None:
                reprioritise(session, order, body.priority)
            if body.status is not None:
                _forward(session, order, body.status, f"by {principal.username}"
                         + (f": {body.note}" if body.note else ""))
        except StatusError as err:
            raise HTTPException(409, str(err)) from None
        record(session, principal.actor, "work_order.change", f"work_order:{order_id}",
               body.model_dump_json(exclude_unset=True))
        session.flush()
        return 200, WorkOrderPublic.model_validate(order, from_attributes=True
                                                   ).model_dump(mode="json")

    response, done = once(ctx, principal, idempotency_key, request, body, action)
    if done and body.priority is not None:
        ctx.request_replan()
    return response


def _forward(session: Session, order: WorkOrder, status: str, note: str) -> None:
    """The intake API's move: the status the order has already is nothing to do; a
    step back is refused."""
    try:
        advance(session, order, status, note)
    except AlreadyReached as err:
        if err.step_back:
            raise StatusError(f"{err}; the life cycle is {' -> '.join(WORK_ORDER_STATUSES)}"
                              ) from None


@router.get("/api/work-orders/{order_id}/job", tags=ENGINEER_APP)
def job_detail(order_id: RowId, ctx: ContextDep, session: SessionDep,
               principal: JobActor) -> dict[str, Any]:
    """A job with its device's latest readings, alerts, service history and report."""
    return job_view(session, job_of(session, order_id, principal), ctx.models)


@router.post("/api/work-orders/{order_id}/status", tags=ENGINEER_APP)
def change_status(order_id: RowId, body: StatusChange, session: SessionDep,
                  principal: JobActor) -> dict[str, Any]:
    """accept, on the way, on site, done; a step the job already passed is a no-op."""
    if body.status not in ENGINEER_STEPS:
        raise HTTPException(422, f"status: one of {', '.join(ENGINEER_STEPS)}")
    order = job_of(session, order_id, principal)
    try:
        advance(session, order, body.status,
                note=f"by {principal.username}" + (f": {body.note}" if body.note else ""))
    except AlreadyReached:
        return {"work_order_id": order.id, "status": order.status, "already": True}
    except StatusError as err:
        raise HTTPException(409, str(err)) from None
    record(session, principal.actor, "work_order.status", f"work_order:{order_id}", body.status)
    session.commit()
    return {"work_order_id": order.id, "status": order.status, "already": False}


@router.post("/api/work-orders/{order_id}/cannot-complete", tags=ENGINEER_APP)
def cannot_complete(order_id: RowId, body: GiveBack, ctx: ContextDep, session: SessionDep,
                    principal: JobActor) -> dict[str, Any]:
    """Give the job back to the dispatcher, with the reason the customer will see. Sent
    again (the phone never saw the answer), it is answered as done, not refused."""
    given_back = session.get(WorkOrder, order_id)
    # A replay is answered before the access check: the job is no longer the engineer's.
    if given_back is not None and gave_back(session, given_back, principal.engineer_id,
                                            body.reason):
        return {"work_order_id": order_id, "status": given_back.status, "already": True}
    order = job_of(session, order_id, principal)
    try:
        give_back(session, order, body.reason)
    except StatusError as err:
        raise HTTPException(409, str(err)) from None
    record(session, principal.actor, "work_order.cannot_complete", f"work_order:{order_id}",
           body.reason)
    session.commit()
    ctx.request_replan()
    return {"work_order_id": order.id, "status": order.status}


def _report_change(session: Session, order: WorkOrder, principal: Principal, action: str,
                   detail: str, change: Callable[[WorkOrder], JobReport]) -> dict[str, Any]:
    try:
        report = change(order)
    except ReportError as err:
        raise HTTPException(409, str(err)) from None
    record(session, principal.actor, action, f"work_order:{order.id}", detail)
    session.commit()
    return as_dict(report)


@router.post("/api/work-orders/{order_id}/parts", tags=ENGINEER_APP)
def record_parts(order_id: RowId, body: PartsIn, session: SessionDep,
                 principal: JobActor) -> dict[str, Any]:
    parts = [p.model_dump() for p in body.parts]
    order = job_of(session, order_id, principal)
    try:
        report, added = job_reports.add_parts(session, order, parts, now_ms(),
                                               entry=body.client_id)
    except ReportError as err:
        raise HTTPException(409, str(err)) from None
    if added:  # a replay (same client_id) changed nothing and is not logged again
        record(session, principal.actor, "job_report.parts", f"work_order:{order_id}",
               ", ".join(f"{p['qty']} x {p['part']}" for p in parts))
        session.commit()
    return as_dict(report)


@router.put("/api/work-orders/{order_id}/notes", tags=ENGINEER_APP)
def record_notes(order_id: RowId, body: NotesIn, session: SessionDep,
                 principal: JobActor) -> dict[str, Any]:
    order = job_of(session, order_id, principal)
    return _report_change(session, order, principal, "job_report.notes", body.notes[:200],
                          lambda o: job_reports.set_notes(session, o, body.notes, now_ms()))


def _uploads(ctx: PortalContext, order_id: int) -> Path:
    if ctx.uploads_dir is None:
        raise HTTPException(503, "this installation keeps no uploads (no uploads folder set)")
    return private_dir(ctx.uploads_dir, "work-orders", str(order_id))


def _stored(path: Path, data: bytes, record_it: Callable[[], dict[str, Any]]
            ) -> dict[str, Any]:
    """Write a file of the report (never over another) once every check has passed,
    then record it; a refusal of the record (a concurrent upload won) takes it back."""
    try:
        write_private(path, data)
    except FileExistsError:
        raise HTTPException(409, f"a file named '{path.name}' is stored already: send it "
                                 "under another client_id") from None
    try:
        return {**record_it(), "already": False}
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@router.post("/api/work-orders/{order_id}/photos", tags=ENGINEER_APP)
async def upload_photo(order_id: RowId, ctx: ContextDep, session: SessionDep,
                       principal: JobActor,
                       photo: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
                       client_id: Annotated[str | None, Form(pattern=CLIENT_ID,
                                                             description=CLIENT_ID_HELP)] = None,
                       ) -> dict[str, Any]:
    """Every check before anything is written: the job is the caller's, the upload is
    not a replay, the report takes another photo (not final, not full), the file is
    an image by its bytes."""
    order = job_of(session, order_id, principal)
    stored = session.get(JobReport, order_id)
    if client_id and job_reports.has_photo(stored, client_id):
        return {**as_dict(stored), "already": True}
    try:
        job_reports.check_new_photo(stored)
    except ReportError as err:
        raise HTTPException(409, str(err)) from None
    image = await read_image(photo, "photo")
    name = f"{client_id or secrets.token_urlsafe(12)}{image.suffix}"
    return _stored(_uploads(ctx, order_id) / name, image.data, lambda: _report_change(
        session, order, principal, "job_report.photo", name,
        lambda o: job_reports.add_photo(session, o, name, now_ms())))


@router.post("/api/work-orders/{order_id}/sign-off", tags=ENGINEER_APP)
def customer_sign_off(order_id: RowId, body: SignOffIn, ctx: ContextDep, session: SessionDep,
                      principal: JobActor) -> dict[str, Any]:
    """The customer signs on the engineer's phone; the signature is kept as a PNG."""
    encoded = body.signature_png.split(",", 1)[-1]
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, "signature_png: not base64") from None
    if image_type(image) != "image/png":
        raise HTTPException(422, "signature_png: not a PNG image")
    order = job_of(session, order_id, principal)
    name = f"signature-{body.client_id or secrets.token_urlsafe(8)}.png"
    stored = session.get(JobReport, order_id)
    if body.client_id and job_reports.signed_with(stored, name):
        return {**as_dict(stored), "already": True}
    try:  # refuse before writing the file
        job_reports.check_sign_off(order, stored)
    except ReportError as err:
        raise HTTPException(409, str(err)) from None
    return _stored(_uploads(ctx, order_id) / name, image, lambda: _report_change(
        session, order, principal, "job_report.sign_off", body.signed_by,
        lambda o: job_reports.sign_off(session, o, body.signed_by, name, now_ms())))


@router.get("/api/work-orders/{order_id}/files/{name}", tags=ENGINEER_APP,
            response_class=FileResponse,
            responses={200: {"content": {"image/*": {}}}})
def job_file(order_id: RowId, name: str, ctx: ContextDep, session: SessionDep,
             principal: JobActor) -> FileResponse:
    """A photo or the signature of the job's report, or a photo the customer sent."""
    order = job_of(session, order_id, principal)
    stored = session.get(JobReport, order_id)
    mine = set(as_dict(stored)["photos"]) | (
        {stored.signature} if stored and stored.signature else set())
    theirs = {a.file_name for a in case_attachments(session, order.case_id)}
    if ctx.uploads_dir is None or name not in mine | theirs:
        raise HTTPException(404, f"work order {order_id} has no file '{name[:100]}'")
    folder = (ctx.uploads_dir / "work-orders" / str(order_id) if name in mine
              else ctx.uploads_dir / "cases" / str(order.case_id))
    return FileResponse(folder / name)
