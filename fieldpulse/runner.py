"""`fieldpulse run`: the cloud side on one machine, with its own broker if none is given."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy import Engine

from commands.link import COMMANDS_CLIENT
from fieldpulse.broker import MosquittoBroker, TlsListener
from fieldpulse.broker_setup import builtin_login, tls_listener
from fieldpulse.parts import open_database
from fieldpulse.settings import Settings
from fieldpulse.system import CloudSystem, wait_for_signal
from ingest.consumer import BrokerAddress, Partition, ingest_client_id


def start_broker(stack: ExitStack, settings: Settings, engine: Engine, console: Console,
                 tls: TlsListener | None = None) -> tuple[BrokerAddress, BrokerAddress]:
    """The built-in broker, with an account for every gateway of the registry and the
    cloud's own (the ingest consumer's and the command link's); returns how each logs in."""
    broker = MosquittoBroker(settings.data_dir / "broker", tls=tls)
    partition = Partition(settings.ingest_partition, settings.ingest_partitions)
    address = builtin_login(broker, engine, ingest_client_id(partition))
    commands = builtin_login(broker, engine, COMMANDS_CLIENT)
    broker.start()
    stack.callback(broker.stop)
    accounts = broker.accounts
    console.print(f"MQTT broker (Mosquitto) on 127.0.0.1:{broker.port}, every client logs "
                  f"in; data and accounts in {broker.data_dir}")
    if tls is not None:
        console.print(f"MQTT over TLS on {tls.host}:{tls.port}; gateways verify the broker "
                      f"with {broker.data_dir / 'tls' / 'ca.crt'}")
    console.print(f"Gateway passwords made for the registry: {accounts.credentials_dir}; "
                  f"for a new gateway: fieldpulse provision gateway ID --dir {broker.data_dir}")
    return address, commands


def run_cloud(data_dir: Path, port: int, broker: BrokerAddress | None, tile_url: str,
              console: Console, mqtt_tls: tuple[str, int] | None = None,
              commands_broker: BrokerAddress | None = None, **options: Any) -> None:
    """`broker`: an external broker and the cloud's login there (None: start one, with a
    TLS listener on `mqtt_tls` if given); `commands_broker`: the command link's login on
    the external broker. `options`: further Settings fields."""
    settings = Settings(data_dir=data_dir.resolve(), http_port=port, tile_url=tile_url,
                        **options)
    with ExitStack() as stack:
        if broker is not None:
            system = CloudSystem(settings, broker, commands_broker=commands_broker)
        else:
            engine = open_database(settings)
            tls = None if mqtt_tls is None else tls_listener(
                settings.data_dir / "broker", *mqtt_tls)
            address, commands = start_broker(stack, settings, engine, console, tls)
            system = CloudSystem(settings, address, engine=engine, commands_broker=commands)
        system.start()
        stack.callback(system.stop)
        console.print(f"Portal on {settings.base_url}/dispatch · API docs {settings.base_url}/docs")
        wait_for_signal()
