"""The engineer's pages: today's jobs with their status buttons, a job's page (a mobile
page on the JSON API of `portal/routers/work_orders.py`), and the app's service worker.
Engineers see their own jobs only; dispatchers and admins anyone's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from starlette.responses import FileResponse, Response

from foundations.database import session_scope
from portal.auth.audit import record
from portal.auth.dependencies import GuardedRoute, JobActorPage, job_of, own_engineer
from portal.context import ContextDep, SessionDep
from portal.i18n import N_
from portal.queries.engineers import engineer_jobs
from portal.rendering import render
from portal.schemas.common import RowId
from service.tables import Engineer, WorkOrder
from service.work_orders import StatusError, advance

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)
# A work order's status in the engineer's words (translated on the page).
STATUS_WORDS = {"new": N_("new"), "assigned": N_("assigned"), "accepted": N_("accepted"),
                "en_route": N_("en route"), "on_site": N_("on site"), "done": N_("done")}
STATIC_DIR = Path(__file__).parent.parent / "static"


@router.get("/engineer-sw.js")
def engineer_service_worker() -> Response:
    """The engineer app's service worker. Served from the root with a header that
    allows it the /engineer/ scope (a path under /engineer/ would be taken for an
    engineer id); it holds no data of its own, so anyone may fetch it."""
    return FileResponse(STATIC_DIR / "engineer_sw.js", media_type="text/javascript",
                        headers={"Service-Worker-Allowed": "/engineer/",
                                 "Cache-Control": "no-cache"})


@router.get("/engineer/{engineer_id}")
def engineer_page(engineer_id: str, request: Request, ctx: ContextDep,
                  session: SessionDep, principal: JobActorPage) -> Response:
    own_engineer(engineer_id, principal)
    engineer = session.get(Engineer, engineer_id)
    if engineer is None:
        raise HTTPException(404, f"no engineer '{engineer_id}'")
    return render(request, "engineer.html", {
        "engineer": engineer, "jobs": engineer_jobs(session, engineer_id),
        "models": ctx.models, "tz": ctx.tz, "statuses": STATUS_WORDS,
    }, principal)


@router.post("/engineer/{engineer_id}/jobs/{order_id}/status")
def engineer_status(engineer_id: str, order_id: RowId, ctx: ContextDep,
                    status: Annotated[str, Form()], principal: JobActorPage
                    ) -> RedirectResponse:
    own_engineer(engineer_id, principal)
    with session_scope(ctx.engine) as session:
        order = session.get(WorkOrder, order_id)
        if order is None or order.engineer_id != engineer_id:
            raise HTTPException(404, "no such job for this engineer")
        try:
            advance(session, order, status, note=f"by {engineer_id}")
        except StatusError as err:
            raise HTTPException(409, str(err)) from None
        record(session, principal.actor, "work_order.status", f"work_order:{order_id}", status)
    return RedirectResponse(f"/engineer/{engineer_id}", status_code=303)


@router.get("/engineer/{engineer_id}/jobs/{order_id}")
def job_page(engineer_id: str, order_id: RowId, request: Request, ctx: ContextDep,
             session: SessionDep, principal: JobActorPage) -> Response:
    own_engineer(engineer_id, principal)
    order = job_of(session, order_id, principal)
    # tz: the page's script shows times in the site's zone, wherever the phone is set.
    return render(request, "engineer_job.html",
                  {"engineer_id": engineer_id, "order_id": order.id, "tz": ctx.tz}, principal)
