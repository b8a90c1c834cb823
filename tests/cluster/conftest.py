"""A 3-node NATS JetStream cluster per test (its MQTT listeners on free loopback ports) and
a PostgreSQL registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine
from simulators.fleet import generate_fleet
from testing_support.nats_cluster import NatsCluster, find_nats_server
from testing_support.servers import PostgresServer, find_pg_bin


@pytest.fixture
def nats_cluster() -> Iterator[NatsCluster]:
    if find_nats_server() is None:
        pytest.skip("nats-server is not installed (scripts/bootstrap.sh installs it)")
    cluster = NatsCluster(size=3).start()
    yield cluster
    cluster.remove()


@pytest.fixture
def registry() -> Iterator[tuple[str, Engine]]:
    """A throwaway PostgreSQL with the schema and a fleet (seed 23, 6 sites)."""
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/bootstrap.sh installs it)")
    server = PostgresServer().start()
    engine = make_engine(server.url)
    upgrade(engine)
    import_fleet(engine, generate_fleet(seed=23, sites=6))
    yield server.url, engine
    engine.dispose()
    server.remove()
