"""The batches a gateway has published and the cloud has not yet confirmed.

Bounded in batches and in bytes: when the cloud's acks lag (ingest overloaded, the
broker slow), the window fills and the link stops publishing, so the backlog waits
in the outbox on disk instead of in the broker's queue, which drops what it cannot
hold. A batch whose confirmation is overdue leaves the window and is published
again: the broker may have lost it (a full queue, a crash before its autosave), and
the cloud's dedupe makes a second copy harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Unconfirmed:
    deadline: float
    size: int


class DeliveryWindow:
    def __init__(self, max_batches: int, max_bytes: int, timeout_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_batches, self.max_bytes, self.timeout_s = max_batches, max_bytes, timeout_s
        self._clock = clock
        self._open: dict[int, _Unconfirmed] = {}
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._open)

    def __contains__(self, seq: object) -> bool:
        return seq in self._open

    def seqs(self) -> set[int]:
        return set(self._open)

    def full(self) -> bool:
        """No room for another batch; an empty window always takes one, however large."""
        return bool(self._open) and (len(self._open) >= self.max_batches
                                     or self.bytes >= self.max_bytes)

    def room(self) -> int:
        """How many batches to fetch for publishing (the byte bound is checked per batch)."""
        return 0 if self.full() else self.max_batches - len(self._open)

    def add(self, seq: int, size: int) -> None:
        self.discard(seq)
        self._open[seq] = _Unconfirmed(self._clock() + self.timeout_s, size)
        self.bytes += size

    def discard(self, seq: int) -> bool:
        """Confirmed (or refused): out of the window. False if it was not in it."""
        entry = self._open.pop(seq, None)
        if entry is None:
            return False
        self.bytes -= entry.size
        return True

    def overdue(self) -> list[int]:
        """Batches unconfirmed past their deadline, taken out of the window to be re-sent."""
        now = self._clock()
        late = [seq for seq, entry in self._open.items() if entry.deadline <= now]
        for seq in late:
            self.discard(seq)
        return late

    def clear(self) -> None:
        self._open.clear()
        self.bytes = 0
