"""HTML pages for staff: the start page, the dispatcher console, the engineer's jobs.

The customer's pages are in `portal/customer_pages.py`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlmodel import col, select
from starlette.responses import FileResponse, Response

from foundations.database import session_scope
from portal import queries
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import (
    PrincipalDep,
    own_engineer,
    page_role,
)
from portal.auth.tables import ROLES, ApiToken, PortalUser
from portal.context import ContextDep, SessionDep
from portal.rendering import render
from portal.schemas import RowId
from service.tables import Engineer, WorkOrder
from service.work_orders import StatusError, set_status

router = APIRouter(include_in_schema=False)
STATIC_DIR = Path(__file__).with_name("static")
DispatcherPage = Annotated[Principal, Depends(page_role("dispatcher", "admin"))]
EngineerPage = Annotated[Principal, Depends(page_role("engineer", "dispatcher", "admin"))]
AdminPage = Annotated[Principal, Depends(page_role("admin"))]


@router.get("/engineer-sw.js")
def engineer_service_worker() -> Response:
    """The engineer app's service worker. Served from the root with a header that
    allows it the /engineer/ scope (a path under /engineer/ would be taken for an
    engineer id); it holds no data of its own, so anyone may fetch it."""
    return FileResponse(STATIC_DIR / "engineer_sw.js", media_type="text/javascript",
                        headers={"Service-Worker-Allowed": "/engineer/",
                                 "Cache-Control": "no-cache"})


@router.get("/")
def index(request: Request, principal: PrincipalDep) -> Response:
    return render(request, "index.html", {}, principal)


@router.get("/dispatch")
def dispatch_console(request: Request, ctx: ContextDep, principal: DispatcherPage) -> Response:
    return render(request, "dispatch.html", {"tile_url": ctx.tile_url}, principal)


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


@router.get("/admin/users")
def admin_users(request: Request, session: SessionDep, principal: AdminPage) -> Response:
    """Users with their roles, state and API tokens; the page's buttons call the JSON API."""
    users = session.exec(select(PortalUser).order_by(PortalUser.username)).all()
    tokens: dict[int, list[ApiToken]] = {}
    for token in session.exec(select(ApiToken).order_by(col(ApiToken.id).desc())):
        tokens.setdefault(token.user_id, []).append(token)
    engineers = session.exec(select(Engineer).order_by(Engineer.name)).all()
    return render(request, "admin_users.html", {
        "users": users, "tokens": tokens, "engineers": engineers, "roles": ROLES,
    }, principal)
