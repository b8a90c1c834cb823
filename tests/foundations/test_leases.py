"""Leases on PostgreSQL advisory locks: one holder at a time, taken over when it dies."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from foundations.database import make_engine
from foundations.leases import AdvisoryLeases, leader_only
from testing_support.servers import PostgresServer, find_pg_bin


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (scripts/bootstrap.sh installs it)")
    server = PostgresServer().start()
    engine = make_engine(server.url)
    yield engine
    engine.dispose()
    server.remove()


def test_one_holder_at_a_time_and_the_next_takes_over_when_it_is_gone(pg_engine: Engine
                                                                       ) -> None:
    a = AdvisoryLeases(pg_engine, space=7, group="test-group")
    b = AdvisoryLeases(pg_engine, space=7, group="test-group")
    runs: list[str] = []
    step_a = leader_only(a, 1, lambda: runs.append("a"))
    step_b = leader_only(b, 1, lambda: runs.append("b"))

    step_a()
    step_b()
    assert a.members() == b.members() == 2
    assert (a.held, b.held) == ({1}, set())

    a.close()  # its connection ends, as when the process is killed
    # PostgreSQL frees the lock once a's backend has noticed and exited: b's next ticks.
    deadline = time.monotonic() + 30
    while "b" not in runs and time.monotonic() < deadline:
        step_b()
        time.sleep(0.05)
    step_a()  # reconnects as a new member: the lease is b's now
    assert runs == ["a", "b"]
    assert b.held == {1} and a.held == set()
    b.give_up(1)
    assert a.try_take(1)
    a.close()
    b.close()


def test_without_leases_the_step_just_runs() -> None:
    runs: list[int] = []
    leader_only(None, 1, lambda: runs.append(1))()
    assert runs == [1]
