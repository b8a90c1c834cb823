"""A process's health: every worker's liveness (`workers.Supervisor`) and the outside
parts it depends on (the broker, the database), checked by probes.

`/healthz` shows the report; `/metrics` exposes the same figures for Prometheus
(`health_metrics.HealthCollector`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from foundations.workers import Supervisor, WorkerHealth

# A probe answers "is this part usable now?" quickly and without raising.
Probe = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class HealthReport:
    workers: list[WorkerHealth]
    probes: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(w.alive for w in self.workers) and all(self.probes.values())


class Health:
    def __init__(self, supervisor: Supervisor | None = None,
                 probes: Mapping[str, Probe] | None = None) -> None:
        self._supervisor = supervisor
        self._probes = dict(probes or {})

    def watch(self, supervisor: Supervisor) -> None:
        """Report the workers of `supervisor` (made after the parts that report)."""
        self._supervisor = supervisor

    def report(self) -> HealthReport:
        workers = self._supervisor.health() if self._supervisor is not None else []
        return HealthReport(workers, {name: bool(probe()) for name, probe in self._probes.items()})
