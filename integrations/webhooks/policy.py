"""When to try a failed delivery again, and when to give up on it (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8  # failures in a row before a delivery is parked
    base_s: float = 2.0  # the first retry waits about this long, then it doubles
    cap_s: float = 600.0
    timeout_s: float = 10.0  # per POST

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_s < 0 or self.cap_s < self.base_s \
                or self.timeout_s <= 0:
            raise ValueError(f"impossible retry policy: {self}")

    def delay_s(self, failures: int, rng: random.Random) -> float:
        """Exponential backoff with jitter ("equal jitter": half fixed, half random), so
        receivers coming back up are not hit by every sender at the same instant."""
        full = min(self.cap_s, self.base_s * 2 ** max(0, failures - 1))
        return float(full / 2 + rng.uniform(0, full / 2))
