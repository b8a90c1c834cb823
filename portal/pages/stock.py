"""The console's stock page: stock per van and warehouse, low-stock warnings, open
replenishment requests and the first-time-fix rate (drawn from the JSON API)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from portal.auth.dependencies import GuardedRoute, StaffPage
from portal.context import ContextDep
from portal.rendering import render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/dispatch/stock")
def stock_page(request: Request, ctx: ContextDep, principal: StaffPage) -> Response:
    # tz: the script shows times in the installation's zone.
    return render(request, "stock.html", {"tz": ctx.tz}, principal)
