"""`/admin/articles`: admins write troubleshooting articles (every save a new version;
the page calls the JSON API of `portal/routers/articles.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from knowledge.front_matter import AUDIENCES
from portal.auth.dependencies import AdminPage, GuardedRoute
from portal.context import ContextDep
from portal.rendering import render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/admin/articles")
def admin_articles(request: Request, ctx: ContextDep, principal: AdminPage) -> Response:
    return render(request, "admin_articles.html", {
        "models": sorted(ctx.models), "audiences": AUDIENCES}, principal)
