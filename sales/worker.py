"""The sales cloud's periodic task, in the main process (`CloudSystem`), off the
ingest hot path: summarise the days gone by, raise what is due, settle what is
done, mail the owners."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from ingest.telemetry_store import TelemetryStore
from rules.notify import NotificationSender
from sales.catalogue import SalesSpec, load_sales_catalogue
from sales.opportunities import deliver, raise_opportunities, settle
from sales.usage_days import update_days

log = logging.getLogger("fieldpulse.sales")


def _wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class SalesPass:
    days: int  # device-days summarised
    raised: list[int]  # new opportunities
    won: int
    sent: int


class SalesWorker:
    """Every `period_s` (an hour: usage is summarised by whole days), one `run_once`."""

    def __init__(self, engine: Engine, store: TelemetryStore, sender: NotificationSender, *,
                 catalogue: Mapping[str, SalesSpec] | None = None, period_s: float = 3600.0,
                 lookback_days: int = 120, clock: Callable[[], int] = _wall_ms) -> None:
        self._engine, self._store, self._sender = engine, store, sender
        self._catalogue = dict(catalogue) if catalogue is not None else load_sales_catalogue()
        self._period_s, self._lookback_days, self._clock = period_s, lookback_days, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sales", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self.run_once()
            except Exception:
                log.exception("sales pass failed; will retry")

    def run_once(self) -> SalesPass:
        now = self._clock()
        days = update_days(self._engine, self._store, self._catalogue, now, self._lookback_days)
        raised = raise_opportunities(self._engine, self._catalogue, now)
        won = settle(self._engine, now)
        return SalesPass(days, raised, won, deliver(self._engine, self._sender, now))
