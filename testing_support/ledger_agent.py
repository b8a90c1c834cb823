"""An edge agent as its own process whose driver keeps a ledger, for chaos runs.

    python -m testing_support.ledger_agent CONFIG.json VALUES.json LEDGER

The driver appends each sample's timestamp to LEDGER *before* the agent sees the
readings: the ledger is what was produced, the oracle a chaos run compares with what
the cloud stored. While a file `paused` exists beside LEDGER the devices answer nothing
(a run ends by letting the outboxes drain).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from edge_agent.drivers import Reading


class LedgerFileDriver:
    """Fixed values per device; every sample's timestamp on the ledger first."""

    def __init__(self, values: Mapping[str, Mapping[str, float]], ledger: Path) -> None:
        self._values = {dev: dict(m) for dev, m in values.items()}
        self._ledger = ledger.open("a")
        self._paused = ledger.parent / "paused"

    def device_ids(self) -> list[str]:
        return list(self._values)

    def read(self, now_ms: int) -> list[Reading]:
        if self._paused.exists():
            return []
        self._ledger.write(f"{now_ms}\n")
        self._ledger.flush()
        return [Reading(dev, now_ms, dict(m)) for dev, m in self._values.items()]


def main(config: str, values: str, ledger: str) -> None:
    agent = EdgeAgent(AgentConfig.load(Path(config)),
                      LedgerFileDriver(json.loads(Path(values).read_text()), Path(ledger)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    agent.run(stop)


if __name__ == "__main__":
    main(*sys.argv[1:4])
