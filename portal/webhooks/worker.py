"""The webhook dispatcher of the main process: fan out new outbox events, then deliver.

Everything it knows lives in the database (subscription cursors, delivery rows with
their attempts and next try), so a restart, or a `kill -9`, loses nothing: events
committed but not yet delivered are in the outbox, and are sent after the restart.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from portal.webhooks.delivery import Deliverer
from portal.webhooks.fanout import FanOut
from portal.webhooks.policy import RetryPolicy
from portal.webhooks.retention import prune
from portal.webhooks.transport import Transport, post

log = logging.getLogger("fieldpulse.webhooks")


def _wall_ms() -> int:
    return int(time.time() * 1000)


class WebhookWorker:
    def __init__(self, engine: Engine, *, policy: RetryPolicy | None = None,
                 transport: Transport = post, period_s: float = 1.0,
                 gap_wait_s: float = 10.0, batch: int = 500, concurrency: int = 8,
                 retention_days: float = 30.0, prune_every_s: float = 3600.0,
                 clock: Callable[[], int] = _wall_ms, rng: random.Random | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._period_s, self._clock, self._monotonic = period_s, clock, monotonic
        self._retention_ms = int(retention_days * 86_400_000)
        self._prune_every_s, self._pruned_at = prune_every_s, float("-inf")
        self._engine = engine
        self._fanout = FanOut(engine, clock=clock, monotonic=monotonic,
                              gap_wait_s=gap_wait_s, batch=batch)
        self._deliverer = Deliverer(engine, transport, policy or RetryPolicy(), clock=clock,
                                    rng=rng or random.Random(), concurrency=concurrency)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._deliverer.close()

    def _loop(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self.run_once()
            except Exception:  # the database may be briefly unavailable: try again
                log.exception("webhook delivery failed; will retry")

    def run_once(self) -> int:
        """Queue what is new, then deliver what is due; returns how many were delivered."""
        self._fanout.run()
        delivered = self._deliverer.run()
        if self._monotonic() - self._pruned_at >= self._prune_every_s:
            self._pruned_at = self._monotonic()
            deliveries, events = prune(self._engine, self._clock() - self._retention_ms)
            if deliveries or events:
                log.info("pruned %s delivered webhook deliveries and %s outbox events",
                         deliveries, events)
        return delivered
