"""The clock: wall time as integer milliseconds since the Unix epoch.

Every stored time in FieldPulse is this unit. Components that decide by time take a
`Clock` argument (default `now_ms`), so tests set the time instead of waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def now_ms() -> int:
    return int(time.time() * 1000)
