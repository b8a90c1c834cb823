"""Counters for everything ingest receives, stores, refuses or skips."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class IngestStats:
    batches_received: int = 0
    batches_stored: int = 0
    batches_duplicate: int = 0
    batches_rejected: int = 0
    readings_stored: int = 0
    readings_rejected: int = 0
    status_messages: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_reject(self, reason_kind: str, readings: int = 0) -> None:
        with self._lock:
            self.rejected_by_reason[reason_kind] += 1
            self.readings_rejected += readings

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "batches_received": self.batches_received,
                "batches_stored": self.batches_stored,
                "batches_duplicate": self.batches_duplicate,
                "batches_rejected": self.batches_rejected,
                "readings_stored": self.readings_stored,
                "readings_rejected": self.readings_rejected,
                "status_messages": self.status_messages,
                "rejected_by_reason": dict(self.rejected_by_reason),
            }
