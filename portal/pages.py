"""HTML pages for the three human roles: dispatcher, customer, engineer."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from asset_registry.catalog import severity_rank
from asset_registry.database import session_scope
from dispatch.service import StatusError, open_case, set_status
from dispatch.tables import Engineer, WorkOrder
from portal import queries
from portal.context import ContextDep, SessionDep

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
router = APIRouter(include_in_schema=False)

FAULT_CATEGORIES = ("Not working", "Poor performance", "Leak", "Noise or vibration",
                    "Error on display", "Other")


def _clock(ms: int | None, tz: ZoneInfo | None = None) -> str:
    """A time as people on site read it: weekday and local time."""
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%a %H:%M") if ms else "—"


templates.env.filters["clock"] = _clock


def _plain_state(online: bool, worst: str | None) -> tuple[str, str]:
    """The device's condition in words a customer understands, and a css class."""
    if worst and severity_rank(worst) >= severity_rank("high"):
        return "Fault detected — our service team has been alerted", "bad"
    if worst:
        return "Needs attention soon", "warn"
    if not online:
        return "Not connected — we cannot see it right now", "offline"
    return "Working normally", "ok"


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "index.html", {})


@router.get("/dispatch", response_class=HTMLResponse)
def dispatch_console(request: Request, ctx: ContextDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "dispatch.html", {"tile_url": ctx.tile_url})


@router.get("/q/{token}", response_class=HTMLResponse)
def customer_page(token: str, request: Request, ctx: ContextDep, session: SessionDep,
                  reported: int | None = None) -> HTMLResponse:
    device = queries.device_by_token(session, token)
    if device is None:
        # Same answer for a wrong or a revoked token: nothing to learn from it.
        raise HTTPException(404, "This code is not valid. Please contact your service provider.")
    detail = queries.device_detail(session, device.id, ctx.models)
    assert detail is not None
    state, state_class = _plain_state(detail.online, detail.worst_severity)
    return templates.TemplateResponse(request, "customer.html", {
        "token": token, "device": detail, "state": state, "state_class": state_class,
        "alerts": queries.list_alerts(session, state="open", device_id=device.id),
        "orders": queries.device_work_orders_with_events(session, device.id),
        "engineers": {e.id: e.name for e in queries.list_engineers(session)},
        "categories": FAULT_CATEGORIES, "reported": reported, "tz": ctx.tz,
    })


@router.post("/q/{token}/report")
def report_fault(
    token: str, ctx: ContextDep, session: SessionDep,
    category: Annotated[str, Form()], description: Annotated[str, Form(max_length=2000)] = "",
    contact: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    device = queries.device_by_token(session, token)
    if device is None:
        raise HTTPException(404, "This code is not valid. Please contact your service provider.")
    if category not in FAULT_CATEGORIES:
        raise HTTPException(422, f"category must be one of {FAULT_CATEGORIES}")
    model = ctx.models[device.model_id]
    with session_scope(ctx.engine) as tx:
        case, _order = open_case(
            tx, device_id=device.id, source="customer", title=f"Customer report: {category}",
            description=description, contact=contact, skill=model.service_skill,
            duration_min=model.service_minutes, priority=3,
        )
    ctx.request_replan()
    return RedirectResponse(f"/q/{token}?reported={case.id}", status_code=303)


@router.get("/engineer/{engineer_id}", response_class=HTMLResponse)
def engineer_page(engineer_id: str, request: Request, ctx: ContextDep,
                  session: SessionDep) -> HTMLResponse:
    engineer = session.get(Engineer, engineer_id)
    if engineer is None:
        raise HTTPException(404, f"no engineer '{engineer_id}'")
    jobs = queries.engineer_jobs(session, engineer_id)
    return templates.TemplateResponse(request, "engineer.html", {
        "engineer": engineer, "jobs": jobs, "models": ctx.models, "tz": ctx.tz,
    })


@router.post("/engineer/{engineer_id}/jobs/{order_id}/status")
def engineer_status(engineer_id: str, order_id: int, ctx: ContextDep,
                    status: Annotated[str, Form()]) -> RedirectResponse:
    with session_scope(ctx.engine) as session:
        order = session.get(WorkOrder, order_id)
        if order is None or order.engineer_id != engineer_id:
            raise HTTPException(404, "no such job for this engineer")
        try:
            set_status(session, order, status, note=f"by {engineer_id}")
        except StatusError as err:
            raise HTTPException(409, str(err)) from None
    return RedirectResponse(f"/engineer/{engineer_id}", status_code=303)
