"""The console's device list (the map, `GET /api/devices`), served from a cached
snapshot, with its ETag and gzip representation.

The full list is 10,000 rows and about 4 MB of JSON; building it costs about 0.1 s,
so 100 consoles loading at once used to queue for seconds. `DeviceListCache` keeps
the rows and their serialised bytes (and gzip), with a strong ETag, and rebuilds
when the snapshot is stale:

* at once when the device count, which devices are offline, or which alerts are
  open (with their severities) differ from the snapshot's: a cheap version query
  per request (`portal.queries.devices.device_map_version`), so an online flip or an
  alert raised or cleared is in the very next response, as the console's live events
  expect;
* otherwise after `max_age_s` (1 s): the staleness bound of everything else on the
  list (last seen, names, places, models), plus one rebuild (about 0.1 s), as the
  other requests keep serving the aged snapshot while one request rebuilds it.

Rebuilds are single-flight and read in a fresh transaction. Filters and the search
are applied to the cached rows in memory; each distinct filter's bytes are kept
with the snapshot. Responses say `Cache-Control: private, no-cache`, so browsers
revalidate every time with `If-None-Match` and get a 304 when nothing changed.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import orjson
from fastapi import Request
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.responses import Response

from asset_registry.catalog import DeviceModel
from portal.app_state import app_singleton
from portal.queries.devices import (
    DeviceFilter,
    DeviceRow,
    MapVersion,
    device_map,
    device_map_version,
)
from portal.table_watch import WATCH

# Staleness bound of the columns the version query does not cover (last seen, names).
MAX_AGE_S = 1.0
# Bytes of filtered lists kept per snapshot: search terms are typed by people, and
# a term matching most serials costs as much as the full list.
MAX_VIEW_BYTES = 64 << 20
# Smaller bodies are sent as they are: compressing them saves nothing worth the time.
GZIP_MIN_BYTES = 1400
APP_STATE_KEY = "device_list_cache"  # where create_app's app keeps its cache
CACHE_CONTROL = "private, no-cache"  # per user; revalidate (If-None-Match) every time


@dataclass(slots=True)
class Body:
    """One filter's JSON, its strong ETag, and its gzip made on first demand."""

    raw: bytes
    etag: str
    _gzip: bytes | None = None

    @classmethod
    def of(cls, rows: object) -> Body:
        """`rows` (anything orjson takes) as JSON with its ETag."""
        raw = orjson.dumps(rows)
        return cls(raw, '"' + hashlib.blake2b(raw, digest_size=16).hexdigest() + '"')

    @property
    def gzip_etag(self) -> str:
        # A strong ETag names one representation: the gzip one needs its own.
        return self.etag[:-1] + '-gz"'

    def gzipped(self) -> bytes:
        if self._gzip is None:  # a race compresses twice at worst
            # Level 1: a sixth of the size at a fraction of level 6's time.
            self._gzip = gzip.compress(self.raw, compresslevel=1, mtime=0)
        return self._gzip


@dataclass(slots=True)
class Snapshot:
    version: MapVersion
    built_at: float  # the cache's clock
    rows: list[DeviceRow]  # shared by every view: never modified
    views: dict[DeviceFilter, Body] = field(default_factory=dict)
    view_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # When the version was last found equal: this process's writes to the versioned
    # tables and the live hub's changes then (`DeviceListCache.current`).
    checked: tuple[int, int] = (-1, -1)

    def view(self, where: DeviceFilter) -> Body:
        """The JSON of the rows `where` keeps, made once per snapshot."""
        body = self.views.get(where)
        if body is not None:
            return body
        with self._lock:  # 100 clients asking for the same new view make it once
            body = self.views.get(where)
            if body is None:
                body = Body.of(self.rows if where == ALL
                               else [d for d in self.rows if where.matches(d)])
                if self.view_bytes + len(body.raw) > MAX_VIEW_BYTES:
                    self.views = {k: v for k, v in self.views.items() if k == ALL}
                    self.view_bytes = sum(len(v.raw) for v in self.views.values())
                self.views[where] = body
                self.view_bytes += len(body.raw)
            return body


ALL = DeviceFilter()


class DeviceListCache:
    """The device list's snapshot (see the module's docstring for when it is rebuilt)."""

    def __init__(self, engine: Engine, max_age_s: float = MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self.max_age_s = max_age_s
        self._clock = clock  # injectable: the tests age snapshots without sleeping
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self.rebuilds = 0
        self.hub_changes = 0

    TABLES = ("device", "alert")

    def on_live_events(self, events: list[object]) -> None:
        """The live hub saw alerts or online flips (maybe another process's)."""
        self.hub_changes += 1

    def _stamp(self) -> tuple[int, int]:
        return WATCH.stamp(self.TABLES), self.hub_changes

    def current(self) -> Snapshot | None:
        """The snapshot without reading the database, when nothing can have changed
        what the version covers since it was last checked: no write to `device` or
        `alert` in this process, no change seen by the live hub (other processes',
        within its poll), and the snapshot is fresh, or aged while another request
        rebuilds it. None: ask `snapshot` (on a thread)."""
        snap = self._snapshot
        if snap is None or snap.checked != self._stamp():
            return None
        if self._fresh(snap) or self._lock.locked():
            return snap
        return None

    def invalidate(self) -> None:
        """Drop the snapshot: the next request rebuilds (for writers in this process)."""
        self._snapshot = None

    def _fresh(self, snap: Snapshot | None) -> bool:
        return snap is not None and self._clock() - snap.built_at < self.max_age_s

    def snapshot(self, session: Session, models: Mapping[str, DeviceModel]) -> Snapshot:
        """The current snapshot; `session` (the request's) reads the version."""
        stamp = self._stamp()  # before the read: a write during it is seen next time
        version = device_map_version(session)
        snap = self._snapshot
        if snap is not None and snap.version == version:
            snap.checked = stamp
            if self._fresh(snap):
                return snap
            # Only aged: while one request rebuilds, the others serve this one (so
            # the bound is max_age_s plus one rebuild) rather than queue behind it.
            if not self._lock.acquire(blocking=False):
                return snap
            try:
                return self._rebuild(models)
            finally:
                self._lock.release()
        with self._lock:
            snap = self._snapshot
            # Rebuilt while this request waited, from data at least as new as it saw.
            if snap is not None and snap.version == version and self._fresh(snap):
                return snap
            return self._rebuild(models)

    def _rebuild(self, models: Mapping[str, DeviceModel]) -> Snapshot:
        """Under the lock. Reads in a fresh transaction: the request's own may be
        older than the current snapshot, and must not put older data back."""
        with Session(self._engine) as fresh:
            version = device_map_version(fresh)
            snap = self._snapshot
            if snap is not None and snap.version == version and self._fresh(snap):
                return snap
            built_at = self._clock()  # before reading: the age errs on the old side
            stamp = self._stamp()
            rows = device_map(fresh, models)
            if snap is not None and snap.version == version and rows == snap.rows:
                # Only aged, and nothing changed: the views and their gzip stay.
                snap.built_at, snap.checked = built_at, stamp
                self.rebuilds += 1
                return snap
            snap = Snapshot(version, built_at, rows, checked=stamp)
        self._snapshot = snap
        self.rebuilds += 1
        return snap


def device_list_cache(request: Request) -> DeviceListCache:
    """The app's cache, made on first use (tests may put their own in app.state)."""
    state = request.app.state
    return app_singleton(state, APP_STATE_KEY, lambda: DeviceListCache(state.ctx.engine))


def cached_device_count(request: Request) -> int | None:
    """The devices in the latest snapshot, without reading the database (for /healthz);
    None before the first snapshot."""
    cache: DeviceListCache | None = getattr(request.app.state, APP_STATE_KEY, None)
    snap = cache._snapshot if cache is not None else None
    return len(snap.rows) if snap is not None else None


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether Accept-Encoding allows gzip (by name or '*', without q=0)."""
    for part in accept_encoding.split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        if coding.lower() not in ("gzip", "*"):
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def _etags(header: str) -> set[str]:
    """If-None-Match's entity tags, compared weakly as RFC 9110 asks."""
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def response_for(request: Request, body: Body) -> Response:
    """The body as the request can take it: gzipped when it accepts that and it is
    worth it, or a 304 when If-None-Match names either representation's ETag."""
    zipped = len(body.raw) >= GZIP_MIN_BYTES and accepts_gzip(
        request.headers.get("accept-encoding", ""))
    etag = body.gzip_etag if zipped else body.etag
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    sent = request.headers.get("if-none-match")
    if sent is not None and (sent.strip() == "*" or _etags(sent) & {body.etag, body.gzip_etag}):
        return Response(status_code=304, headers=headers)
    if zipped:
        headers["Content-Encoding"] = "gzip"
        return Response(body.gzipped(), media_type="application/json", headers=headers)
    return Response(body.raw, media_type="application/json", headers=headers)
