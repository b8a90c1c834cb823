"""Counters for everything ingest receives, stores, refuses or skips.

Plain integers updated once per message group under one lock; the Prometheus
exporter (`ingest.metrics`) reads them at scrape time, so the hot path pays
nothing per reading for metrics. The counts (not the lag histogram, which
describes the running process) are also kept in the database by
`ingest.counters`, and a new pipeline starts from them.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

# Upper bounds (ms) of the end-to-end lag histogram: reading timestamp -> stored.
LAG_BUCKETS_MS: tuple[float, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
                                     10000, 30000, 60000, float("inf"))


# The integer counters, by field name; rejects are counted as `rejected:<kind>`.
COUNTER_FIELDS = ("batches_received", "batches_stored", "batches_duplicate",
                  "batches_rejected", "readings_received", "readings_stored",
                  "readings_rejected", "readings_duplicate", "status_messages", "batches_acked")
REJECTED = "rejected:"


class StatsSnapshot(TypedDict):
    """The counters at one moment (`/api/ingest/stats`, `/metrics`)."""

    batches_received: int
    batches_stored: int
    batches_duplicate: int
    batches_rejected: int
    readings_received: int
    readings_stored: int
    readings_rejected: int
    readings_duplicate: int
    status_messages: int
    batches_acked: int
    rejected_by_reason: dict[str, int]
    lag_counts: list[int]
    lag_sum_ms: float


@dataclass
class IngestStats:
    batches_received: int = 0
    batches_stored: int = 0
    batches_duplicate: int = 0
    batches_rejected: int = 0
    readings_received: int = 0
    readings_stored: int = 0
    readings_rejected: int = 0
    readings_duplicate: int = 0
    status_messages: int = 0
    # Batches named in acks published to gateways (after their commit).
    batches_acked: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    # Readings per lag bucket, and the sum of lags weighted by readings (ms).
    lag_counts: list[int] = field(default_factory=lambda: [0] * len(LAG_BUCKETS_MS))
    lag_sum_ms: float = 0.0
    # (lag_ms, readings) per stored batch, only when asked for (the benchmark).
    lag_samples: list[tuple[int, int]] | None = None
    # Counted outside a pipeline transaction (acks), saved with the next one.
    unsaved: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, delta: Mapping[str, int]) -> None:
        """Add counts named as in `COUNTER_FIELDS` or `rejected:<kind>`; other names
        (saved by another version) are ignored."""
        with self.lock:
            for name, n in delta.items():
                if name.startswith(REJECTED):
                    self.rejected_by_reason[name.removeprefix(REJECTED)] += n
                elif name in COUNTER_FIELDS:
                    setattr(self, name, getattr(self, name) + n)

    def count_acks(self, batches: int) -> None:
        with self.lock:
            self.batches_acked += batches
            self.unsaved["batches_acked"] += batches

    def take_unsaved(self) -> Counter[str]:
        with self.lock:
            taken, self.unsaved = self.unsaved, Counter()
            return taken

    def keep_unsaved(self, counts: Counter[str]) -> None:
        """Put back what a rolled-back transaction did not save."""
        with self.lock:
            self.unsaved.update(counts)

    def observe_lags(self, stored_at: int, lags: list[tuple[int, int]]) -> None:
        """(newest reading's ts, readings) per batch stored at `stored_at`."""
        with self.lock:
            for newest, readings in lags:
                self.observe_lag(stored_at - newest, readings)

    def observe_lag(self, lag_ms: int, readings: int) -> None:
        """Record one batch's lag for its readings (call with `lock` held)."""
        self.lag_counts[bisect.bisect_left(LAG_BUCKETS_MS, lag_ms)] += readings
        self.lag_sum_ms += lag_ms * readings
        if self.lag_samples is not None:
            self.lag_samples.append((lag_ms, readings))

    def snapshot(self) -> StatsSnapshot:
        with self.lock:
            return {
                "batches_received": self.batches_received,
                "batches_stored": self.batches_stored,
                "batches_duplicate": self.batches_duplicate,
                "batches_rejected": self.batches_rejected,
                "readings_received": self.readings_received,
                "readings_stored": self.readings_stored,
                "readings_rejected": self.readings_rejected,
                "readings_duplicate": self.readings_duplicate,
                "status_messages": self.status_messages,
                "batches_acked": self.batches_acked,
                "rejected_by_reason": dict(self.rejected_by_reason),
                "lag_counts": list(self.lag_counts),
                "lag_sum_ms": self.lag_sum_ms,
            }
