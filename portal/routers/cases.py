"""Service cases: read with their SLA clocks and work orders (clocks judged as of the
request, `service/sla.py`), and opened and changed by other systems (CRMs) through
the intake API, each call safe to retry with an `Idempotency-Key`.

Integrations call with an API token of a dispatcher or admin. Every change here is an
ORM write, so it reaches the domain-event outbox and the webhooks like any other.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlmodel import Session, select

from asset_registry.tables import Device
from foundations.clock import now_ms
from portal.auth.audit import record
from portal.auth.dependencies import GuardedRoute, Staff, staff_only
from portal.context import ContextDep, SessionDep
from portal.idempotency import KeyHeader, once
from portal.queries.cases import case_detail, case_with_orders, list_cases
from portal.schemas.cases import CaseChange, CaseDetail, CaseIn, CasePublic, CaseWithOrders
from portal.schemas.common import RowId
from service.cases import CaseError, open_requested_case
from service.cases import change_case as change
from service.tables import Case, CaseAttachment

router = APIRouter(route_class=GuardedRoute, dependencies=[Depends(staff_only)])


@router.get("/api/cases", tags=["cases"])
def cases(
    session: SessionDep,
    status: Literal["open", "closed"] | None = None,
    device_id: Annotated[str | None, Query(max_length=100)] = None,
    customer_id: Annotated[str | None, Query(max_length=100)] = None,
    sla: Annotated[Literal["ok", "warning", "breached", "met"] | None,
                   Query(description="only cases whose worst SLA clock is in this state")
                   ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[CasePublic]:
    """Cases, newest first, each with its SLA clocks (response: an engineer on site;
    resolution: the case closed) and their state now."""
    return list_cases(session, now_ms(), status=status, device_id=device_id,
                      customer_id=customer_id, sla_state=sla, limit=limit)


@router.get("/api/cases/{case_id}", tags=["cases"])
def case(case_id: RowId, session: SessionDep) -> CaseDetail:
    """One case with its SLA clocks, its work orders and their timelines."""
    detail = case_detail(session, case_id, now_ms())
    if detail is None:
        raise HTTPException(404, f"no case {case_id}")
    return detail


@router.get("/api/cases/{case_id}/files/{name}", tags=["cases"],
            response_class=FileResponse,
            responses={200: {"content": {"application/pdf": {}, "image/*": {}}}})
def case_file(case_id: RowId, name: Annotated[str, Path(max_length=200)], ctx: ContextDep,
              session: SessionDep) -> FileResponse:
    """One of the case's files: a photo the customer sent, a visit's service report."""
    stored = session.exec(select(CaseAttachment).where(CaseAttachment.case_id == case_id,
                                                       CaseAttachment.file_name == name)
                          ).first()
    if stored is None or ctx.uploads_dir is None:
        raise HTTPException(404, f"case {case_id} has no file '{name[:100]}'")
    path = ctx.uploads_dir / "cases" / str(case_id) / stored.file_name
    if not path.is_file():
        raise HTTPException(404, f"the file '{stored.file_name}' of case {case_id} is missing")
    return FileResponse(path, media_type=stored.content_type)


@router.post("/api/cases", status_code=201, response_model=CaseWithOrders, tags=["intake"])
def create_case(body: CaseIn, request: Request, ctx: ContextDep, principal: Staff,
                idempotency_key: KeyHeader = None) -> JSONResponse:
    """Open a case with one work order for a device (like a customer's fault report)."""

    def action(session: Session) -> tuple[int, dict[str, Any]]:
        device = session.get(Device, body.device_id)
        if device is None:
            raise HTTPException(404, f"no device '{body.device_id}'")
        try:
            case, order = open_requested_case(
                session, device, ctx.models.get(device.model_id), title=body.title,
                description=body.description, contact=body.contact, priority=body.priority,
                skill=body.skill, duration_min=body.duration_min)
        except CaseError as err:
            raise HTTPException(409, str(err)) from None
        record(session, principal.actor, "case.create", f"case:{case.id}",
               f"work order {order.id}, priority {order.priority}")
        session.flush()
        return 201, case_with_orders(session, case).model_dump(mode="json")

    response, done = once(ctx, principal, idempotency_key, request, body, action)
    if done:
        ctx.request_replan()
    return response


@router.patch("/api/cases/{case_id}", response_model=CaseWithOrders, tags=["intake"])
def change_case(case_id: RowId, body: CaseChange, request: Request, ctx: ContextDep,
                principal: Staff, idempotency_key: KeyHeader = None) -> JSONResponse:
    """Change what a CRM may: title, description, contact, priority, open -> closed."""

    def action(session: Session) -> tuple[int, dict[str, Any]]:
        case = session.get(Case, case_id)
        if case is None:
            raise HTTPException(404, f"no case {case_id}")
        try:
            change(session, case, title=body.title, description=body.description,
                   contact=body.contact, priority=body.priority, status=body.status)
        except CaseError as err:
            raise HTTPException(409, str(err)) from None
        record(session, principal.actor, "case.change", f"case:{case_id}",
               body.model_dump_json(exclude_unset=True))
        session.flush()
        return 200, case_with_orders(session, case).model_dump(mode="json")

    response, done = once(ctx, principal, idempotency_key, request, body, action)
    if done and body.priority is not None:
        ctx.request_replan()
    return response
