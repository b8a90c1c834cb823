"""Helpers of the command tests: a simulated gateway of the cloud's fleet, running."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from asset_registry.catalog import load_models
from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from simulators.driver import SimulatedDriver
from simulators.faults import Fault
from support import RunningCloud, wait_until
from testing_support.broker_logins import login

MODELS = load_models()


@contextmanager
def gateway_running(cloud: RunningCloud, gateway_id: str, state_dir: Path,
                    without: str | None = None, faults: Iterable[Fault] = (),
                    started: list[EdgeAgent] | None = None) -> Iterator[EdgeAgent]:
    """The gateway's edge agent, logged in with its own account; periodic samples rare, so
    what a read-now sampled is the newest reading of its devices for a while. Its devices
    have `faults`; after a `reboot` command a new agent runs (each one in `started`)."""
    username, password = login(cloud.broker, gateway_id)
    config = AgentConfig(gateway_id=gateway_id, state_dir=state_dir,
                         broker_port=cloud.broker_port, username=username, password=password,
                         sample_period_s=60.0, batch_max_age_s=0.2, reconnect_min_s=0.2,
                         reconnect_max_s=1.0)
    devices = [d for d in cloud.fleet.devices_of(gateway_id) if d.id != without]
    driver = SimulatedDriver(devices, MODELS, faults, seed=1)
    agent = EdgeAgent(config, driver)
    agents = [agent] if started is None else started
    agents[:] = [agent]
    stop = threading.Event()

    def run() -> None:  # as simulators.gateway_process does
        while True:
            agents[-1].run(stop)
            if stop.is_set() or not agents[-1].reboot_requested:
                return
            agents.append(EdgeAgent(config, driver))

    thread = threading.Thread(target=run, name=f"edge-{gateway_id}")
    thread.start()
    try:
        wait_until(agent.connected.is_set, what=f"{gateway_id} to connect")
        yield agent
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive()
