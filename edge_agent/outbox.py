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
(past the byte budget, which counts SQLite's pages in use, WAL and shared memory:
`disk_bytes`) takes the oldest batch that was never handed to the
broker: a batch that may have reached it cannot be counted as lost, because it
may well be stored in the cloud.

A full disk ("database or disk is full"; the database file is also capped at
`max_file_bytes` with SQLite's `max_page_count`, and the WAL kept small by
checkpointing at a fraction of the budget and truncating to it) never stops the
sampler: the oldest unsent batch is evicted (counted) and the write retried; when
nothing is left to evict the sample waits in memory (`MemorySpill`, bounded, its
drops counted as `lost_readings`) and is written once there is room again.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import orjson

from edge_agent.disk_space import PAGE, DiskReserve, fit_to_disk, sqlite_bytes
from edge_agent.drivers import Reading
from edge_agent.memory_spill import EncodedSample, MemorySpill
from edge_agent.sqlite_tx import Transaction, disk_full

NORMAL, URGENT = 0, 1
# Readings held in memory while the disk is full; beyond it the oldest are lost (counted).
SPILL_READINGS = 20_000
# A write that meets a full disk evicts at most this many batches before it gives up.
EVICTIONS_PER_WRITE = 64

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
    def __init__(self, path: Path, max_bytes: int, first_seq: int = 0,
                 max_file_bytes: int | None = None, spill_readings: int = SPILL_READINGS
                 ) -> None:
        """`first_seq` seeds the sequence of a new outbox (e.g. from an older agent's file).
        `max_file_bytes` caps the database file (default: twice the budget + 4 MiB)."""
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._path = path
        cap = max_file_bytes if max_file_bytes is not None else 2 * max_bytes + (4 << 20)
        self._max_pages = max(16, cap // PAGE)
        fit_to_disk(self._db, path, max_bytes, self._max_pages)
        self._db.executescript(_SCHEMA)
        self.max_bytes = max_bytes
        self._spill = MemorySpill(spill_readings)
        self._reserve = DiskReserve(path.with_name(path.name + "-reserve"))
        with self._tx():
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('next_seq', ?)", (first_seq,))
            for key in ("evicted_readings", "evicted_batches", "dropped_values",
                        "lost_readings"):
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

    def _tx(self) -> Transaction:
        return Transaction(self._db, self._recount)

    @property
    def next_seq(self) -> int:
        return self._counters["next_seq"]

    @property
    def evicted_readings(self) -> int:
        return self._counters["evicted_readings"]

    @property
    def lost_readings(self) -> int:
        """Readings sampled that could not be kept: disk full, nothing left to evict, and
        the memory spill full too. Saved with the next write that succeeds."""
        return self._counters["lost_readings"] + self._spill.lost

    @property
    def spilled_readings(self) -> int:
        """Readings waiting in memory for room on disk."""
        return self._spill.readings

    @property
    def dropped_values(self) -> int:
        """Metric values refused because they were not finite numbers."""
        return self._counters["dropped_values"]

    @property
    def backlog_readings(self) -> int:
        """Readings not yet acknowledged (staged + batched on disk, waiting in memory)."""
        return self._staged + self._queued + self._spill.readings

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
        device's readings still carry increasing `seq`s. On a full disk the sample waits
        in memory, behind any that wait already (order kept)."""
        rows, dropped = _encode(readings)
        urgent_rows, urgent_dropped = _encode(urgent)
        dropped += urgent_dropped
        if not (rows or urgent_rows or dropped):
            return
        with self._lock:
            self._spill.append(EncodedSample(rows, urgent_rows, dropped))
            self._write_spill(max_readings)

    def _write_spill(self, max_readings: int) -> None:
        while self._spill:
            sample = self._spill.first()
            if not self._with_room(partial(self._stage_locked, sample, max_readings)):
                return  # no room even after evicting: it waits in memory
            self._spill.pop_first()
            self._spill.lost = 0  # saved in the same transaction (`_stage_locked`)

    def _stage_locked(self, sample: EncodedSample, max_readings: int) -> None:
        if sample.urgent:
            self._close_staged(max_readings)
            self._add_batches(sample.urgent, URGENT, max_readings)
        if sample.rows:
            self._db.executemany("INSERT INTO staged (body) VALUES (?)",
                                 [(r,) for r in sample.rows])
            self._staged += len(sample.rows)
        if sample.dropped:
            self._bump("dropped_values", sample.dropped)
        if self._spill.lost:
            self._bump("lost_readings", self._spill.lost)

    def _with_room(self, write: Callable[[], object]) -> bool:
        """Run `write` in a transaction; on a full disk evict the oldest batch never handed
        to the broker (counted) and try again. False when nothing more can be evicted."""
        for _ in range(EVICTIONS_PER_WRITE):
            try:
                with self._tx():
                    write()
                if self._reserve.released:
                    self._reserve.ensure()
                return True
            except sqlite3.OperationalError as exc:
                if not disk_full(exc):
                    raise
            if not self._evict_for_room():
                return False
        return False

    def _evict_for_room(self) -> bool:
        for _ in range(2):
            try:
                # A checkpoint lets the WAL start over in the blocks it has (never
                # TRUNCATE: the next write would need new blocks); then the oldest goes.
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                with self._tx():
                    return self._evict_oldest()
            except sqlite3.OperationalError as exc:
                if not disk_full(exc):
                    raise
            if not self._reserve.release():  # the disk's last bytes: ours, kept for this
                return False
        return False

    def _checkpoint(self) -> None:
        """Move the WAL into the database now, so it stays small whatever the budget (a WAL
        that outgrows the disk can never be checkpointed into it)."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.OperationalError as exc:
            if not disk_full(exc):
                raise

    def close_batches(self, max_readings: int) -> int:
        """Turn every staged reading into batches of at most `max_readings`."""
        made = [0]
        with self._lock:
            self._write_spill(max_readings)

            def close() -> None:
                made[0] = self._close_staged(max_readings)

            self._with_room(close)
            self._checkpoint()
            fit_to_disk(self._db, self._path, self.max_bytes, self._max_pages)
        return made[0]

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

    def disk_bytes(self) -> int:
        """What the byte budget counts (`disk_space.sqlite_bytes`)."""
        return sqlite_bytes(self._db, self._path)

    def _evict_over_budget(self) -> None:
        # Rows share pages: an eviction may free none, so measure again after each.
        while self.disk_bytes() > self.max_bytes and self._evict_oldest():
            pass

    def _evict_oldest(self) -> bool:
        """Drop the oldest batch never handed to the broker, counted; False if none."""
        victim = self._db.execute(
            "SELECT seq, readings, LENGTH(body) FROM batch WHERE sent = 0 "
            "ORDER BY priority, seq LIMIT 1").fetchone()
        if victim is None:
            return False  # only batches that may have reached the broker are left
        seq, readings, size = victim
        self._db.execute("DELETE FROM batch WHERE seq = ?", (seq,))
        self._bytes -= size
        self._queued -= readings
        self._bump("evicted_readings", readings)
        self._bump("evicted_batches", 1)
        return True

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

    def mark_sent(self, seqs: Sequence[int]) -> set[int]:
        """Record, before publishing, that these batches may reach the broker. Returns the
        ones marked: on a full disk, making room may have evicted some, or none are."""
        marked: set[int] = set()

        def mark() -> None:
            marked.clear()
            for seq in seqs:
                if self._db.execute("UPDATE batch SET sent = 1 WHERE seq = ? RETURNING seq",
                                    (seq,)).fetchone() is not None:
                    marked.add(seq)

        with self._lock:
            return marked if self._with_room(mark) else set()

    def acknowledge(self, seqs: Sequence[int]) -> bool:
        """The cloud (or, for a cloud that does not ack, the broker) has these batches:
        they leave the outbox. False if the disk is too full even for that (try again)."""
        def delete() -> None:
            for seq in seqs:
                row = self._db.execute("DELETE FROM batch WHERE seq = ? RETURNING readings, "
                                       "LENGTH(body)", (seq,)).fetchone()
                if row is not None:
                    self._queued -= row[0]
                    self._bytes -= row[1]

        with self._lock:
            return self._with_room(delete)
