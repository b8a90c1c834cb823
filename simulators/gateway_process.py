"""One simulated gateway as its own process: the edge agent with a simulator driver."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

from asset_registry.catalog import load_models
from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from simulators.driver import SimulatedDriver
from simulators.faults import read_labels
from simulators.fleet import Fleet


def build_driver(config: AgentConfig) -> SimulatedDriver:
    """The driver section names the fleet file, the fault labels file and a seed."""
    spec = config.driver
    fleet = Fleet.from_dict(json.loads(Path(spec["fleet"]).read_text()))
    faults = read_labels(spec["faults"]) if spec.get("faults") else []
    return SimulatedDriver(fleet.devices_of(config.gateway_id), load_models(), faults,
                           seed=int(spec.get("seed", 0)), tz=fleet.city.tz)


def run_gateway(config_path: Path) -> None:
    config = AgentConfig.load(config_path)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # A `reboot` command ends `run` without `stop`: start afresh, as a gateway would.
    # The driver is kept: the simulated equipment does not change with its gateway.
    driver = build_driver(config)
    while not stop.is_set():
        agent = EdgeAgent(config, driver)
        agent.run(stop)
        if not agent.reboot_requested:
            break
