"""Leases on PostgreSQL advisory locks: which live process owns a share of the work.

A lease is a session-level advisory lock `(space, key)` held on one dedicated connection.
PostgreSQL releases it the moment that connection ends, so a process killed with
SIGKILL (its socket closed by the kernel) gives its leases up at once, and another
process takes them on its next `try_take` — no expiry to wait for, no clock to trust.
A process that merely loses its connection (the database restarted) loses every lease
with it: `held` is then empty and the caller must stop the leased work before taking
anything again.

The members of a group (say, the ingest workers) see each other through the lease
connections' `application_name`, so "how many of us are alive" needs no table either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("fieldpulse.leases")


class LeaseLost(RuntimeError):
    """The lease connection broke: every lease this holder had is gone."""


class AdvisoryLeases:
    """Leases in one `space` (an int32 naming what is leased) for one member of `group`."""

    def __init__(self, engine: Engine, space: int, group: str) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("leases need PostgreSQL (advisory locks)")
        self._engine = engine
        self._space = space
        self._group = group
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self.held: set[int] = set()

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SELECT set_config('application_name', :n, false)"),
                         {"n": self._group})
            self._conn = conn
        return self._conn

    def _run(self, sql: str, **params: object) -> object:
        try:
            return self._connection().execute(text(sql), params).scalar()
        except Exception as exc:
            self._drop()
            raise LeaseLost(str(exc)) from exc

    def _drop(self) -> None:
        self.held.clear()
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # already broken: nothing to give back
                pass
            self._conn = None

    def members(self) -> int:
        """Live members of the group (each holds one lease connection), at least 1: us."""
        with self._lock:
            count = self._run("SELECT count(*) FROM pg_stat_activity "
                              "WHERE application_name = :g", g=self._group)
        return max(1, int(str(count)))

    def try_take(self, key: int) -> bool:
        with self._lock:
            if key in self.held:
                return True
            if self._run("SELECT pg_try_advisory_lock(:s, :k)", s=self._space, k=key):
                self.held.add(key)
                return True
            return False

    def give_up(self, key: int) -> None:
        with self._lock:
            if key in self.held:
                self._run("SELECT pg_advisory_unlock(:s, :k)", s=self._space, k=key)
                self.held.discard(key)

    def check(self) -> None:
        """Raise `LeaseLost` when the lease connection is gone (the leases with it)."""
        with self._lock:
            self._run("SELECT 1")

    def close(self) -> None:
        with self._lock:
            self._drop()


def leader_only(leases: AdvisoryLeases | None, key: int,
                step: Callable[[], object]) -> Callable[[], object]:
    """`step` run only by the process that holds lease `key` (taken on the first call that
    finds it free, kept until the process or its connection dies): work that must happen
    once in a cluster (SLA checks, maintenance plans). Without leases (one process, SQLite)
    `step` runs as it is."""
    if leases is None:
        return step

    def run() -> object:
        try:
            if not leases.try_take(key):
                return None
        except LeaseLost as exc:
            log.warning("event=lease_lost key=%d error=%s", key, exc)
            return None
        return step()

    return run
