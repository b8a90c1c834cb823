"""User management and the inbox's assignee picker in a real browser (headless
Chromium), against the portal app served by uvicorn on a free loopback port: an
admin disables, re-enables, re-roles a user, resets a password and revokes a
token on /admin/users; a dispatcher assigns an alert by picking a name; an
engineer sent to the console gets a page saying why, and logs in as another user."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from playwright.sync_api import Page, expect
from portal_app import Portal, build_portal
from sqlmodel import Session, select
from test_pages_in_browser import _log_in, _shot, browser, page  # noqa: F401 (fixtures)

from foundations.processes import free_port
from portal.auth.accounts import authenticate
from rules.tables import AlertEvent
from simulators.fleet import generate_fleet
from support import Account, make_account, wait_until


class Served:
    def __init__(self, portal: Portal, base_url: str) -> None:
        self.portal, self.base_url = portal, base_url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    portal = build_portal(tmp_path_factory.mktemp("admin-ui"), generate_fleet(seed=7, sites=4))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(portal.app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="http", daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the portal to listen")
    yield Served(portal, f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=10)


def _account(served: Served, role: str, engineer_id: str | None = None) -> Account:
    portal = served.portal
    return make_account(portal.engine, role, engineer_id,
                        username=f"{role}-ui-{portal.next_serial()}")


def _me(served: Served, account: Account) -> int:
    return httpx.get(f"{served.base_url}/api/me", headers=account.headers).status_code


def test_admin_manages_a_user_on_the_users_page(served: Served, page: Page) -> None:  # noqa: F811
    pat = _account(served, "dispatcher")
    page.goto(f"{served.base_url}/admin/users")
    _log_in(page, served.portal.accounts["admin"])
    expect(page).to_have_url(f"{served.base_url}/admin/users")
    row = page.locator(f'#users tr[data-user="{pat.username}"]')
    status = page.locator("#admin-status")

    page.on("dialog", lambda dialog: dialog.accept())  # "Disable …?"
    row.get_by_role("button", name="Disable").click()
    expect(status).to_contain_text(f"{pat.username} disabled")
    expect(row.locator(".badge")).to_have_text("disabled")
    assert _me(served, pat) == 401
    row.get_by_role("button", name="Enable").click()
    expect(row.locator(".badge")).to_have_text("active")
    assert _me(served, pat) == 200

    engineer = served.portal.engineer_id("other")
    row.locator("select[name=role]").select_option("engineer")
    row.locator("select[name=engineer_id]").select_option(engineer)
    row.get_by_role("button", name="Change role").click()
    expect(status).to_contain_text(f"{pat.username} is now engineer ({engineer})")
    me = httpx.get(f"{served.base_url}/api/me", headers=pat.headers).json()
    assert (me["role"], me["engineer_id"]) == ("engineer", engineer)
    # Engineer without an engineer record: refused with the server's reason shown.
    row.locator("select[name=engineer_id]").select_option("")
    row.get_by_role("button", name="Change role").click()
    expect(status).to_have_class("notice error")

    row.get_by_role("button", name="Reset password").click()
    expect(status).to_contain_text(f"New password of {pat.username}: ")
    password = (status.text_content() or "").split(": ", 1)[1].split(" ", 1)[0]
    with Session(served.portal.engine) as session:
        assert authenticate(session, pat.username, password) is not None

    row.get_by_role("button", name="Revoke").first.click()
    expect(status).to_contain_text("revoked")
    expect(row).to_contain_text("revoked")
    assert _me(served, pat) == 401
    _shot(page, "admin-users")


def test_dispatcher_assigns_an_alert_by_picking_a_name(served: Served,
                                                       page: Page) -> None:  # noqa: F811
    portal = served.portal
    alert_id = portal.new_alert(portal.device("B").id)
    page.goto(f"{served.base_url}/dispatch")
    _log_in(page, portal.accounts["dispatcher"])
    row = page.locator(f'#alerts tr[data-alert="{alert_id}"]')
    picker = row.locator("select[name=assignee]")
    expect(picker).to_have_value("")
    names = picker.locator("option").all_text_contents()
    assert "admin-test (admin)" in names and not [n for n in names if "(engineer)" in n]
    picker.select_option("admin-test")
    expect(page.locator("#plan-status")).to_contain_text(f"alert {alert_id} assigned to admin-test")
    expect(row).to_contain_text("assigned to admin-test")
    expect(row.locator("select[name=assignee]")).to_have_value("admin-test")
    with Session(portal.engine) as session:
        event = session.exec(select(AlertEvent).where(AlertEvent.alert_id == alert_id,
                                                      AlertEvent.action == "assigned")).one()
    assert (event.by, event.note) == ("dispatcher-test", "admin-test")
    _shot(page, "dispatch-assign-picker")


def test_an_engineer_sent_to_the_console_sees_why_and_logs_in_as_someone_else(
        served: Served, page: Page) -> None:  # noqa: F811
    portal = served.portal
    page.goto(f"{served.base_url}/dispatch")
    _log_in(page, portal.accounts["engineer_own"])
    # The login sends the engineer back to /dispatch, which is not theirs.
    expect(page.locator("h1")).to_have_text("You may not open this page")
    expect(page.locator("main")).to_contain_text("logged in as engineer-")
    _shot(page, "page-403")
    page.get_by_role("link", name="Log in as another user").click()
    expect(page).to_have_url(f"{served.base_url}/login?next=/dispatch")
    _log_in(page, portal.accounts["dispatcher"])
    expect(page).to_have_url(f"{served.base_url}/dispatch")
    expect(page.locator("#alerts")).to_be_visible()



def test_admin_adds_a_user_and_a_revoke_asks_first(served: Served, page: Page) -> None:  # noqa: F811
    page.goto(f"{served.base_url}/admin/users")
    _log_in(page, served.portal.accounts["admin"])
    status = page.locator("#admin-status")
    form = page.locator("#add-user")
    form.get_by_label("User name").fill("ops-new-1")
    form.get_by_label("Role").select_option("dispatcher")
    form.get_by_role("button", name="Add user").click()
    expect(status).to_contain_text("User ops-new-1 (dispatcher) added. Password: ")
    password = (status.text_content() or "").split("Password: ", 1)[1].split(" ", 1)[0]
    with Session(served.portal.engine) as session:
        assert authenticate(session, "ops-new-1", password) is not None
    # An engineer's account needs the engineer record whose jobs it sees.
    form.get_by_label("User name").fill("ops-new-2")
    form.get_by_label("Role").select_option("engineer")
    form.get_by_role("button", name="Add user").click()
    expect(status).to_have_class("notice error")
    # The same name twice: the server's reason is shown.
    form.get_by_label("User name").fill("ops-new-1")
    form.get_by_label("Role").select_option("admin")
    form.get_by_role("button", name="Add user").click()
    expect(status).to_contain_text("exists")

    pat = _account(served, "dispatcher")
    page.reload()
    row = page.locator(f'#users tr[data-user="{pat.username}"]')
    asked: list[str] = []

    def decline(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", decline)
    row.get_by_role("button", name="Revoke").first.click()
    wait_until(lambda: asked, what="the revoke to ask first")
    assert "Revoke token" in asked[0]
    assert _me(served, pat) == 200  # declined: still valid

    # The audit log is a page in local time, not raw JSON with epoch milliseconds.
    page.get_by_role("link", name="audit log").click()
    expect(page).to_have_url(f"{served.base_url}/admin/audit")
    made = page.locator("#audit tr", has_text="user:ops-new-1").filter(has_text="user.create")
    expect(made).to_have_count(1)
    expect(made.locator("td").first).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))
