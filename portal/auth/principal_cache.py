"""Who a credential belongs to, remembered for a second.

Every API request and page looks its caller up (`dependencies.principal_of`): a
token or session join with the user. Under load (issue 24) that lookup, a
database round trip on a thread, cost more than most read endpoints' own work, so
its answers are kept here for `TTL_S`.

A credential revoked, a session ended, a user disabled or re-roled **in this
process** drops every kept answer at once: a listener on every engine sees each
statement that writes `portal_user`, `api_token` or `user_session` (the portal's
own writers, the CLI's, tests') and empties the cache when it runs and again when
its transaction commits, and a lookup that began before such a write does not keep
what it read. A change made by **another process** sharing the database takes
effect here within `TTL_S` (1 s), as the live stream already re-checks its
credential every 2 s only. Only found callers are kept: an unknown or revoked
credential is looked up every time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import Pool

from portal.auth.accounts import Principal

TTL_S = 1.0
AUTH_TABLES = ("portal_user", "api_token", "user_session")
# Bound on the kept answers: each is a few hundred bytes; past it the cache starts over.
MAX_ENTRIES = 100_000
_FLAG = "fp_writes_auth"  # connection.info: this transaction wrote an auth table


class PrincipalCache:
    def __init__(self, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[tuple[int, str, str], tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self.generation = 0  # moves on every clear: a lookup begun before keeps nothing
        self._refreshing: set[tuple[int, str, str]] = set()

    def get(self, key: tuple[int, str, str]) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def due(self, key: tuple[int, str, str]) -> bool:
        """Whether a kept answer is past half its life and nobody is refreshing it yet:
        then the caller refreshes it (in the background), so a credential in steady use
        is never looked up by every request at once when its entry would expire."""
        entry = self._entries.get(key)
        if entry is None or entry[0] - self._clock() > self.ttl_s / 2:
            return False
        with self._lock:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)
            return True

    def refreshed(self, key: tuple[int, str, str], principal: Principal | None,
                  generation: int) -> None:
        """A background refresh's answer: kept, or (not found any more) dropped."""
        with self._lock:
            self._refreshing.discard(key)
            if principal is None:
                self._entries.pop(key, None)
        if principal is not None:
            self.put(key, principal, generation)

    def put(self, key: tuple[int, str, str], principal: Principal, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return  # an auth write happened since the lookup began: it may be stale
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (self._clock() + self.ttl_s, principal)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()
            self._refreshing.clear()


CACHE = PrincipalCache()


def cache_key(engine: Engine, via: str, digest: str) -> tuple[int, str, str]:
    # The engine's identity: tests run several portals over several databases at once.
    return (id(engine), via, digest)


def _writes_auth(statement: str) -> bool:
    head = statement.lstrip()[:6].upper()
    if head in ("SELECT", "PRAGMA", "SAVEPO", "RELEAS"):
        return False
    lowered = statement.lower()
    return any(table in lowered for table in AUTH_TABLES)


@event.listens_for(Engine, "after_cursor_execute")
def _after_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    if _writes_auth(statement):
        conn.info[_FLAG] = True
        CACHE.clear()


@event.listens_for(Engine, "commit")
def _on_commit(conn: Any) -> None:
    # Again at commit, and once more when the connection is back in the pool (after
    # the commit is done): a lookup between the write and its commit read the old rows.
    if conn.info.get(_FLAG):
        CACHE.clear()


@event.listens_for(Pool, "checkin")
def _on_checkin(dbapi_connection: Any, record: Any) -> None:
    if record is not None and record.info.pop(_FLAG, False):
        CACHE.clear()
