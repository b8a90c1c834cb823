"""The health report in the Prometheus text format, read at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from foundations.health import HealthReport


class HealthCollector(Collector):
    def __init__(self, report: Callable[[], HealthReport]) -> None:
        self._report = report

    def collect(self) -> Iterator[Metric]:
        report = self._report()
        up = GaugeMetricFamily("fieldpulse_worker_up",
                               "1 while the background worker runs (not stalled, failed or "
                               "stopped).", labels=["worker"])
        restarts = CounterMetricFamily("fieldpulse_worker_restarts",
                                       "Times the supervisor restarted the worker after it "
                                       "failed.", labels=["worker"])
        age = GaugeMetricFamily("fieldpulse_worker_heartbeat_age_seconds",
                                "Seconds since the worker last showed progress.",
                                labels=["worker"])
        for worker in report.workers:
            up.add_metric([worker.name], 1.0 if worker.alive else 0.0)
            restarts.add_metric([worker.name], float(worker.restarts))
            if worker.last_beat_age_s is not None:
                age.add_metric([worker.name], worker.last_beat_age_s)
        probe = GaugeMetricFamily("fieldpulse_dependency_up",
                                  "1 while the part the process depends on answers.",
                                  labels=["dependency"])
        for name, ok in report.probes.items():
            probe.add_metric([name], 1.0 if ok else 0.0)
        yield from (up, restarts, age, probe)
