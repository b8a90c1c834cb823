"""User management by admins (role, disable/enable, password reset, tokens), the
last-admin guard, the audit trail of each change, the inbox's assignee list, and
pages' 403/404 answered as HTML to browsers (JSON to API clients)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal, build_portal
from sqlmodel import Session, select

from foundations.database import session_scope
from portal.auth.accounts import issue_api_token
from portal.auth.dependencies import SESSION_COOKIE
from portal.auth.tables import AuditEvent, PortalUser, UserSession
from simulators.fleet import generate_fleet
from support import Account, make_account

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return build_portal(tmp_path_factory.mktemp("users"), generate_fleet(seed=7, sites=4))


@pytest.fixture
def admin(portal: Portal) -> dict[str, str]:
    return portal.accounts["admin"].headers


def _client(portal: Portal) -> TestClient:
    return TestClient(portal.app, follow_redirects=False)


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with _client(portal) as client:
        yield client


def _user(portal: Portal, role: str = "dispatcher", engineer_id: str | None = None) -> Account:
    return make_account(portal.engine, role, engineer_id,
                        username=f"{role}-{portal.next_serial()}")


def _log_in(client: TestClient, account: Account, password: str | None = None) -> int:
    """A browser login through the form; returns the answer's status (303: logged in)."""
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    return client.post("/login", data={"username": account.username,
                                       "password": password or account.password,
                                       "csrf_token": csrf.group(1)}).status_code


def _csrf(client: TestClient, path: str = "/") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, "a logged-in page carries the session's CSRF token"
    return found.group(1)


def _audit(portal: Portal, action: str, target: str) -> list[AuditEvent]:
    with Session(portal.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action,
                                                          AuditEvent.target == target)))


def _sessions_of(portal: Portal, username: str) -> int:
    with Session(portal.engine) as session:
        user = session.exec(select(PortalUser).where(PortalUser.username == username)).one()
        return len(session.exec(select(UserSession).where(UserSession.user_id == user.id)).all())


def test_role_change_applies_to_the_next_request_and_is_audited(
        portal: Portal, client: TestClient, admin: dict[str, str]) -> None:
    user = _user(portal)
    assert client.get("/api/alerts", headers=user.headers).status_code == 200
    engineer = portal.engineer_id("own")
    changed = client.put(f"/api/users/{user.username}/role",
                         json={"role": "engineer", "engineer_id": engineer}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"username": user.username, "role": "engineer",
                              "engineer_id": engineer, "disabled": False,
                              "language": ""}
    # The same token now acts as an engineer of that engineer record.
    assert client.get("/api/me", headers=user.headers).json()["engineer_id"] == engineer
    assert client.get("/api/alerts", headers=user.headers).status_code == 403
    [event] = _audit(portal, "user.role", f"user:{user.username}")
    assert event.actor == "user:admin-test"
    assert event.detail == f"dispatcher -> engineer {engineer}"

    # An engineer needs an engineer record, and only an engineer has one.
    for body in ({"role": "engineer"}, {"role": "dispatcher", "engineer_id": engineer},
                 {"role": "engineer", "engineer_id": "no-such-engineer"}):
        refused = client.put(f"/api/users/{user.username}/role", json=body, headers=admin)
        assert refused.status_code == 422, (body, refused.text)
    assert client.put(f"/api/users/{user.username}/role", json={"role": "superuser"},
                      headers=admin).status_code == 422
    assert client.put("/api/users/nobody-here/role", json={"role": "dispatcher"},
                      headers=admin).status_code == 404
    # Only admins manage users.
    assert client.put(f"/api/users/{user.username}/role", json={"role": "admin"},
                      headers=portal.accounts["dispatcher"].headers).status_code == 403
    assert client.put(f"/api/users/{user.username}/role", json={"role": "dispatcher"},
                      headers=admin).json()["engineer_id"] is None


def test_disabling_cuts_sessions_and_tokens_at_once(portal: Portal,
                                                    admin: dict[str, str]) -> None:
    user = _user(portal)
    with _client(portal) as browser, _client(portal) as api:
        assert _log_in(browser, user) == 303
        assert browser.get("/dispatch").status_code == 200
        assert api.get("/api/me", headers=user.headers).status_code == 200

        disabled = api.post(f"/api/users/{user.username}/disable", headers=admin)
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True
        # The very next request of either kind is refused; the session is gone for good.
        assert browser.get("/dispatch").status_code == 303
        assert browser.get("/api/me").status_code == 401
        refused = api.get("/api/me", headers=user.headers)
        assert refused.status_code == 401 and "WWW-Authenticate" in refused.headers
        assert _sessions_of(portal, user.username) == 0
        assert _log_in(browser, user) == 401
        assert not [u for u in api.get("/api/assignees", headers=admin).json()
                    if u["username"] == user.username]

        enabled = api.post(f"/api/users/{user.username}/enable", headers=admin)
        assert enabled.status_code == 200 and enabled.json()["disabled"] is False
        # Tokens were paused, not revoked; the old session stays ended.
        assert api.get("/api/me", headers=user.headers).status_code == 200
        assert browser.get("/dispatch").status_code == 303
        assert _log_in(browser, user) == 303
    assert len(_audit(portal, "user.disable", f"user:{user.username}")) == 1
    assert len(_audit(portal, "user.enable", f"user:{user.username}")) == 1
    # Disabling an already disabled user changes nothing and logs nothing.
    with _client(portal) as api:
        api.post(f"/api/users/{user.username}/disable", headers=admin)
        api.post(f"/api/users/{user.username}/disable", headers=admin)
    assert len(_audit(portal, "user.disable", f"user:{user.username}")) == 2


def test_password_reset_ends_the_users_other_sessions(portal: Portal,
                                                      admin: dict[str, str]) -> None:
    user = _user(portal)
    with _client(portal) as phone, _client(portal) as laptop, _client(portal) as api:
        assert _log_in(phone, user) == 303 and _log_in(laptop, user) == 303
        chosen = api.post(f"/api/users/{user.username}/password",
                          json={"password": "correct horse battery"}, headers=admin)
        assert chosen.status_code == 200 and chosen.json()["password"] is None
        assert phone.get("/api/me").status_code == 401
        assert laptop.get("/api/me").status_code == 401
        assert _log_in(phone, user) == 401  # the old password
        assert _log_in(phone, user, "correct horse battery") == 303
        # The API token does not depend on the password.
        assert api.get("/api/me", headers=user.headers).status_code == 200

        generated = api.post(f"/api/users/{user.username}/password", json={},
                             headers=admin).json()["password"]
        assert generated and _log_in(laptop, user, generated) == 303
        assert api.post(f"/api/users/{user.username}/password", json={"password": "short"},
                        headers=admin).status_code == 422
    events = _audit(portal, "user.password_reset", f"user:{user.username}")
    assert len(events) == 2 and all(generated not in e.detail for e in events)


def test_an_admin_resetting_their_own_password_stays_logged_in_here(portal: Portal) -> None:
    me = _user(portal, "admin")
    with _client(portal) as here, _client(portal) as elsewhere:
        assert _log_in(here, me) == 303 and _log_in(elsewhere, me) == 303
        csrf = _csrf(here)
        # A session's call without its CSRF token is refused.
        assert here.post(f"/api/users/{me.username}/password", json={}).status_code == 403
        done = here.post(f"/api/users/{me.username}/password",
                         json={"password": "a new long password"}, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200, done.text
        assert here.get("/api/me").status_code == 200
        assert elsewhere.get("/api/me").status_code == 401


def test_the_last_active_admin_can_neither_be_demoted_nor_disabled(
        portal: Portal, client: TestClient, admin: dict[str, str]) -> None:
    with Session(portal.engine) as session:
        admins = session.exec(select(PortalUser).where(PortalUser.role == "admin",
                                                       PortalUser.disabled == False)).all()  # noqa: E712
    others = [u.username for u in admins if u.username != "admin-test"]
    for name in others:  # admins made by other tests of this module: out of the way
        assert client.post(f"/api/users/{name}/disable", headers=admin).status_code == 200
    deputy = _user(portal, "admin")

    # With a second active admin, an admin may step down.
    assert client.post(f"/api/users/{deputy.username}/disable", headers=admin).status_code == 200
    for call in (lambda: client.put("/api/users/admin-test/role", json={"role": "dispatcher"},
                                    headers=admin),
                 lambda: client.post("/api/users/admin-test/disable", headers=admin)):
        refused = call()
        assert refused.status_code == 409, refused.text
        assert "last active admin" in refused.json()["detail"]
    me = client.get("/api/me", headers=admin).json()
    assert me["role"] == "admin"
    assert not _audit(portal, "user.role", "user:admin-test")
    assert not _audit(portal, "user.disable", "user:admin-test")

    assert client.post(f"/api/users/{deputy.username}/enable", headers=admin).status_code == 200
    stepped_down = client.put("/api/users/admin-test/role", json={"role": "dispatcher"},
                              headers=admin)
    assert stepped_down.status_code == 200 and stepped_down.json()["role"] == "dispatcher"
    assert client.get("/api/users", headers=admin).status_code == 403
    # The deputy is now the last one, and restores the first.
    assert client.post(f"/api/users/{deputy.username}/disable",
                       headers=deputy.headers).status_code == 409
    assert client.put("/api/users/admin-test/role", json={"role": "admin"},
                      headers=deputy.headers).status_code == 200
    assert [e.detail for e in _audit(portal, "user.role", "user:admin-test")] == [
        "admin -> dispatcher", "dispatcher -> admin"]
    for name in others:
        client.post(f"/api/users/{name}/enable", headers=admin)


def test_an_admin_lists_and_revokes_a_users_tokens(portal: Portal, client: TestClient,
                                                   admin: dict[str, str]) -> None:
    user = _user(portal)
    with session_scope(portal.engine) as session:
        row = session.exec(select(PortalUser).where(PortalUser.username == user.username)).one()
        token, plain = issue_api_token(session, row, "ci")
        token_id = token.id
    listed = client.get(f"/api/users/{user.username}/tokens", headers=admin).json()
    assert [t["name"] for t in listed] == ["ci", "tests"]  # newest first
    assert (listed[0]["id"], listed[0]["revoked_at"]) == (token_id, None)
    assert "token" not in listed[0] and "token_hash" not in listed[0]
    assert client.delete(f"/api/tokens/{token_id}", headers=admin).status_code == 204
    assert client.get("/api/me", headers={"Authorization": f"Bearer {plain}"}).status_code == 401
    revoked = client.get(f"/api/users/{user.username}/tokens", headers=admin).json()[0]
    assert revoked["revoked_at"] is not None
    assert _audit(portal, "token.revoke", f"token:{token_id}")
    assert client.get(f"/api/users/{user.username}/tokens",
                      headers=user.headers).status_code == 403
    assert client.get("/api/users/nobody-here/tokens", headers=admin).status_code == 404


def test_assignees_are_the_active_staff(portal: Portal, client: TestClient) -> None:
    listed = client.get("/api/assignees", headers=portal.accounts["dispatcher"].headers)
    assert listed.status_code == 200
    names = {u["username"]: u for u in listed.json()}
    assert {"admin-test", "dispatcher-test"} <= names.keys()
    assert names["dispatcher-test"]["display_name"]
    # Engineers cannot open the inbox, so an alert is not theirs to be given.
    assert not [u for u in names.values() if u["role"] == "engineer"]
    assert client.get("/api/assignees",
                      headers=portal.accounts["engineer_own"].headers).status_code == 403


def test_a_page_the_browser_may_not_see_is_a_page(portal: Portal) -> None:
    engineer = portal.accounts["engineer_own"]
    with _client(portal) as browser:
        assert _log_in(browser, engineer) == 303
        page = browser.get("/dispatch", headers=BROWSER)
        assert page.status_code == 403
        assert page.headers["content-type"].startswith("text/html")
        assert "You may not open this page" in page.text
        assert f"logged in as {engineer.username} (engineer)" in page.text
        assert 'href="/"' in page.text and 'href="/login?next=/dispatch"' in page.text
        assert 'action="/logout"' in page.text  # the header still offers to log out
        assert browser.get("/admin/users", headers=BROWSER).status_code == 403
        # An engineer's page of someone else: HTML too.
        other = browser.get(f"/engineer/{portal.engineer_id('other')}", headers=BROWSER)
        assert other.status_code == 403 and "<h1>" in other.text

        # JSON for clients that ask for it, and always on the API.
        wants_json = browser.get("/dispatch", headers={"Accept": "application/json"})
        assert wants_json.status_code == 403 and "engineer" in wants_json.json()["detail"]
        api = browser.get("/api/users", headers=BROWSER)
        assert api.status_code == 403 and api.headers["content-type"] == "application/json"

        missing = browser.get("/no-such-page", headers=BROWSER)
        assert missing.status_code == 404 and "Nothing here" in missing.text
        assert browser.get("/api/no-such-thing", headers=BROWSER).json() == {
            "detail": "Not Found"}
    # Without a session a page still sends the browser to the login.
    with _client(portal) as anonymous:
        to_login = anonymous.get("/admin/users", headers=BROWSER)
        assert to_login.status_code == 303
        assert to_login.headers["location"] == "/login?next=/admin/users"
        wrong_code = anonymous.get("/q/not-a-real-code", headers=BROWSER)
        assert wrong_code.status_code == 404 and "This code is not valid" in wrong_code.text
        assert "/login" not in wrong_code.text.split("</header>", 1)[1]


def test_the_admin_page_lists_users_with_their_actions(portal: Portal) -> None:
    user = _user(portal)
    with _client(portal) as browser:
        assert _log_in(browser, portal.accounts["admin"]) == 303
        page = browser.get("/admin/users", headers=BROWSER)
        assert page.status_code == 200
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert csrf
        row = page.text.split(f'data-user="{user.username}"', 1)[1].split("</tr>", 1)[0]
        for action in ("role", "disable", "password", "revoke"):
            assert f'data-user-action="{action}"' in row
        # What its buttons call, with the page's CSRF token.
        assert browser.post(f"/api/users/{user.username}/disable").status_code == 403
        assert browser.post(f"/api/users/{user.username}/disable",
                            headers={"X-CSRF-Token": csrf.group(1)}).status_code == 200
        page = browser.get("/admin/users", headers=BROWSER).text
        row = page.split(f'data-user="{user.username}"', 1)[1].split("</tr>", 1)[0]
        assert 'data-user-action="enable"' in row
        assert SESSION_COOKIE in browser.cookies  # the admin's own session lives on


def test_an_admin_sets_a_users_language_and_their_pages_follow(
        portal: Portal, client: TestClient, admin: dict[str, str]) -> None:
    """PUT …/language takes a tag (de, zh-CN; "" follows the browser again), refuses a
    language without a catalogue, is audited, and the user's next page is in it."""
    user = _user(portal)
    url = f"/api/users/{user.username}/language"
    assert client.put(url, json={"language": "fr"}, headers=admin).status_code == 422
    changed = client.put(url, json={"language": "de"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["language"] == "de"
    assert _audit(portal, "user.language", f"user:{user.username}")
    assert _log_in(client, user) == 303
    page = client.get("/dispatch/stock").text
    assert '<html lang="de">' in page and "Abmelden" in page
    assert client.put(url, json={"language": ""}, headers=admin).json()["language"] == ""
    assert '<html lang="en">' in client.get("/dispatch/stock").text
