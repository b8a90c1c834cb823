"""The `sales` worker, in the main process, off the ingest hot path: summarise the days
gone by, raise what is due (recording the owners' notifications), settle what is done."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from foundations.clock import Clock, now_ms
from foundations.workers import Periodic
from ingest.telemetry_store import TelemetryStore
from sales.catalogue import SalesSpec, load_sales_catalogue
from sales.opportunities import raise_opportunities, settle
from sales.usage_days import update_days


@dataclass(frozen=True, slots=True)
class SalesPass:
    days: int  # device-days summarised
    raised: list[int]  # new opportunities
    won: int


class SalesWorker(Periodic):
    """Every `every_s` (an hour: usage is summarised by whole days), one `run_once`."""

    def __init__(self, engine: Engine, store: TelemetryStore, *,
                 catalogue: Mapping[str, SalesSpec] | None = None, every_s: float = 3600.0,
                 lookback_days: int = 120, clock: Clock = now_ms) -> None:
        super().__init__("sales", self.run_once, every_s)
        self._engine, self._store = engine, store
        self._catalogue = dict(catalogue) if catalogue is not None else load_sales_catalogue()
        self._lookback_days, self._clock = lookback_days, clock

    def run_once(self) -> SalesPass:
        now = self._clock()
        days = update_days(self._engine, self._store, self._catalogue, now, self._lookback_days)
        raised = raise_opportunities(self._engine, self._catalogue, now)
        won = settle(self._engine, now)
        return SalesPass(days, raised, won)
