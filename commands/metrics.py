"""Prometheus exposition of the command link's counters (`/metrics`), read at scrape time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from commands.link import CommandLink

_DOCS = {
    "published": "Commands published to gateways (a resend counts again).",
    "acks": "Acks from gateways that moved a command on.",
    "acks_ignored": "Acks that changed nothing: unknown id, another gateway's command, a "
                    "repeat or a late answer.",
    "invalid": "Acks or statuses that broke the contract (ingest dead-letters them).",
    "expired": "Commands whose deadline passed before the device's answer.",
    "connects": "Sessions of the command link with the broker.",
}


class CommandLinkCollector(Collector):
    def __init__(self, link: CommandLink) -> None:
        self._link = link

    def collect(self) -> Iterator[Metric]:
        for name, value in asdict(self._link.stats).items():
            family = CounterMetricFamily(f"fieldpulse_commands_{name}", _DOCS[name])
            family.add_metric([], float(value))
            yield family
        yield GaugeMetricFamily("fieldpulse_commands_broker_connected",
                                "1 while the command link has a session with the broker.",
                                value=float(self._link.connected.is_set()))
        yield GaugeMetricFamily("fieldpulse_commands_gateways_online",
                                "Gateways whose last status said online.",
                                value=float(len(self._link.online_gateways())))
