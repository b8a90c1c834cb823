"""In a real browser at a phone's size: the job app's offline outbox belongs to the user
who filled it. Logging out deletes it (changes, photos, signatures), and a session of
another user on the same phone never sends someone else's queued changes; they wait,
unseen, until their own user logs in again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select
from test_offline_photos_in_browser import _attach, _job_on_site, _png, _status
from test_pages_in_browser import _log_in, browser, policy_violations  # noqa: F401 (fixtures)

from portal.auth.accounts import end_sessions
from portal.auth.tables import AuditEvent, PortalUser
from support import Account, RunningCloud, make_account

NO_SIGNAL_FOR_CHANGES = "**/api/work-orders/*/*"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    """A phone-sized tab without the service worker: these tests take the signal away
    with page.route, which requests passing through a service worker can bypass (the
    outbox under test is the page's own, not the worker's)."""
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  service_workers="block")
    tab = context.new_page()
    refused = policy_violations(tab)
    yield tab
    context.close()
    assert refused == [], f"the pages broke their own security policy: {refused}"


def _queue_without_signal(tab: Page, order_id: int) -> None:
    """The tab loads, but no change gets through: three wait in the outbox."""
    tab.route(NO_SIGNAL_FOR_CHANGES, lambda route: route.abort("internetdisconnected")
               if route.request.method != "GET" else route.continue_())
    tab.fill("#notes textarea[name=notes]", "notes of the first engineer")
    tab.click("#notes button[type=submit]")
    _attach(tab, "meter.png", "image/png", _png(32, 24, (200, 40, 40)))
    tab.click("button[data-status=done]")
    expect(tab.locator("#outbox-count")).to_have_text(
        "3 changes waiting for signal — sent automatically")
    # The last tap's send may still be on its way: let it fail here, not get through
    # once the signal is back.
    tab.wait_for_function("() => !flushing")
    tab.unroute(NO_SIGNAL_FOR_CHANGES)


def _open_as(cloud: RunningCloud, tab: Page, account: Account, url: str) -> None:
    tab.goto(f"{cloud.base_url}/login?next={url}")
    _log_in(tab, account)
    expect(tab).to_have_url(f"{cloud.base_url}{url}")
    expect(tab.locator("#status")).not_to_have_text("…")  # the job has loaded


def _untouched(cloud: RunningCloud, order_id: int) -> None:
    report = cloud.api.get(f"{cloud.base_url}/api/work-orders/{order_id}/job").json()["report"]
    assert report["notes"] == "" and report["photos"] == []
    assert _status(cloud, order_id) == "on_site"


def _flush_now(tab: Page) -> None:
    tab.evaluate("flush()")
    tab.wait_for_function("() => !flushing")


@pytest.fixture
def accounts(cloud: RunningCloud) -> tuple[Account, Account]:
    """The first engineer's account, and a dispatcher's who may open the same job."""
    engineer = cloud.fleet.engineers[0]
    return (make_account(cloud.system.engine, "engineer", engineer.id, username="first-eng"),
            make_account(cloud.system.engine, "dispatcher", username="next-user"))


def test_logging_out_deletes_the_outbox(cloud: RunningCloud, page: Page,
                                        accounts: tuple[Account, Account]) -> None:
    first, second = accounts
    engineer_id, order_id = _job_on_site(cloud, "Descale the boiler")
    url = f"/engineer/{engineer_id}/jobs/{order_id}"
    _open_as(cloud, page, first, url)
    _queue_without_signal(page, order_id)

    asked: list[str] = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.click("form.logout button[type=submit]")
    expect(page).to_have_url(f"{cloud.base_url}/login")
    assert page.evaluate("localStorage.getItem('fieldpulse.outbox')") is None
    assert asked and "3 changes not sent yet will be deleted" in asked[0]
    blobs = page.evaluate("""() => new Promise((done) => {
        const req = indexedDB.open("fieldpulse-outbox", 1);
        req.onupgradeneeded = () => req.result.createObjectStore("blobs");
        req.onsuccess = () => {
          const get = req.result.transaction("blobs").objectStore("blobs").count();
          get.onsuccess = () => { req.result.close(); done(get.result); };
        };
      })""")
    assert blobs == 0  # the photo is gone from the phone too

    _open_as(cloud, page, second, url)
    _flush_now(page)
    expect(page.locator("#outbox")).to_be_hidden()
    _untouched(cloud, order_id)


def test_another_users_session_never_sends_their_queued_changes(
        cloud: RunningCloud, page: Page, accounts: tuple[Account, Account]) -> None:
    first, second = accounts
    engineer_id, order_id = _job_on_site(cloud, "Replace the filter")
    url = f"/engineer/{engineer_id}/jobs/{order_id}"
    _open_as(cloud, page, first, url)
    _queue_without_signal(page, order_id)
    # The first user's session ends without logging out (it lapsed, or was ended).
    with Session(cloud.system.engine) as s:
        user = s.exec(select(PortalUser).where(PortalUser.username == first.username)).one()
        assert user.id is not None
        end_sessions(s, user.id)
        s.commit()

    _open_as(cloud, page, second, url)  # the next user, on the same phone
    _flush_now(page)
    expect(page.locator("#outbox-count")).to_have_text(
        "3 changes of another user, kept for them")
    expect(page.locator("#outbox-items li")).to_have_count(0)  # not shown either
    _untouched(cloud, order_id)

    _open_as(cloud, page, first, url)  # their own user is back: now they go
    _flush_now(page)
    expect(page.locator("#outbox")).to_be_hidden(timeout=10_000)
    assert _status(cloud, order_id) == "done"
    with Session(cloud.system.engine) as s:
        actors = {e.actor for e in s.exec(select(AuditEvent).where(
            AuditEvent.target == f"work_order:{order_id}"))}
    assert actors == {f"user:{first.username}"}
