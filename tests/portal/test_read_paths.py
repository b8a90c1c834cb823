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
from portal.live_feed import LiveEvent
from portal.read_cache import ReadCache
from simulators.fleet import generate_fleet
from support import Account, make_account, wait_until


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
    # Aged: the last answers at once, while one thread probes again for the next.
    assert health.report().probes == {"database": True}
    wait_until(lambda: len(calls) == 2, timeout_s=5, what="the probes to run again")
    for _ in range(50):
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


# -- the open alerts, from memory ----------------------------------------------------------

def test_open_alerts_answer_304_to_their_etag_and_change_with_a_write(portal: Portal) -> None:
    staff = portal.accounts["dispatcher"].headers
    with TestClient(portal.app, headers=staff) as client:
        first = client.get("/api/alerts?state=open")
        etag = first.headers["etag"]
        again = client.get("/api/alerts?state=open", headers={"If-None-Match": etag})
        assert again.status_code == 304
        with statements(portal.engine) as seen:  # served from memory: no SQL at all
            assert client.get("/api/alerts?state=open").json() == first.json()
        assert seen == []
        raised = portal.new_alert(portal.device("A").id)  # a write in this process
        changed = client.get("/api/alerts?state=open", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert raised in {a["id"] for a in changed.json()}


def test_another_process_s_alert_shows_once_the_hub_sees_it(portal: Portal) -> None:
    staff = portal.accounts["dispatcher"].headers
    with TestClient(portal.app, headers=staff) as client:
        before = {a["id"] for a in client.get("/api/alerts?state=open").json()}
        db = portal.engine.url.database
        assert db is not None
        with sqlite3.connect(db) as other:  # unseen by this process's listeners
            other.execute("INSERT INTO alert (device_id, rule_id, metric, severity, message, "
                          "state, raised_at, raised_value, replayed) VALUES "
                          "(?, 'other-process', 'tds_ppm', 'high', 'm', 'active', 1, 1.0, 0)",
                          (portal.device("A").id,))
        cache = open_alerts_cache_of(portal)
        cache.on_live_events([LiveEvent("alert", {}, 1)])  # what the hub does on its poll
        after = {a["id"] for a in client.get("/api/alerts?state=open").json()}
        assert len(after - before) == 1


def open_alerts_cache_of(portal: Portal) -> ReadCache:
    cache: ReadCache = portal.app.state.read_caches["alerts"]
    return cache


def test_work_orders_and_a_device_change_with_a_write_and_answer_304(portal: Portal) -> None:
    staff = portal.accounts["dispatcher"].headers
    device = portal.device("A").id
    with TestClient(portal.app, headers=staff) as client:
        orders = client.get("/api/work-orders")
        detail = client.get(f"/api/devices/{device}")
        for answer in (orders, detail):
            assert client.get(str(answer.url), headers={
                "If-None-Match": answer.headers["etag"]}).status_code == 304
        assert client.get("/api/devices/no-such-device").status_code == 404
        job = portal.new_job(device, portal.engineer_id("own"))
        portal.new_alert(device)
        assert job in {w["id"] for w in client.get("/api/work-orders").json()}
        assert client.get(f"/api/devices/{device}").json()["open_alerts"] == \
            detail.json()["open_alerts"] + 1
        # An engineer's list is their own, whatever another caller's list holds.
        own = portal.accounts["engineer_own"].headers
        other = portal.accounts["engineer_other"].headers
        assert job in {w["id"] for w in client.get("/api/work-orders", headers=own).json()}
        assert job not in {w["id"] for w in client.get("/api/work-orders",
                                                       headers=other).json()}


def test_a_caller_in_steady_use_is_refreshed_in_the_background_and_dropped_if_revoked(
        portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [5000.0]
    monkeypatch.setattr(principal_cache.CACHE, "_clock", lambda: now[0])
    account = _new_dispatcher(portal)
    with TestClient(portal.app) as client:
        assert client.get("/api/engineers", headers=account.headers).status_code == 200
        db = portal.engine.url.database
        assert db is not None
        with sqlite3.connect(db) as other:  # another process revokes it
            other.execute("UPDATE api_token SET revoked_at = 1 WHERE token_hash = ?",
                          (digest(account.token),))
        now[0] += principal_cache.TTL_S * 0.6  # past half its life, not expired
        # Still the kept answer; it starts a lookup in the background, which finds the
        # token revoked and drops the entry: the next request is refused.
        assert client.get("/api/engineers", headers=account.headers).status_code == 200
        wait_until(lambda: principal_cache.CACHE.get(principal_cache.cache_key(
            portal.engine, "token", digest(account.token))) is None, timeout_s=5,
            what="the background refresh")
        assert client.get("/api/engineers", headers=account.headers).status_code == 401
