"""A process's health: every worker's liveness (`workers.Supervisor`) and the outside
parts it depends on (the broker, the database), checked by probes.

`/healthz` shows the report; `/metrics` exposes the same figures for Prometheus
(`health_metrics.HealthCollector`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from foundations.workers import Supervisor, WorkerHealth

# A probe answers "is this part usable now?" quickly and without raising.
Probe = Callable[[], bool]
# Probes' answers are kept this long: /healthz is asked by every load balancer and
# orchestrator, often and at once, and each asking must not be a database round trip.
PROBE_MAX_AGE_S = 1.0


@dataclass(frozen=True, slots=True)
class HealthReport:
    workers: list[WorkerHealth]
    probes: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(w.alive for w in self.workers) and all(self.probes.values())


class Health:
    def __init__(self, supervisor: Supervisor | None = None,
                 probes: Mapping[str, Probe] | None = None,
                 probe_max_age_s: float = PROBE_MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._supervisor = supervisor
        self._probes = dict(probes or {})
        self._max_age_s = probe_max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._probed: tuple[float, dict[str, bool]] | None = None

    def watch(self, supervisor: Supervisor) -> None:
        """Report the workers of `supervisor` (made after the parts that report)."""
        self._supervisor = supervisor

    def report(self) -> HealthReport:
        workers = self._supervisor.health() if self._supervisor is not None else []
        return HealthReport(workers, self._probe())

    def _probe(self) -> dict[str, bool]:
        """The probes' answers. Older than the maximum age: one caller starts them again
        on a thread of its own while every caller takes the previous answers, so a
        report never waits for a probe (an event loop may ask), except the very first."""
        probed = self._probed
        if probed is not None and self._clock() - probed[0] < self._max_age_s:
            return probed[1]
        if probed is None:
            with self._lock:
                if self._probed is None:
                    self._probed = (self._clock(), self._run_probes())
                return self._probed[1]
        if self._lock.acquire(blocking=False):
            threading.Thread(target=self._refresh, daemon=True, name="health-probes").start()
        return probed[1]

    def _run_probes(self) -> dict[str, bool]:
        return {name: bool(probe()) for name, probe in self._probes.items()}

    def _refresh(self) -> None:
        """On its own thread, holding the lock its starter took."""
        try:
            self._probed = (self._clock(), self._run_probes())
        finally:
            self._lock.release()
