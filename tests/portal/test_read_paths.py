"""The read paths under load (issue 24), by behaviour: /healthz reads no table, the
health probes are not run on every call, callers kept for a second are forgotten at
once when their credential or user changes in this process."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal, build_portal
from sqlalchemy import Engine, event, update
from sqlmodel import col, select

from foundations.database import session_scope
from foundations.health import Health
from portal.auth import principal_cache
from portal.auth.passwords import digest
from portal.auth.tables import ApiToken, PortalUser
from simulators.fleet import generate_fleet
from support import Account, make_account


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return build_portal(tmp_path_factory.mktemp("read-paths"), generate_fleet(seed=7, sites=6))


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement `engine` runs meanwhile."""
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_healthz_reads_no_table(portal: Portal) -> None:
    with TestClient(portal.app) as client:
        client.get("/healthz")  # whatever the first request sets up
        with statements(portal.engine) as seen:
            answers = [client.get("/healthz") for _ in range(20)]
    assert all(a.status_code == 200 and a.json()["status"] == "ok" for a in answers)
    assert seen == []


def test_healthz_counts_the_devices_of_the_device_list_snapshot(portal: Portal) -> None:
    with TestClient(portal.app) as client:
        listed = client.get("/api/devices", headers=portal.accounts["dispatcher"].headers)
        assert client.get("/healthz").json()["devices"] == len(listed.json())


def test_probes_run_at_most_once_per_max_age() -> None:
    now = [100.0]
    calls: list[int] = []
    health = Health(probes={"database": lambda: calls.append(1) is None},
                    probe_max_age_s=1.0, clock=lambda: now[0])
    for _ in range(50):
        assert health.report().probes == {"database": True}
    assert len(calls) == 1
    now[0] += 1.5
    health.report()
    assert len(calls) == 2


def _new_dispatcher(portal: Portal) -> Account:
    return make_account(portal.engine, "dispatcher", username=f"cached-{portal.next_serial()}")


def test_a_token_revoked_in_this_process_is_refused_at_once(portal: Portal) -> None:
    account = _new_dispatcher(portal)
    with TestClient(portal.app) as client:
        assert client.get("/api/engineers", headers=account.headers).status_code == 200
        with session_scope(portal.engine) as session:  # as the admin API and the CLI do
            session.exec(update(ApiToken).where(col(ApiToken.token_hash) == digest(
                account.token)).values(revoked_at=1))
        assert client.get("/api/engineers", headers=account.headers).status_code == 401


def test_a_user_disabled_in_this_process_is_refused_at_once(portal: Portal) -> None:
    account = _new_dispatcher(portal)
    with TestClient(portal.app) as client:
        assert client.get("/api/engineers", headers=account.headers).status_code == 200
        with session_scope(portal.engine) as session:
            user = session.exec(select(PortalUser).where(
                PortalUser.username == account.username)).one()
            user.disabled = True
        assert client.get("/api/engineers", headers=account.headers).status_code == 401


def test_another_process_revoking_a_token_is_seen_within_the_cache_ttl(
        portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(principal_cache.CACHE, "_clock", lambda: now[0])
    account = _new_dispatcher(portal)
    with TestClient(portal.app) as client:
        assert client.get("/api/engineers", headers=account.headers).status_code == 200
        # Another process: a connection of its own, which no listener here sees.
        db = portal.engine.url.database
        assert db is not None
        with sqlite3.connect(db) as other:
            other.execute("UPDATE api_token SET revoked_at = 1 WHERE token_hash = ?",
                          (digest(account.token),))
        assert client.get("/api/engineers", headers=account.headers).status_code == 200
        now[0] += principal_cache.TTL_S + 0.01
        assert client.get("/api/engineers", headers=account.headers).status_code == 401
