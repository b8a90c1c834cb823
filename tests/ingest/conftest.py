"""Real PostgreSQL and VictoriaMetrics processes for the ingest tests, and a registry per backend.

One PostgreSQL cluster serves the session (a fresh database per test); tests that
kill PostgreSQL start their own. VictoriaMetrics starts per test (it takes ~0.2 s).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from ingest_helpers import Backend, open_registry

from ingest.telemetry_store import SqlTelemetryStore, TelemetryStore, VictoriaMetricsStore
from simulators.fleet import Fleet, generate_fleet
from testing_support.servers import PostgresServer, VictoriaMetricsServer

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.remove()


def fresh_database(server: PostgresServer) -> str:
    name = f"test_{next(_databases)}"
    with psycopg.connect(host="127.0.0.1", port=server.port, user="postgres",
                         dbname="postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    return fresh_database(postgres_server)


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetricsServer]:
    server = VictoriaMetricsServer(tmp_path / "vm").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fleet() -> Fleet:
    return generate_fleet(seed=11, sites=5)


@pytest.fixture(params=["sqlite", "postgresql", "victoriametrics"])
def backend(request, tmp_path: Path, fleet: Fleet) -> Iterator[Backend]:
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'fieldpulse.db'}"
    engine = open_registry(url, fleet)
    if request.param == "victoriametrics":
        vm = request.getfixturevalue("victoria")
        store: TelemetryStore = VictoriaMetricsStore(vm.url)
        yield Backend(request.param, engine, store, url, vm.url)
    else:
        yield Backend(request.param, engine, SqlTelemetryStore(engine), url)
    engine.dispose()
