"""The webhook dispatcher of the main process: fan out new outbox events, then deliver.

Everything it knows lives in the database (subscription cursors, delivery rows with
their attempts and next try), so a restart, or a `kill -9`, loses nothing: events
committed but not yet delivered are in the outbox, and are sent after the restart.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from sqlalchemy import Engine

from foundations.clock import Clock, now_ms
from foundations.workers import Periodic
from integrations.webhooks.delivery import Deliverer
from integrations.webhooks.fanout import FanOut
from integrations.webhooks.policy import RetryPolicy
from integrations.webhooks.retention import prune
from integrations.webhooks.targets import TargetPolicy
from integrations.webhooks.transport import Transport, post

log = logging.getLogger("fieldpulse.webhooks")



class WebhookWorker(Periodic):
    """The `webhooks` worker: every `period_s`, `run_once`."""

    def __init__(self, engine: Engine, *, policy: RetryPolicy | None = None,
                 transport: Transport = post, period_s: float = 1.0,
                 gap_wait_s: float = 10.0, batch: int = 500, concurrency: int = 8,
                 retention_days: float = 30.0, prune_every_s: float = 3600.0,
                 clock: Clock = now_ms, rng: random.Random | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 targets: TargetPolicy | None = None) -> None:
        super().__init__("webhooks", self.run_once, period_s)
        self._clock, self._monotonic = clock, monotonic
        self._retention_ms = int(retention_days * 86_400_000)
        self._prune_every_s, self._pruned_at = prune_every_s, float("-inf")
        self._engine = engine
        self._fanout = FanOut(engine, clock=clock, monotonic=monotonic,
                              gap_wait_s=gap_wait_s, batch=batch)
        self._deliverer = Deliverer(engine, transport, policy or RetryPolicy(), clock=clock,
                                    rng=rng or random.Random(), concurrency=concurrency,
                                    targets=targets)

    def teardown(self) -> None:
        self._deliverer.close()

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
