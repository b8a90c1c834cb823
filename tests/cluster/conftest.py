"""A 3-node NATS JetStream cluster per test (its MQTT listeners on free loopback ports)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from testing_support.nats_cluster import NatsCluster, find_nats_server


@pytest.fixture
def nats_cluster() -> Iterator[NatsCluster]:
    if find_nats_server() is None:
        pytest.skip("nats-server is not installed (scripts/bootstrap.sh installs it)")
    cluster = NatsCluster(size=3).start()
    yield cluster
    cluster.remove()
