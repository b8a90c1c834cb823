"""Token buckets for the public endpoints: per client address (QR pages, login) and
per account (failed logins)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`burst` requests at once, refilled at `per_second`; in memory, per process.

    The least recently seen clients are forgotten past `max_clients`, so a flood
    of addresses cannot grow memory without bound.
    """

    def __init__(self, per_second: float, burst: int,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000) -> None:
        self.per_second, self.burst, self.clock = per_second, burst, clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token of `key`'s bucket: 0.0 if allowed, else seconds until one is back."""
        return self._use(key, spend=True)

    def peek(self, key: str) -> float:
        """What `take` would answer, without spending anything."""
        return self._use(key, spend=False)

    def _use(self, key: str, spend: bool) -> float:
        now = self.clock()
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst),
                                bucket.tokens + (now - bucket.updated) * self.per_second)
            bucket.updated = now
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0 if spend else 0.0
                return 0.0
            return (1.0 - bucket.tokens) / self.per_second
