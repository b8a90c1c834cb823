"""The agent process that `fieldpulse bench edge` measures: a synthetic fleet, a JSON config.

    python -m benchmarks.edge_worker CONFIG.json DEVICES METRICS

Kept apart from `edge.py` so the measured process loads only what a gateway
loads (no Typer, no Rich).
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from pathlib import Path

from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from edge_agent.drivers import Reading


class SyntheticDriver:
    """`devices` devices with `metrics` slowly varying metrics each: cheap, so the agent's
    own cost is what gets measured."""

    def __init__(self, devices: int, metrics: int) -> None:
        self._ids = [f"dev-{i:04d}" for i in range(devices)]
        self._metrics = [f"m{j}_unit" for j in range(metrics)]

    def device_ids(self) -> list[str]:
        return list(self._ids)

    def read(self, now_ms: int) -> list[Reading]:
        phase = now_ms / 60_000
        return [Reading(dev, now_ms, {m: round(50 + 10 * math.sin(phase + i + j), 3)
                                      for j, m in enumerate(self._metrics)})
                for i, dev in enumerate(self._ids)]


def main(config: str, devices: str, metrics: str) -> None:
    agent = EdgeAgent(AgentConfig.load(Path(config)), SyntheticDriver(int(devices), int(metrics)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    agent.run(stop)


if __name__ == "__main__":
    main(*sys.argv[1:4])
