"""`GET /api/events` (the dispatcher console) and `GET /q/{token}/events` (a customer's
device page): the live feed as server-sent events, pushed from the process's one
change feed (`portal.live_hub`), each stream filtered to what its caller may see.

Each event carries an `id` that encodes the feed's cursor; a browser's EventSource
sends it back as `Last-Event-ID` when it reconnects, and the stream first reads from
the database what happened since (`_catch_up`), so nothing is missed across a
dropped connection, a slow client dropped by the hub included. A stream ends after
`STREAM_S` (the browser reconnects by itself), which keeps long-lived connections
from piling up behind proxies, and within `RECHECK_S` of its caller losing access:
the credential it was opened with (API token, session, the customer's QR token) is
checked again while it runs, so a revoked token, an ended session, a disabled user,
a changed role or a rotated QR code stops it. A client that takes more than
`SEND_TIMEOUT_S` to take an event is cut off (back-pressure: the hub drops it too).
Left out of the OpenAPI schema: a stream is not a JSON response that generated
clients or schema fuzzers could use.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import Send

from portal.app_state import app_singleton
from portal.auth.dependencies import (
    STAFF_ROLES,
    GuardedRoute,
    allowed_now,
    public_rate_limit,
    staff_only,
)
from portal.context import ContextDep
from portal.live_feed import Cursor, LiveEvent
from portal.live_hub import LiveHub, Subscriber, after
from portal.pages.customer import invalid_code
from portal.queries.devices import device_by_token
from portal.read_cache import tell_caches

router = APIRouter(route_class=GuardedRoute)

POLL_S = 0.5
HEARTBEAT_S = 15.0
STREAM_S = 300.0
RECHECK_S = 2.0
SEND_TIMEOUT_S = 10.0
HUB_STATE_KEY = "live_hub"
_LAST_ID = re.compile(r"a(\d+)-w(\d+)-p(\d+)\Z")


def live_hub(request: Request) -> LiveHub:
    """The app's hub (one per process), made on first use."""
    state = request.app.state

    def make() -> LiveHub:
        hub = LiveHub(state.ctx.engine, POLL_S)
        # The caches learn of other processes' changes before any stream does,
        # so a console refetching on an event gets the changed answer.
        hub.on_change(lambda events: tell_caches(state, events))
        return hub

    return app_singleton(state, HUB_STATE_KEY, make)


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


class LiveStream(StreamingResponse):
    """A StreamingResponse that gives up on a client not taking an event within
    `SEND_TIMEOUT_S`: the connection is closed rather than held open behind it."""

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        iterator = self.body_iterator
        try:
            async for chunk in iterator:
                body = chunk if isinstance(chunk, bytes) else str(chunk).encode()
                with anyio.fail_after(SEND_TIMEOUT_S):
                    await send({"type": "http.response.body", "body": body,
                                "more_body": True})
        except TimeoutError:
            return  # the server closes the connection: the response never completed
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def staff_view(event: LiveEvent) -> LiveEvent | None:
    return event  # dispatchers and admins see every change


def customer_view(device_id: str) -> Callable[[LiveEvent], LiveEvent | None]:
    """A customer sees their own device's changes only, without staff names, notes or
    other devices' engineers and plans."""
    def view(event: LiveEvent) -> LiveEvent | None:
        if event.kind == "plan" or event.data.get("device_id") != device_id:
            return None
        keep = {"alert": ("alert_id", "action", "at", "device_id", "severity", "state"),
                "work_order": ("work_order_id", "status", "at", "device_id", "eta"),
                "device": ("device_id", "online")}[event.kind]
        return LiveEvent(event.kind, {k: event.data.get(k) for k in keep}, event.ref)
    return view


async def _catch_up(hub: LiveHub, resume: Cursor, present: Cursor,
                    view: Callable[[LiveEvent], LiveEvent | None]
                    ) -> tuple[list[LiveEvent], Cursor]:
    """What happened between the client's cursor and the hub's, from the database."""
    if (resume.alert_event_id, resume.work_order_event_id, resume.plan_id) == (
            present.alert_event_id, present.work_order_event_id, present.plan_id):
        return [], present
    events, cursor = await run_in_threadpool(
        hub.feed.poll, Cursor(resume.alert_event_id, resume.work_order_event_id,
                              resume.plan_id, present.online))
    shown = [v for e in events if e.ref is not None and (v := view(e)) is not None]
    return shown, cursor


async def _stream(request: Request, hub: LiveHub, resume: Cursor, present: Cursor,
                  subscriber: Subscriber, max_s: float,
                  still_allowed: Callable[[], Awaitable[bool]]) -> AsyncIterator[str]:
    try:
        yield f"retry: {int(POLL_S * 3000)}\n\n"
        caught_up, cursor = await _catch_up(hub, resume, present, subscriber.accept)
        for event in caught_up:
            yield sse(event, cursor)
        loop = asyncio.get_running_loop()
        ends = loop.time() + max_s
        quiet_since = checked = loop.time()
        while loop.time() < ends:
            if loop.time() - checked >= RECHECK_S:
                if not await still_allowed():
                    return  # access ended: so does the stream (a reconnect gets 401/404)
                checked = loop.time()
            if subscriber.dropped and subscriber.queue.empty():
                return  # too slow: the browser reconnects and catches up from its cursor
            wait = max(0.0, min(RECHECK_S, ends - loop.time()))
            try:
                events, batch_cursor = await asyncio.wait_for(subscriber.queue.get(), wait)
            except TimeoutError:
                if loop.time() - quiet_since >= HEARTBEAT_S:
                    yield ": keep-alive\n\n"
                    quiet_since = loop.time()
                continue
            for event in events:
                if after(event, cursor):
                    yield sse(event, batch_cursor)
            quiet_since = loop.time()
    finally:
        hub.unsubscribe(subscriber)


def _respond(stream: AsyncIterator[str]) -> LiveStream:
    return LiveStream(stream, media_type="text/event-stream",
                      headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/api/events", include_in_schema=False,
            dependencies=[Depends(staff_only)])
async def live_events(request: Request,
                      last_event_id: str | None = Header(default=None),
                      max_s: float = Query(STREAM_S, ge=0, le=STREAM_S,
                                           description="end the stream after this long")
                      ) -> LiveStream:
    hub = live_hub(request)
    present = await hub.start()
    subscriber = hub.subscribe(staff_view)

    async def still_allowed() -> bool:
        return await allowed_now(request, STAFF_ROLES)

    return _respond(_stream(request, hub, resume_from(last_event_id, present), present,
                            subscriber, max_s, still_allowed))


def _device_of(engine: Engine, token: str) -> str | None:
    with Session(engine) as session:
        device = device_by_token(session, token)
        return device.id if device is not None else None


@router.get("/q/{token}/events", include_in_schema=False,
            dependencies=[Depends(public_rate_limit)])
async def customer_events(token: str, request: Request, ctx: ContextDep,
                          last_event_id: str | None = Header(default=None),
                          max_s: float = Query(STREAM_S, ge=0, le=STREAM_S)) -> LiveStream:
    """The customer's device page's live changes: its alerts (no names, no notes), its
    repairs' steps with the ETA, its online state."""
    device_id = await run_in_threadpool(_device_of, ctx.engine, token)
    if device_id is None:
        raise HTTPException(404, invalid_code(ctx.support_contact))
    hub = live_hub(request)
    present = await hub.start()
    subscriber = hub.subscribe(customer_view(device_id))

    async def still_allowed() -> bool:  # a rotated or revoked code ends the stream
        return await run_in_threadpool(_device_of, ctx.engine, token) == device_id

    return _respond(_stream(request, hub, resume_from(last_event_id, present), present,
                            subscriber, max_s, still_allowed))
