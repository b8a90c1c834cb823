"""Prometheus exposition of ingest's counters, read from `IngestStats` at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ingest.stats import LAG_BUCKETS_MS, IngestStats


class IngestCollector(Collector):
    def __init__(self, stats: IngestStats, connected: Callable[[], bool] = lambda: False,
                 worker: str = "0",
                 gaps: Callable[[], dict[tuple[str, str], int]] | None = None) -> None:
        self._stats = stats
        self._connected = connected
        self._worker = worker
        # (gateway, evicted|lost) -> readings, read from the database (`ingest.gaps`) at
        # scrape time: kept across restarts, and whichever worker recorded them.
        self._gaps = gaps

    def collect(self) -> Iterator[Metric]:
        s = self._stats.snapshot()
        labels = ["worker"]
        w = [self._worker]

        def counter(name: str, doc: str, value: int) -> CounterMetricFamily:
            family = CounterMetricFamily(f"fieldpulse_ingest_{name}", doc, labels=labels)
            family.add_metric(w, float(value))
            return family

        yield counter("batches_received", "Telemetry batches received.", s["batches_received"])
        yield counter("batches_stored", "Telemetry batches stored.", s["batches_stored"])
        yield counter("batches_duplicate",
                      "Batches skipped as already stored (gateway, epoch, seq).",
                      s["batches_duplicate"])
        yield counter("batches_acked", "Batches acknowledged to their gateways after commit.",
                      s["batches_acked"])
        yield counter("readings_received", "Readings received in decodable batches.",
                      s["readings_received"])
        yield counter("readings_stored", "Readings stored.", s["readings_stored"])
        yield counter("readings_duplicate", "Readings in duplicate batches (not stored again).",
                      s["readings_duplicate"])
        rejected = CounterMetricFamily(
            "fieldpulse_ingest_rejected", "Dead-lettered payloads or readings, by reason.",
            labels=["worker", "reason"])
        for reason, count in sorted(s["rejected_by_reason"].items()):
            rejected.add_metric([self._worker, reason], float(count))
        yield rejected
        lag = HistogramMetricFamily(
            "fieldpulse_ingest_lag_seconds",
            "End-to-end lag from a reading's timestamp to stored, per reading.", labels=labels)
        cumulative, buckets = 0, []
        for bound, count in zip(LAG_BUCKETS_MS, s["lag_counts"], strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else str(bound / 1000), cumulative))
        lag.add_metric(w, buckets, sum_value=s["lag_sum_ms"] / 1000)
        yield lag
        up = GaugeMetricFamily("fieldpulse_ingest_broker_connected",
                               "1 while subscribed to the broker.", labels=labels)
        up.add_metric(w, 1.0 if self._connected() else 0.0)
        yield up
        if self._gaps is not None:
            gaps = CounterMetricFamily(
                "fieldpulse_gateway_gap_readings",
                "Readings gateways report they dropped: evicted from a full outbox, or lost.",
                labels=["gateway", "kind"])
            for (gateway_id, kind), readings in sorted(self._gaps().items()):
                gaps.add_metric([gateway_id, kind], float(readings))
            yield gaps


def make_registry(collector: IngestCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
