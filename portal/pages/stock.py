"""The console's stock page: stock per van and warehouse, low-stock warnings, open
replenishment requests and the first-time-fix rate (drawn from the JSON API)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from portal.auth.dependencies import GuardedRoute, StaffPage
from portal.rendering import render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/dispatch/stock")
def stock_page(request: Request, principal: StaffPage) -> Response:
    return render(request, "stock.html", {}, principal)
