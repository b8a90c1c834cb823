"""SQLite transactions for the outbox, and telling a full disk from other failures."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def disk_full(exc: sqlite3.Error) -> bool:
    """"database or disk is full": the disk, or the file's `max_page_count` cap."""
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


class Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back if the block raises."""

    def __init__(self, db: sqlite3.Connection, on_rollback: Callable[[], None]) -> None:
        self._db = db
        self._on_rollback = on_rollback

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, _exc: object, _tb: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")  # a full disk can refuse the commit itself
            except sqlite3.Error:
                self._rollback()
                raise
        else:
            self._rollback()

    def _rollback(self) -> None:
        # SQLite rolls back by itself after some errors (SQLITE_FULL among them).
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._on_rollback()
