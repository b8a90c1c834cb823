"""The command ids this gateway has taken, and its answer to each, kept on disk.

A command id runs at most once, whatever the network does: QoS 1 can deliver a command
twice, and the cloud sends it again (same id) until the receipt reaches it. A repeat is
answered from here (the stored answer, or the receipt again while the command runs) and
never run. The log survives a restart (SQLite, `synchronous=FULL`, like the outbox): a
command taken before a power cut and not answered is answered after it, as interrupted,
and not run a second time. It keeps the newest `keep` ids; the cloud gives up on a
command long before that many newer ones have come.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

KEEP = 1000


@dataclass(frozen=True, slots=True)
class Taken:
    answer: bytes | None  # None: received, not answered yet


class CommandLog:
    def __init__(self, path: Path, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()  # the link thread takes commands, the sampler answers
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS command (n INTEGER PRIMARY KEY, "
                         "id TEXT NOT NULL UNIQUE, answer BLOB)")

    def get(self, command_id: str) -> Taken | None:
        with self._lock:
            row = self._db.execute("SELECT answer FROM command WHERE id = ?",
                                   (command_id,)).fetchone()
        return None if row is None else Taken(row[0])

    def take(self, command_id: str) -> None:
        """Received: kept before the receipt is sent, so a receipt always means kept."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO command (id) VALUES (?)", (command_id,))
            self._db.execute("DELETE FROM command WHERE n <= (SELECT MAX(n) FROM command) - ?",
                             (self._keep,))

    def answer(self, command_id: str, payload: bytes) -> None:
        with self._lock:
            self._db.execute("INSERT INTO command (id, answer) VALUES (?, ?) ON CONFLICT (id) "
                             "DO UPDATE SET answer = excluded.answer", (command_id, payload))

    def unanswered(self) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT id FROM command WHERE answer IS NULL ORDER BY n")
            return [r[0] for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
