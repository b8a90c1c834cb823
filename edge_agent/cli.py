"""`fieldpulse edge --config gateway.toml`: run one gateway on real hardware (Modbus TCP)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig, ConfigError
from edge_agent.drivers import Driver

DRIVER_KINDS = ("modbus",)


def build_driver(config: AgentConfig) -> Driver:
    kind = config.driver.get("kind")
    if kind == "modbus":
        from edge_agent.modbus import ModbusDriver

        return ModbusDriver.from_config(config.driver)
    raise ConfigError(f"driver.kind: {kind!r} is not one of {DRIVER_KINDS} (simulated "
                      "gateways run with `fieldpulse simulate gateway`)")


def edge(
    config: Annotated[Path, typer.Option("--config", "-c", help="The gateway's TOML config.")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the edge agent: read the devices, keep every reading on disk, publish to the cloud."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        agent_config = AgentConfig.load(config)
        driver = build_driver(agent_config)
        agent = EdgeAgent(agent_config, driver)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"gateway {agent_config.gateway_id}: {len(agent.devices)} device(s), broker "
               f"{agent_config.broker_host}:{agent_config.broker_port}, outbox "
               f"{agent_config.state_dir}", err=True)
    agent.run(stop)
    while agent.reboot_requested and not stop.is_set():  # the `reboot` command
        agent = EdgeAgent(agent_config, driver)
        agent.run(stop)
