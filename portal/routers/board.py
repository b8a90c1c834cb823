"""`GET /api/plans/board`: the dispatch board's data (staff): each engineer's day from
the plan in force, jobs as blocks with the drive before each, and the open jobs no plan
placed with the plan's reason (`portal.queries.board`). Moving a job on the board is
the pin API's (`PUT /api/work-orders/{id}/pin`, `routers/plans.py`)."""

from __future__ import annotations

from fastapi import APIRouter

from foundations.clock import now_ms
from portal.auth.dependencies import GuardedRoute, Staff
from portal.context import ContextDep, SessionDep
from portal.queries.board import Board, dispatch_board

router = APIRouter(route_class=GuardedRoute, tags=["dispatch"])


@router.get("/api/plans/board")
def board(_: Staff, ctx: ContextDep, session: SessionDep) -> Board:
    return dispatch_board(session, ctx.tz, now_ms())
