"""HTML pages for the three human roles: dispatcher, customer, engineer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from asset_registry.catalog import severity_rank
from asset_registry.database import session_scope
from dispatch.service import StatusError, open_case, set_status
from dispatch.tables import Case, Engineer, WorkOrder
from portal import queries
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import (
    PrincipalDep,
    own_engineer,
    page_role,
    public_csrf,
    public_rate_limit,
)
from portal.context import ContextDep, SessionDep
from portal.rendering import render
from portal.schemas import RowId

router = APIRouter(include_in_schema=False)
# The customer's pages: the QR token is the only key, checked per request.
public = APIRouter(include_in_schema=False, dependencies=[Depends(public_rate_limit)])

FAULT_CATEGORIES = ("Not working", "Poor performance", "Leak", "Noise or vibration",
                    "Error on display", "Other")
INVALID_CODE = "This code is not valid. Please contact your service provider."
DispatcherPage = Annotated[Principal, Depends(page_role("dispatcher", "admin"))]
EngineerPage = Annotated[Principal, Depends(page_role("engineer", "dispatcher", "admin"))]


def _plain_state(online: bool, worst: str | None) -> tuple[str, str]:
    """The device's condition in words a customer understands, and a css class."""
    if worst and severity_rank(worst) >= severity_rank("high"):
        return "Fault detected — our service team has been alerted", "bad"
    if worst:
        return "Needs attention soon", "warn"
    if not online:
        return "Not connected — we cannot see it right now", "offline"
    return "Working normally", "ok"


@router.get("/")
def index(request: Request, principal: PrincipalDep) -> Response:
    return render(request, "index.html", {}, principal)


@router.get("/dispatch")
def dispatch_console(request: Request, ctx: ContextDep, principal: DispatcherPage) -> Response:
    return render(request, "dispatch.html", {"tile_url": ctx.tile_url}, principal)


def _first_name(name: str) -> str:
    # Customers learn who is coming, not the engineer's full name.
    return name.split()[0] if name.split() else "an engineer"


@public.get("/q/{token}")
def customer_page(token: str, request: Request, ctx: ContextDep, session: SessionDep,
                  reported: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None
                  ) -> Response:
    device = queries.device_by_token(session, token)
    if device is None:
        # Same answer for a wrong or a revoked token: nothing to learn from it.
        raise HTTPException(404, INVALID_CODE)
    detail = queries.device_detail(session, device.id, ctx.models)
    assert detail is not None
    state, state_class = _plain_state(detail.online, detail.worst_severity)
    orders = queries.device_work_orders_with_events(session, device.id)
    engineers = {o.engineer_id: _first_name(e.name) for o, _, _ in orders
                 if o.engineer_id and (e := session.get(Engineer, o.engineer_id))}
    case = session.get(Case, reported) if reported is not None else None
    return render(request, "customer.html", {
        "token": token, "device": detail, "state": state, "state_class": state_class,
        "alerts": queries.list_alerts(session, state="open", device_id=device.id),
        "orders": orders, "engineers": engineers, "categories": FAULT_CATEGORIES,
        # Only this device's cases are acknowledged: another number shows nothing.
        "reported": case.id if case is not None and case.device_id == device.id else None,
        "tz": ctx.tz,
    })


@public.post("/q/{token}/report", dependencies=[Depends(public_csrf)])
def report_fault(
    token: str, ctx: ContextDep, session: SessionDep,
    category: Annotated[str, Form()], description: Annotated[str, Form(max_length=2000)] = "",
    contact: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    device = queries.device_by_token(session, token)
    if device is None:
        raise HTTPException(404, INVALID_CODE)
    if category not in FAULT_CATEGORIES:
        raise HTTPException(422, f"category must be one of {FAULT_CATEGORIES}")
    model = ctx.models[device.model_id]
    with session_scope(ctx.engine) as tx:
        case, _order = open_case(
            tx, device_id=device.id, source="customer", title=f"Customer report: {category}",
            description=description, contact=contact, skill=model.service_skill,
            duration_min=model.service_minutes, priority=3,
        )
        record(tx, "customer:qr", "fault.report", f"device:{device.id}",
               f"case {case.id}: {category}")
    ctx.request_replan()
    return RedirectResponse(f"/q/{token}?reported={case.id}", status_code=303)


@router.get("/engineer/{engineer_id}")
def engineer_page(engineer_id: str, request: Request, ctx: ContextDep,
                  session: SessionDep, principal: EngineerPage) -> Response:
    own_engineer(engineer_id, principal)
    engineer = session.get(Engineer, engineer_id)
    if engineer is None:
        raise HTTPException(404, f"no engineer '{engineer_id}'")
    jobs = queries.engineer_jobs(session, engineer_id)
    return render(request, "engineer.html", {
        "engineer": engineer, "jobs": jobs, "models": ctx.models, "tz": ctx.tz,
    }, principal)


@router.post("/engineer/{engineer_id}/jobs/{order_id}/status")
def engineer_status(engineer_id: str, order_id: RowId, ctx: ContextDep,
                    status: Annotated[str, Form()], principal: EngineerPage) -> RedirectResponse:
    own_engineer(engineer_id, principal)
    with session_scope(ctx.engine) as session:
        order = session.get(WorkOrder, order_id)
        if order is None or order.engineer_id != engineer_id:
            raise HTTPException(404, "no such job for this engineer")
        try:
            set_status(session, order, status, note=f"by {engineer_id}")
        except StatusError as err:
            raise HTTPException(409, str(err)) from None
        record(session, principal.actor, "work_order.status", f"work_order:{order_id}", status)
    return RedirectResponse(f"/engineer/{engineer_id}", status_code=303)
