"""The engineer's job page on a phone (390x844), as an engineer on site uses it: the
customer's problem (their description, a contact to call, their photos as
thumbnails) is on the page; only the steps still ahead can be tapped; after the
sign-off the report's forms are closed instead of queueing edits the server must
refuse; every input is labelled."""

from __future__ import annotations

import re
import secrets

import httpx
from playwright.sync_api import Page, expect
from sqlmodel import Session, select
from test_offline_photos_in_browser import _open_job, _png, _sign, page  # noqa: F401
from test_pages_in_browser import _log_in, _shot, browser  # noqa: F401 (fixtures)

from portal.auth.dependencies import CSRF_COOKIE
from service.cases import open_case
from service.tables import WorkOrder
from support import RunningCloud, make_account

TITLE = "Customer report: Leak"


def test_the_engineer_sees_the_customers_problem_and_only_the_steps_ahead(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    device = cloud.fleet.devices[0]
    csrf = secrets.token_urlsafe(16)
    with httpx.Client(base_url=cloud.base_url, cookies={CSRF_COOKIE: csrf},
                      headers={"X-CSRF-Token": csrf}) as customer:
        sent = customer.post(f"/q/{cloud.tokens[device.id]}/report", data={
            "category": "Leak", "description": "Water under the unit since this morning",
            "contact": "+49 89 7654321"},
            files=[("photos", ("leak.png", _png(40, 30, (20, 90, 200)), "image/png"))])
    assert sent.status_code == 303, sent.text
    case_id = int(re.search(r"reported=(\d+)", sent.headers["location"]).group(1))
    engineer_id = cloud.fleet.engineers[0].id
    with Session(cloud.system.engine) as s:
        order = s.exec(select(WorkOrder).where(WorkOrder.case_id == case_id)).one()
        order.engineer_id, order.status = engineer_id, "on_site"  # out of the planner's hands
        s.add(order)
        s.commit()
        order_id = order.id
    assert order_id is not None
    _open_job(cloud, page, engineer_id, order_id, TITLE)

    report = page.locator("#customer-report")
    expect(report).to_contain_text("Water under the unit since this morning")
    expect(report.get_by_role("link", name="+49 89 7654321")).to_have_attribute(
        "href", "tel:+49897654321")
    thumb = report.get_by_role("img", name="Customer's photo 1")
    expect(thumb).to_be_visible()
    page.wait_for_function("""() => { const img = document.querySelector(
        '#customer-photos img'); return img && img.complete && img.naturalWidth === 40; }""")
    expect(report).not_to_contain_text(".png")  # no file names
    # Every input says what it is (axe: unlabelled quantity and photo inputs).
    for label in ("Part used", "Quantity", "Notes", "Photo of the work", "Customer's name"):
        expect(page.get_by_label(label, exact=True)).to_have_count(1)

    # On site: the steps behind are spent, "Job done" is the one left.
    for step in ("accepted", "en_route", "on_site"):
        expect(page.locator(f"button[data-status={step}]")).to_be_disabled()
    expect(page.locator("button[data-status=done]")).to_be_enabled()

    page.locator("#signature").scroll_into_view_if_needed()
    _sign(page, "Ms Customer")
    expect(page.locator("#signed")).to_contain_text("Signed by Ms Customer")
    # Signed: the report is final, its forms are closed (no edit to be refused later).
    expect(page.locator("#report-final")).to_be_visible()
    for field in ("#parts input[name=part]", "#notes textarea", "#photo input[name=photo]",
                  "#sign-off input[name=signed_by]"):
        expect(page.locator(field)).to_be_disabled()

    page.click("button[data-status=done]")
    expect(page.locator("#status")).to_have_text("done")
    for step in ("accepted", "en_route", "on_site", "done"):
        expect(page.locator(f"button[data-status={step}]")).to_be_disabled()
    expect(page.locator("#status-note")).to_contain_text("This job is done")
    expect(page.locator("#give-back")).to_be_hidden()
    expect(page.locator("#outbox-failed")).to_be_hidden()
    _shot(page, "engineer-job-customer-report-phone")


def test_todays_list_loaded_once_before_the_offline_support_opens_offline(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    """The list was loaded once, with signal, before the service worker ran (its first
    visit): no second load with signal, and it still opens in the cellar, and so does
    the job it lists."""
    engineer_id = cloud.fleet.engineers[0].id
    with Session(cloud.system.engine) as s:
        _, order = open_case(s, device_id=cloud.fleet.devices[0].id, source="customer",
                             title="Noisy pump", skill="plumbing", duration_min=30, priority=2)
        order.engineer_id, order.status = engineer_id, "en_route"  # stays theirs
        s.add(order)
        s.commit()
        order_id = order.id
    url = f"{cloud.base_url}/engineer/{engineer_id}"
    page.goto(url)
    _log_in(page, make_account(cloud.system.engine, "engineer", engineer_id))
    expect(page).to_have_url(url)
    expect(page.locator("#jobs")).to_contain_text("Noisy pump")
    # The worker has kept what this first load showed (it says so on the page).
    page.wait_for_function("() => document.documentElement.dataset.offlineReady !== undefined")

    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#jobs")).to_contain_text("Noisy pump")
    page.get_by_role("link", name="Noisy pump").click()
    expect(page.locator("#title")).to_have_text("Noisy pump")
    expect(page).to_have_url(f"{url}/jobs/{order_id}")
    page.context.set_offline(False)
