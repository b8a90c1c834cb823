"""Fixtures that start real processes: a Mosquitto broker per test, the cloud side."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldpulse.broker import MosquittoBroker
from fieldpulse.fleet_import import import_fleet
from fieldpulse.settings import Settings
from fieldpulse.system import CloudSystem
from foundations.processes import free_port
from ingest.consumer import BrokerAddress
from simulators.fleet import Fleet, generate_fleet
from support import RunningCloud, wait_until


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
    settings = Settings(data_dir=tmp_path / "data", http_port=free_port(),
                        dispatch_time_limit_s=1.0)
    system = CloudSystem(settings, BrokerAddress("127.0.0.1", mosquitto.port))
    tokens = import_fleet(system.engine, small_fleet)
    system.start()
    wait_until(system.consumer.connected.is_set, what="ingest to connect")
    running = RunningCloud(system, tokens, small_fleet, mosquitto.port)
    yield running
    running.api.close()
    system.stop()
