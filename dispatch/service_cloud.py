"""The service cloud's periodic work in the main process: the SLA monitor (every
30 s) and the preventive-maintenance generator (every 10 min), on one thread.

The clock is injected (ms epoch), so tests drive `run_once` at any time they
choose; `CloudSystem` starts and stops the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from asset_registry.catalog import DeviceModel
from dispatch.maintenance_runner import generate_maintenance
from dispatch.sla_monitor import SlaReport, check_clocks

log = logging.getLogger("fieldpulse.dispatch.service_cloud")


def _wall_ms() -> int:
    return int(time.time() * 1000)


class ServiceCloudTasks:
    def __init__(self, engine: Engine, models: Mapping[str, DeviceModel], *, tz: ZoneInfo,
                 on_cases_opened: Callable[[], None] = lambda: None,
                 sla_period_s: float = 30.0, maintenance_period_s: float = 600.0,
                 clock: Callable[[], int] = _wall_ms) -> None:
        self._engine, self._models, self._tz = engine, models, tz
        self._on_cases_opened = on_cases_opened
        self._sla_period_s, self._maintenance_period_s = sla_period_s, maintenance_period_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="service-cloud", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def check_sla(self) -> SlaReport:
        return check_clocks(self._engine, self._clock(), self._tz)

    def plan_maintenance(self) -> list[int]:
        opened = generate_maintenance(self._engine, self._models, self._clock())
        if opened:
            self._on_cases_opened()  # the dispatcher plans them with the rest
        return opened

    def _loop(self) -> None:
        next_maintenance = 0.0  # at once: due visits are opened right after a start
        while True:
            if time.monotonic() >= next_maintenance:
                next_maintenance = time.monotonic() + self._maintenance_period_s
                self._guarded("preventive maintenance", self.plan_maintenance)
            self._guarded("SLA monitor", self.check_sla)
            if self._stop.wait(self._sla_period_s):
                return

    @staticmethod
    def _guarded(what: str, task: Callable[[], object]) -> None:
        try:
            task()
        except Exception:  # one failed pass must not end the loop
            log.exception("%s failed; will retry", what)
