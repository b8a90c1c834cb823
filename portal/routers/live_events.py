"""`GET /api/events`: the live feed as server-sent events, for the dispatcher console.

Each event carries an `id` that encodes the feed's cursor; a browser's
EventSource sends it back as `Last-Event-ID` when it reconnects, so nothing is
missed across a dropped connection. A stream ends after `STREAM_S` (the
browser reconnects by itself), which keeps long-lived connections from piling
up behind proxies, and within `RECHECK_S` of its caller losing access: the
credential it was opened with (API token or session) is checked again while it
runs, so a revoked token, an ended session, a disabled user or a changed role
stops it. Left out of the OpenAPI schema: a stream is not a JSON
response that generated clients or schema fuzzers could use.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from portal.auth.dependencies import STAFF_ROLES, GuardedRoute, staff_only, still_allowed
from portal.context import ContextDep
from portal.live_feed import Cursor, LiveEvent, LiveFeed

router = APIRouter(route_class=GuardedRoute)

POLL_S = 1.0
HEARTBEAT_S = 15.0
STREAM_S = 300.0
RECHECK_S = 2.0
_LAST_ID = re.compile(r"a(\d+)-w(\d+)-p(\d+)\Z")


def event_id(cursor: Cursor) -> str:
    return f"a{cursor.alert_event_id}-w{cursor.work_order_event_id}-p{cursor.plan_id}"


def resume_from(last_event_id: str | None, present: Cursor) -> Cursor:
    """The cursor a reconnecting client left off at (never ahead of the present)."""
    match = _LAST_ID.match(last_event_id or "")
    if match is None:
        return present
    a, w, p = (int(g) for g in match.groups())
    return Cursor(min(a, present.alert_event_id), min(w, present.work_order_event_id),
                  min(p, present.plan_id), present.online)


def sse(event: LiveEvent, cursor: Cursor) -> str:
    return (f"id: {event_id(cursor)}\nevent: {event.kind}\n"
            f"data: {orjson.dumps(event.data).decode()}\n\n")


@router.get("/api/events", include_in_schema=False,
            dependencies=[Depends(staff_only)])
async def live_events(request: Request, ctx: ContextDep,
                      last_event_id: str | None = Header(default=None),
                      max_s: float = Query(STREAM_S, ge=0, le=STREAM_S,
                                           description="end the stream after this long")
                      ) -> StreamingResponse:
    feed = LiveFeed(ctx.engine)
    cursor = resume_from(last_event_id, await run_in_threadpool(feed.start))

    async def stream() -> AsyncIterator[str]:
        nonlocal cursor
        yield f"retry: {int(POLL_S * 3000)}\n\n"
        loop = asyncio.get_running_loop()
        ends = loop.time() + max_s
        quiet_since = checked = loop.time()
        while loop.time() < ends and not await request.is_disconnected():
            if loop.time() - checked >= RECHECK_S:
                if not await run_in_threadpool(still_allowed, ctx.engine, request,
                                               STAFF_ROLES):
                    return  # access ended: so does the stream (a reconnect gets 401/403)
                checked = loop.time()
            events, cursor = await run_in_threadpool(feed.poll, cursor)
            for event in events:
                yield sse(event, cursor)
            if events:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= HEARTBEAT_S:
                yield ": keep-alive\n\n"
                quiet_since = loop.time()
            await asyncio.sleep(POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
