"""Read answers served from memory, kept current by the writes (issue 24).

A `ReadCache` keeps the JSON of one kind of answer per key (the query's filters),
with a strong ETag and gzip (`device_list_cache.Body`), and rebuilds an answer when

* this process wrote one of the tables it reads (`table_watch.WATCH`: counted as
  the statements run and again when their transaction ends, so at once);
* the live hub saw a change of a kind it shows (`on_live_events`: another process's
  alerts, work-order steps or online flips, within the hub's 1 s poll, and before
  any console is told of it);
* or it is `max_age_s` old (1 s): the bound for everything else, e.g. another
  process's write while no live stream runs in this one.

Answers are built on a thread, one at a time per cache; serving a kept answer
needs neither a thread nor the database.

The app's caches (`CACHES`): the alert list (`GET /api/alerts`), the work-order
list (`GET /api/work-orders`; an engineer's key is their own id) and a device's
detail (`GET /api/devices/{id}`, whose latest readings make it a short-lived entry
where ingest writes often).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import Engine
from sqlmodel import Session

from portal.device_list_cache import APP_STATE_KEY as DEVICE_LIST_KEY
from portal.device_list_cache import Body
from portal.table_watch import WATCH

MAX_AGE_S = 1.0
MAX_KEYS = 4096  # keys come from callers' filters: bounded, then started over
APP_STATE_KEY = "read_caches"

Build = Callable[[Session, Any], Any]  # (session, key) -> rows (JSON-able), or None


@dataclass(frozen=True)
class CacheSpec:
    tables: tuple[str, ...]  # what the answer reads
    kinds: tuple[str, ...]  # the live hub's event kinds that change it
    build: Build


class ReadCache:
    def __init__(self, engine: Engine, spec: CacheSpec, max_age_s: float = MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self.spec = spec
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, int, int, Body | None]] = {}
        self.hub_changes = 0
        self.rebuilds = 0

    def on_live_events(self, events: list[Any]) -> None:
        if any(e.kind in self.spec.kinds for e in events):
            self.hub_changes += 1

    def current(self, key: Hashable) -> tuple[bool, Body | None]:
        """(True, the kept answer) if nothing says it changed, else (False, None)."""
        kept = self._kept.get(key)
        if kept is None:
            return False, None
        built_at, stamp, hub, body = kept
        if hub != self.hub_changes or stamp != WATCH.stamp(self.spec.tables):
            return False, None
        # Only aged: while another request reads it afresh, the others serve this one
        # (the bound is then max_age_s plus one read) rather than queue behind it.
        if self._clock() - built_at < self.max_age_s or self._lock.locked():
            return True, body
        return False, None

    def build(self, key: Hashable) -> Body | None:
        """Read the answer afresh (on a thread) and keep it; None: nothing there."""
        with self._lock:
            known, body = self.current(key)  # another request may have just built it
            if known:
                return body
            # Stamps before reading: a write during the read makes the answer stale.
            stamp = WATCH.stamp(self.spec.tables)
            hub, built_at = self.hub_changes, self._clock()
            with Session(self._engine) as session:
                rows = self.spec.build(session, key)
            body = None if rows is None else Body.of(rows)
            kept = self._kept.get(key)
            if body is not None and kept is not None and kept[3] is not None \
                    and kept[3].etag == body.etag:
                body = kept[3]  # unchanged: keep its gzip, made once
            if len(self._kept) >= MAX_KEYS:
                self._kept.clear()
            self._kept[key] = (built_at, stamp, hub, body)
            self.rebuilds += 1
            return body


_lock = threading.Lock()


def read_cache(request: Request, name: str, spec: CacheSpec) -> ReadCache:
    """The app's cache called `name`, made on first use."""
    state = request.app.state
    caches: dict[str, ReadCache] | None = getattr(state, APP_STATE_KEY, None)
    if caches is None or name not in caches:
        with _lock:
            caches = getattr(state, APP_STATE_KEY, None) or {}
            if name not in caches:
                caches = {**caches, name: ReadCache(state.ctx.engine, spec)}
                setattr(state, APP_STATE_KEY, caches)
    return caches[name]


async def cached_body(request: Request, name: str, spec: CacheSpec, key: Hashable
                      ) -> Body | None:
    """The answer for `key`: from memory on the event loop, or built on a thread."""
    from starlette.concurrency import run_in_threadpool

    cache = read_cache(request, name, spec)
    known, body = cache.current(key)
    if known:
        return body
    return await run_in_threadpool(cache.build, key)


def tell_caches(app_state: Any, events: list[Any]) -> None:
    """The live hub's changes, for the app's read caches (those made so far)."""
    caches: dict[str, ReadCache] = getattr(app_state, APP_STATE_KEY, None) or {}
    for cache in caches.values():
        cache.on_live_events(events)
    device_list = getattr(app_state, DEVICE_LIST_KEY, None)
    if device_list is not None:
        device_list.on_live_events(events)
