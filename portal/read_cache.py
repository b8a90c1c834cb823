"""`GET /api/alerts` served from memory, kept current by the writes (issue 24).

`OpenAlertsCache` keeps `GET /api/alerts`'s answers (per `state`, `device_id`) as
JSON with a strong ETag and gzip (`device_list_cache.Body`): rebuilt after a write
to `alert` or `alert_event` in this process, an alert change seen by the hub, or
`MAX_AGE_S`, whichever comes first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from portal.device_list_cache import Body
from portal.queries.alerts import list_alerts
from portal.table_watch import WATCH

MAX_AGE_S = 1.0
APP_STATE_KEY = "open_alerts_cache"

class OpenAlertsCache:
    TABLES = ("alert", "alert_event")

    def __init__(self, engine: Engine, max_age_s: float = MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._bodies: dict[tuple[str | None, str | None], tuple[float, int, int, Body]] = {}
        self.hub_changes = 0  # moved by the live hub on every alert change it sees
        self.rebuilds = 0

    def on_live_events(self, events: list[Any]) -> None:
        if any(e.kind == "alert" for e in events):
            self.hub_changes += 1

    def current(self, key: tuple[str | None, str | None]) -> Body | None:
        """The kept answer if nothing says it changed; None: rebuild (`build`)."""
        kept = self._bodies.get(key)
        if kept is None:
            return None
        built_at, stamp, hub, body = kept
        if (self._clock() - built_at >= self.max_age_s or hub != self.hub_changes
                or stamp != WATCH.stamp(self.TABLES)):
            return None
        return body

    def build(self, key: tuple[str | None, str | None]) -> Body:
        """Read the answer afresh (on a thread); kept for the next requests."""
        with self._lock:
            body = self.current(key)  # another request may have just built it
            if body is not None:
                return body
            # Stamps before reading: a write during the read makes the answer stale.
            stamp, hub, built_at = WATCH.stamp(self.TABLES), self.hub_changes, self._clock()
            with Session(self._engine) as session:
                rows = list_alerts(session, *key)
            body = Body.of([r.model_dump(mode="json") for r in rows])  # type: ignore[arg-type]
            if len(self._bodies) > 256:  # device_id is the caller's: bound the keys
                self._bodies.clear()
            self._bodies[key] = (built_at, stamp, hub, body)
            self.rebuilds += 1
            return body


_cache_lock = threading.Lock()


def open_alerts_cache(request: Any) -> OpenAlertsCache:
    """The app's cache, made on first use."""
    state = request.app.state
    cache: OpenAlertsCache | None = getattr(state, APP_STATE_KEY, None)
    if cache is None:
        with _cache_lock:
            cache = getattr(state, APP_STATE_KEY, None)
            if cache is None:
                cache = OpenAlertsCache(state.ctx.engine)
                setattr(state, APP_STATE_KEY, cache)
    return cache


def tell_caches(app_state: Any, events: list[Any]) -> None:
    """The live hub's changes, for the app's read caches (those made so far)."""
    from portal.device_list_cache import APP_STATE_KEY as DEVICE_LIST_KEY

    for name in (APP_STATE_KEY, DEVICE_LIST_KEY):
        cache = getattr(app_state, name, None)
        if cache is not None:
            cache.on_live_events(events)
