"""The edge agent as its own process, for the kill -9 test: a ledger driver, a JSON config.

    python agent_main.py CONFIG.json VALUES.json LEDGER
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from edge_support import LedgerDriver

from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig


def main(config: str, values: str, ledger: str) -> None:
    agent = EdgeAgent(AgentConfig.load(Path(config)),
                      LedgerDriver(json.loads(Path(values).read_text()), Path(ledger)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    agent.run(stop)


if __name__ == "__main__":
    main(*sys.argv[1:4])
