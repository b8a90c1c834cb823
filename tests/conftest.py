"""Fixtures that start real processes: a Mosquitto broker per test, the cloud side.

The broker is the one `fieldpulse run` starts: every client logs in with an account
of its own (`testing_support.broker_logins.login` makes one), the ACL keeps a gateway
to its own topics, and the username is the client id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldpulse.broker import MosquittoBroker
from fieldpulse.fleet_import import import_fleet
from fieldpulse.parts import open_database
from fieldpulse.settings import Settings
from fieldpulse.system import CloudSystem
from foundations.processes import free_port
from simulators.fleet import Fleet, generate_fleet
from support import RunningCloud, cloud_login, commands_login, wait_until


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(tmp_path / "broker").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def small_fleet() -> Fleet:
    return generate_fleet(seed=7, sites=4)


@pytest.fixture
def cloud(tmp_path: Path, mosquitto: MosquittoBroker, small_fleet: Fleet) -> Iterator[RunningCloud]:
    # Webhook receivers of the tests listen on loopback: allowed here explicitly.
    settings = Settings(data_dir=tmp_path / "data", http_port=free_port(),
                        dispatch_time_limit_s=1.0, webhook_allowed_networks=("127.0.0.1/32",))
    # As `fieldpulse run` does: the registry first, then the broker's accounts from it.
    engine = open_database(settings)
    tokens = import_fleet(engine, small_fleet)
    system = CloudSystem(settings, cloud_login(mosquitto, engine), engine=engine,
                         commands_broker=commands_login(mosquitto, engine))
    system.start()
    wait_until(system.consumer.connected.is_set, what="ingest to connect")
    running = RunningCloud(system, tokens, small_fleet, mosquitto)
    yield running
    running.api.close()
    system.stop()
