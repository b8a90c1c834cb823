"""The dispatch board page (`/dispatch/board`, dispatchers and admins): engineers as
rows, the day as a timeline, the plan's jobs as blocks to drag to another engineer
(drawn by `static/board.js` from `GET /api/plans/board`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from portal.auth.dependencies import GuardedRoute, StaffPage
from portal.rendering import render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/dispatch/board")
def board_page(request: Request, principal: StaffPage) -> Response:
    return render(request, "board.html", {}, principal)
