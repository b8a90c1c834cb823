"""One change feed per process, pushed to every open live stream.

Before (issue 24) every open console polled the database once a second, re-reading
every device's online flag: 100 consoles were 100 polls a second of 10,000 rows. The
hub polls `LiveFeed` once per `POLL_S` (0.5 s) for the whole process and hands each batch of
changes to its subscribers (the SSE streams of `routers/live_events.py`), each
through its own bounded queue and its own filter, so every stream sees only what its
caller may see, and a poll costs the same for 1 or 1,000 streams.

Back-pressure: a subscriber whose queue is full (a client that does not read, or
reads slower than changes come) is dropped, not waited for; its stream ends, and
the browser's EventSource reconnects with its `Last-Event-ID` and reads what it
missed from the database (`catch_up`), so a slow client costs the others nothing
and loses nothing.

The hub also tells the process's read caches (open alerts, the device list) that
something they show changed (`on_change`), so they rebuild at the next request,
not only when their age runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from portal.live_feed import Cursor, LiveEvent, LiveFeed

log = logging.getLogger(__name__)

POLL_S = 0.5
# Batches a subscriber may have waiting before it counts as too slow and is dropped.
QUEUE_BATCHES = 64

Accept = Callable[[LiveEvent], LiveEvent | None]  # the caller's view of an event, or None


@dataclass(eq=False)
class Subscriber:
    accept: Accept
    queue: asyncio.Queue[tuple[list[LiveEvent], Cursor]] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_BATCHES))
    dropped: bool = False

    def offer(self, events: list[LiveEvent], cursor: Cursor) -> bool:
        """Queue what of `events` the caller may see; False when it is too far behind."""
        seen = [shown for e in events if (shown := self.accept(e)) is not None]
        if not seen:
            return True
        try:
            self.queue.put_nowait((seen, cursor))
        except asyncio.QueueFull:
            self.dropped = True
            return False
        return True


class LiveHub:
    def __init__(self, engine: Engine, poll_s: float = POLL_S) -> None:
        self.feed = LiveFeed(engine)
        self.poll_s = poll_s
        self.subscribers: set[Subscriber] = set()
        self.cursor: Cursor | None = None
        self.polls = 0
        self.dropped = 0
        self._on_change: list[Callable[[list[LiveEvent]], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()

    def on_change(self, listener: Callable[[list[LiveEvent]], None]) -> None:
        self._on_change.append(listener)

    async def start(self) -> Cursor:
        """Start polling (once per process, on the first stream); the present cursor.
        Started again on another event loop (tests run one app on several in turn)."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._started = asyncio.Event()
            self.subscribers = set()
            self._task = loop.create_task(self._run())
        await self._started.wait()
        assert self.cursor is not None
        return self.cursor

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def subscribe(self, accept: Accept) -> Subscriber:
        subscriber = Subscriber(accept)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def publish(self, events: list[LiveEvent], cursor: Cursor) -> None:
        """Hand a batch to the caches and to every subscriber (the poll loop's step)."""
        self.cursor = cursor
        if not events:
            return
        for listener in self._on_change:
            listener(events)
        for subscriber in list(self.subscribers):
            if not subscriber.offer(events, cursor):
                self.unsubscribe(subscriber)
                self.dropped += 1

    async def _run(self) -> None:
        cursor = await run_in_threadpool(self.feed.start)
        self.cursor = cursor
        self._started.set()
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                events, cursor = await run_in_threadpool(self.feed.poll, cursor)
            except Exception:  # a busy or lost database: try again next time
                log.exception("live feed poll failed")
                continue
            self.polls += 1
            self.publish(events, cursor)


def after(event: LiveEvent, cursor: Cursor) -> bool:
    """Whether `event` is newer than `cursor` (a stream that caught up to `cursor` from
    the database must not be sent it again from the hub)."""
    ref = event.ref
    if ref is None:
        return True  # device flips: not replayed from the database
    limit = {"alert": cursor.alert_event_id, "work_order": cursor.work_order_event_id,
             "plan": cursor.plan_id}.get(event.kind)
    return limit is None or ref > limit
