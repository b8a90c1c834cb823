"""The on-disk outbox: every reading is on disk before anything is published.

SQLite in WAL mode, `synchronous=FULL` (a commit survives a power cut, not only
`kill -9`). Three tables:

- `staged`: readings sampled but not yet batched. A sample is committed here
  the moment the driver returns it, so a crash loses no accepted reading.
- `batch`: closed batches with their `seq`, waiting for the broker's PUBACK.
  A batch leaves this table only when acknowledged (or evicted, counted).
- `meta`: the next `seq` and the eviction counters, in the same transactions
  as the rows they describe, so they can never disagree after a crash.
- `identity`: the outbox's epoch, a random id made with the database. The cloud
  keys batches by (gateway, epoch, seq): a gateway whose outbox was lost starts
  at seq 0 again under a new epoch, and its batches are new, not "already stored".
  An outbox made before epochs existed keeps sending its old batches without one
  (the cloud keyed those with the empty epoch) and uses the epoch from
  `epoch_from_seq` on.

Order: batches are handed out priority first, then oldest `seq` first. Eviction
(past the byte budget) takes the oldest batch that was never handed to the
broker: a batch that may have reached it cannot be counted as lost, because it
may well be stored in the cloud.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from edge_agent.drivers import Reading

NORMAL, URGENT = 0, 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS staged (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS batch (
    seq INTEGER PRIMARY KEY,
    priority INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    body BLOB NOT NULL
);
-- The sender's order, so handing out the next batches never sorts the whole backlog.
CREATE INDEX IF NOT EXISTS batch_send_order ON batch (priority DESC, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS identity (epoch TEXT NOT NULL, epoch_from_seq INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class PendingBatch:
    seq: int
    priority: int
    readings: int
    body: bytes  # the JSON array of readings; the envelope is added when published
    epoch: str | None = None  # None: a batch made before this outbox had an epoch


def envelope(gateway_id: str, seq: int, sent_ms: int, body: bytes,
             epoch: str | None = None) -> bytes:
    """The telemetry payload around a stored readings array (contract v1). `sent` stays
    right before `readings`: the cloud's content digest starts after it."""
    head: dict[str, object] = {"v": 1, "gw": gateway_id}
    if epoch is not None:
        head["epoch"] = epoch
    head |= {"seq": seq, "sent": sent_ms}
    return orjson.dumps(head)[:-1] + b',"readings":' + body + b"}"


def _encode(readings: Sequence[Reading]) -> tuple[list[bytes], int]:
    """The readings as JSON objects, and how many metric values were dropped.

    orjson writes NaN and infinity as null, which the cloud refuses: they are
    dropped (and counted) here, and a reading left without values goes with them.
    """
    rows, dropped = [], 0
    for reading in readings:
        metrics = {k: v for k, v in reading.m.items() if math.isfinite(v)}
        dropped += len(reading.m) - len(metrics)
        if metrics:
            rows.append(orjson.dumps({"dev": reading.dev, "ts": reading.ts, "m": metrics}))
    return rows, dropped


class Outbox:
    def __init__(self, path: Path, max_bytes: int, first_seq: int = 0) -> None:
        """`first_seq` seeds the sequence of a new outbox (e.g. from an older agent's file)."""
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.max_bytes = max_bytes
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('next_seq', ?)", (first_seq,))
            for key in ("evicted_readings", "evicted_batches", "dropped_values"):
                self._db.execute("INSERT OR IGNORE INTO meta VALUES (?, 0)", (key,))
            if self._db.execute("SELECT 1 FROM identity").fetchone() is None:
                # New, or made before epochs: batches from the next seq on carry one.
                next_seq = self._scalar("SELECT value FROM meta WHERE key = 'next_seq'")
                self._db.execute("INSERT INTO identity VALUES (?, ?)",
                                 (uuid.uuid4().hex, next_seq))
            self.epoch, self.epoch_from_seq = self._db.execute(
                "SELECT epoch, epoch_from_seq FROM identity").fetchone()
        self._recount()
        self.generation = 0  # grows with every new batch: tells the sender to look again

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- bookkeeping ------------------------------------------------------------

    def _recount(self) -> None:
        # Running totals, so the hot path never sums the table; recounted after a rollback.
        self._bytes = self._scalar("SELECT COALESCE(SUM(LENGTH(body)), 0) FROM batch")
        self._staged = self._scalar("SELECT COUNT(*) FROM staged")
        self._queued = self._scalar("SELECT COALESCE(SUM(readings), 0) FROM batch")
        self._counters: dict[str, int] = dict(
            self._db.execute("SELECT key, value FROM meta").fetchall())

    def _scalar(self, sql: str, args: Sequence[object] = ()) -> int:
        return int(self._db.execute(sql, args).fetchone()[0])

    def _bump(self, key: str, by: int) -> None:
        self._set(key, self._counters[key] + by)

    def _set(self, key: str, value: int) -> None:
        # The cached copy is readable after close and without the lock; a rollback
        # reloads it from the table (`_recount`).
        self._db.execute("UPDATE meta SET value = ? WHERE key = ?", (value, key))
        self._counters[key] = value

    def _tx(self) -> _Transaction:
        return _Transaction(self._db, self._recount)

    @property
    def next_seq(self) -> int:
        return self._counters["next_seq"]

    @property
    def evicted_readings(self) -> int:
        return self._counters["evicted_readings"]

    @property
    def dropped_values(self) -> int:
        """Metric values refused because they were not finite numbers."""
        return self._counters["dropped_values"]

    @property
    def backlog_readings(self) -> int:
        """Readings on disk not yet acknowledged by the broker (staged + batched)."""
        return self._staged + self._queued

    @property
    def staged_readings(self) -> int:
        return self._staged

    @property
    def batch_bytes(self) -> int:
        return self._bytes

    def epoch_of(self, seq: int) -> str | None:
        """The epoch batch `seq` was (or is) sent with; None for one made before epochs."""
        return self.epoch if seq >= self.epoch_from_seq else None

    # -- sampler side ---------------------------------------------------------------

    def stage(self, readings: Sequence[Reading], urgent: Sequence[Reading] = (),
              max_readings: int = 100) -> None:
        """Commit one sample. `urgent` readings (edge rule crossings) get a batch of their
        own that is sent first; everything staged before them is batched first, so every
        device's readings still carry increasing `seq`s."""
        rows, dropped = _encode(readings)
        urgent_rows, urgent_dropped = _encode(urgent)
        dropped += urgent_dropped
        if not (rows or urgent_rows or dropped):
            return
        with self._lock, self._tx():
            if urgent_rows:
                self._close_staged(max_readings)
                self._add_batches(urgent_rows, URGENT, max_readings)
            if rows:
                self._db.executemany("INSERT INTO staged (body) VALUES (?)", [(r,) for r in rows])
                self._staged += len(rows)
            if dropped:
                self._bump("dropped_values", dropped)

    def close_batches(self, max_readings: int) -> int:
        """Turn every staged reading into batches of at most `max_readings`."""
        with self._lock, self._tx():
            return self._close_staged(max_readings)

    def _close_staged(self, max_readings: int) -> int:
        rows = self._db.execute("SELECT id, body FROM staged ORDER BY id").fetchall()
        if not rows:
            return 0
        made = self._add_batches([body for _, body in rows], NORMAL, max_readings)
        self._db.execute("DELETE FROM staged WHERE id <= ?", (rows[-1][0],))
        self._staged -= len(rows)
        return made

    def _add_batches(self, bodies: list[bytes], priority: int, max_readings: int) -> int:
        seq = self._counters["next_seq"]
        made = 0
        for start in range(0, len(bodies), max_readings):
            chunk = bodies[start:start + max_readings]
            body = b"[" + b",".join(chunk) + b"]"
            self._db.execute("INSERT INTO batch (seq, priority, readings, body) VALUES (?,?,?,?)",
                             (seq + made, priority, len(chunk), body))
            self._bytes += len(body)
            self._queued += len(chunk)
            made += 1
        self._set("next_seq", seq + made)
        self._evict_over_budget()
        self.generation += 1
        return made

    def _evict_over_budget(self) -> None:
        while self._bytes > self.max_bytes:
            victim = self._db.execute(
                "SELECT seq, readings, LENGTH(body) FROM batch WHERE sent = 0 "
                "ORDER BY priority, seq LIMIT 1").fetchone()
            if victim is None:
                return  # only batches that may have reached the broker are left
            seq, readings, size = victim
            self._db.execute("DELETE FROM batch WHERE seq = ?", (seq,))
            self._bytes -= size
            self._queued -= readings
            self._bump("evicted_readings", readings)
            self._bump("evicted_batches", 1)

    # -- sender side -----------------------------------------------------------------

    def next_batches(self, limit: int, skip: Iterable[int] = ()) -> list[PendingBatch]:
        """Up to `limit` batches to publish, priority first, then oldest first."""
        skip = set(skip)
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, priority, readings, body FROM batch ORDER BY priority DESC, seq "
                "LIMIT ?", (limit + len(skip),)).fetchall()
        return [PendingBatch(row[0], row[1], row[2], row[3], self.epoch_of(row[0]))
                for row in rows if row[0] not in skip][:limit]

    def mark_sent(self, seqs: Sequence[int]) -> None:
        """Record, before publishing, that these batches may reach the broker."""
        with self._lock, self._tx():
            self._db.executemany("UPDATE batch SET sent = 1 WHERE seq = ?", [(s,) for s in seqs])

    def acknowledge(self, seqs: Sequence[int]) -> None:
        """The cloud (or, for a cloud that does not ack, the broker) has these batches:
        they leave the outbox."""
        with self._lock, self._tx():
            for seq in seqs:
                row = self._db.execute("DELETE FROM batch WHERE seq = ? RETURNING readings, "
                                       "LENGTH(body)", (seq,)).fetchone()
                if row is not None:
                    self._queued -= row[0]
                    self._bytes -= row[1]


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back if the block raises."""

    def __init__(self, db: sqlite3.Connection, on_rollback: Callable[[], None]) -> None:
        self._db = db
        self._on_rollback = on_rollback

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, _exc: object, _tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
            self._on_rollback()
