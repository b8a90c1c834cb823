"""Browser sessions: login and logout, the cookie's flags, and CSRF on every form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal, build_portal
from sqlmodel import Session, select

from portal.auth.dependencies import CSRF_COOKIE, SESSION_COOKIE
from portal.auth.tables import UserSession
from service.tables import WorkOrder
from simulators.fleet import generate_fleet
from support import Account


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return build_portal(tmp_path_factory.mktemp("login"), generate_fleet(seed=7, sites=4))


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app, follow_redirects=False) as client:
        yield client


def _csrf_field(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def _log_in(client: TestClient, account: Account, next_url: str = ""):
    csrf = _csrf_field(client.get("/login").text)
    return client.post("/login", data={"username": account.username,
                                       "password": account.password, "csrf_token": csrf,
                                       "next": next_url})


def _set_cookie_header(response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(name + "="))


def test_login_sets_a_session_cookie_browsers_keep_to_themselves(portal: Portal,
                                                                   client: TestClient) -> None:
    response = _log_in(client, portal.accounts["dispatcher"], next_url="/dispatch")
    assert response.status_code == 303 and response.headers["location"] == "/dispatch"
    cookie = _set_cookie_header(response, SESSION_COOKIE).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert client.get("/dispatch").status_code == 200
    # The database holds a hash of the session key, never the key itself.
    key = client.cookies[SESSION_COOKIE]
    with Session(portal.engine) as session:
        assert all(row.key_hash != key for row in session.exec(select(UserSession)))


def test_over_https_the_session_cookie_is_secure(portal: Portal) -> None:
    with TestClient(portal.app, base_url="https://portal.example",
                    follow_redirects=False) as client:
        response = _log_in(client, portal.accounts["admin"])
        assert "secure" in _set_cookie_header(response, SESSION_COOKIE).lower()


def test_wrong_password_and_unknown_user_get_the_same_answer(portal: Portal,
                                                              client: TestClient) -> None:
    real = portal.accounts["admin"]
    answers = [_log_in(client, Account(name, "not-the-password", ""))
               for name in (real.username, "nobody-by-this-name")]
    assert [a.status_code for a in answers] == [401, 401]
    assert all("Wrong user name or password" in a.text for a in answers)
    assert SESSION_COOKIE not in client.cookies


def test_login_redirects_only_within_the_site(portal: Portal, client: TestClient) -> None:
    for evil in ("//evil.example/x", "https://evil.example/"):
        client.cookies.clear()
        response = _log_in(client, portal.accounts["dispatcher"], next_url=evil)
        assert response.headers["location"] == "/dispatch"
    client.cookies.clear()
    engineer = _log_in(client, portal.accounts["engineer_own"])
    assert engineer.headers["location"] == f"/engineer/{portal.engineer_id('own')}"


def test_forms_without_the_right_csrf_token_are_refused(portal: Portal,
                                                         client: TestClient) -> None:
    engineer_id = portal.engineer_id("own")
    order_id = portal.new_job(portal.device("B").id, engineer_id)
    _log_in(client, portal.accounts["engineer_own"])
    page = client.get(f"/engineer/{engineer_id}")
    assert page.status_code == 200 and f'data-work-order="{order_id}"' in page.text
    token = _csrf_field(page.text)
    url = f"/engineer/{engineer_id}/jobs/{order_id}/status"
    for form in ({"status": "en_route"}, {"status": "en_route", "csrf_token": "forged"}):
        refused = client.post(url, data=form)
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    with Session(portal.engine) as session:
        assert session.get(WorkOrder, order_id).status == "assigned"
    done = client.post(url, data={"status": "en_route", "csrf_token": token})
    assert done.status_code == 303
    with Session(portal.engine) as session:
        assert session.get(WorkOrder, order_id).status == "en_route"


def test_json_api_called_with_a_session_needs_the_csrf_header(portal: Portal,
                                                               client: TestClient) -> None:
    _log_in(client, portal.accounts["dispatcher"])
    token = _csrf_field(client.get("/dispatch").text)
    alert_id = portal.new_alert(portal.device("B").id)
    url = f"/api/alerts/{alert_id}/acknowledge"
    assert client.post(url, json={"by": "dana"}).status_code == 403
    acked = client.post(url, json={"by": "dana"}, headers={"X-CSRF-Token": token})
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"


def test_public_forms_use_a_double_submit_cookie(portal: Portal, client: TestClient) -> None:
    token = portal.tokens[portal.device("A").id]
    page = client.get(f"/q/{token}")
    field = _csrf_field(page.text)
    assert client.cookies[CSRF_COOKIE] == field
    report = {"category": "Leak", "description": "water on the floor"}
    client.cookies.clear()  # a cross-site page can post the form, not read or set our cookie
    assert client.post(f"/q/{token}/report", data={**report, "csrf_token": field}
                       ).status_code == 403
    client.cookies.set(CSRF_COOKIE, field)
    sent = client.post(f"/q/{token}/report", data={**report, "csrf_token": field})
    assert sent.status_code == 303 and "reported=" in sent.headers["location"]
    assert "report-received" in client.get(sent.headers["location"]).text
    # Another device's case number is not acknowledged on this page.
    other = portal.tokens[portal.device("B").id]
    assert "report-received" not in client.get(
        f"/q/{other}?reported={sent.headers['location'].rsplit('=', 1)[1]}").text


def test_logout_ends_the_session_for_good(portal: Portal, client: TestClient) -> None:
    _log_in(client, portal.accounts["admin"])
    key = client.cookies[SESSION_COOKIE]
    token = _csrf_field(client.get("/dispatch").text)
    assert client.post("/logout", data={"csrf_token": token}).headers["location"] == "/login"
    client.cookies.set(SESSION_COOKIE, key)  # a copy of the cookie kept by someone
    assert client.get("/dispatch").headers["location"] == "/login?next=/dispatch"
    assert client.get("/api/me").status_code == 401




def test_an_unreachable_database_answers_503_with_retry_after(
        portal: Portal, tmp_path: Path) -> None:
    """Down, or out of connections under load: a retryable 503, not a bare 500."""
    from foundations.database import make_engine

    ctx = portal.app.state.ctx
    working, ctx.engine = ctx.engine, make_engine(f"sqlite:///{tmp_path}/missing/dir/db")
    try:
        with TestClient(portal.app, raise_server_exceptions=False) as client:
            client.headers.update(portal.accounts["dispatcher"].headers)
            answer = client.get("/api/work-orders")
    finally:
        ctx.engine = working
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "database" in answer.json()["detail"]
