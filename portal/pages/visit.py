"""The customer's page for one visit, linked from the "on the way" e-mail: who is coming
(first name) and when (the current plan's ETA), kept up to date without a reload by a
stream of its own; once the job is done, only "done". The visit's token
(`service.visit_links`) is the only key: no account, nothing else reachable with it,
a wrong token gets the same 404 as a visit that does not exist. Rate-limited per client
address, like the QR pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from portal.auth.dependencies import GuardedRoute, public_rate_limit
from portal.context import ContextDep, PortalContext, SessionDep
from portal.pages.customer import invalid_code
from portal.queries.visits import VisitView, visit_by_token
from portal.rendering import render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False,
                   dependencies=[Depends(public_rate_limit)])

POLL_S = 1.0
HEARTBEAT_S = 15.0
STREAM_S = 300.0  # then the browser reconnects by itself (`retry`)


def _visit(session: Session, token: str, ctx: PortalContext) -> VisitView:
    visit = visit_by_token(session, token, ctx.models)
    if visit is None:
        raise HTTPException(404, invalid_code(ctx.support_contact))
    return visit


@router.get("/v/{token}")
def visit_page(token: str, request: Request, ctx: ContextDep, session: SessionDep) -> Response:
    visit = _visit(session, token, ctx)
    return render(request, "visit.html", {"token": token, "visit": visit.public(), "tz": ctx.tz,
                                          "state": orjson.dumps(visit.public()).decode()})


@router.get("/v/{token}/live")
async def visit_live(token: str, request: Request, ctx: ContextDep,
                     max_s: float = Query(STREAM_S, ge=0, le=STREAM_S,
                                          description="end the stream after this long")
                     ) -> StreamingResponse:
    """Server-sent `visit` events: the visit as the page shows it, at once and whenever
    it changes (a new plan's ETA, the engineer arriving, the job done)."""

    def read() -> dict[str, object] | None:
        with Session(ctx.engine) as session:
            visit = visit_by_token(session, token, ctx.models)
        return None if visit is None else visit.public()

    first = await run_in_threadpool(read)
    if first is None:
        raise HTTPException(404, invalid_code(ctx.support_contact))

    async def stream() -> AsyncIterator[str]:
        yield f"retry: {int(POLL_S * 3000)}\n\n"
        loop = asyncio.get_running_loop()
        ends, quiet_since = loop.time() + max_s, loop.time()
        shown: dict[str, object] | None = None
        state: dict[str, object] | None = first
        while not await request.is_disconnected():
            if state is None:
                return  # the link is gone
            if state != shown:
                yield f"event: visit\ndata: {orjson.dumps(state).decode()}\n\n"
                shown, quiet_since = state, loop.time()
            elif loop.time() - quiet_since >= HEARTBEAT_S:
                yield ": keep-alive\n\n"
                quiet_since = loop.time()
            if state.get("phase") == "done" or loop.time() >= ends:
                return
            await asyncio.sleep(POLL_S)
            state = await run_in_threadpool(read)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
