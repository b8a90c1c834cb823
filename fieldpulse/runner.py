"""`fieldpulse run`: the cloud side on one machine, with its own broker if none is given."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console

from fieldpulse.broker import MosquittoBroker
from fieldpulse.settings import Settings
from fieldpulse.system import CloudSystem, wait_for_signal
from ingest.consumer import BrokerAddress


def parse_broker(value: str) -> BrokerAddress:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--broker must be HOST:PORT, got '{value}'")
    return BrokerAddress(host, int(port))


def start_broker(stack: ExitStack, data_dir: Path, console: Console) -> BrokerAddress:
    broker = MosquittoBroker(data_dir / "broker").start()
    stack.callback(broker.stop)
    console.print(f"MQTT broker (Mosquitto) on 127.0.0.1:{broker.port}, "
                  f"data in {broker.data_dir}")
    return BrokerAddress("127.0.0.1", broker.port)


def run_cloud(data_dir: Path, port: int, broker: str | None, tile_url: str,
              console: Console, **options: Any) -> None:
    """`options`: further Settings fields (e.g. the SMTP server)."""
    settings = Settings(data_dir=data_dir.resolve(), http_port=port, tile_url=tile_url,
                        **options)
    with ExitStack() as stack:
        address = parse_broker(broker) if broker else start_broker(stack, settings.data_dir,
                                                                    console)
        system = CloudSystem(settings, address)
        system.start()
        stack.callback(system.stop)
        console.print(f"Portal on {settings.base_url}/dispatch · API docs {settings.base_url}/docs")
        wait_for_signal()
