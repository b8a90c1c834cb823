"""The portal's three journeys end to end, in headless Chromium, with a screenshot per step.

A customer scans the code (opens the token URL) and reports a fault with a photo;
the dispatcher sees the case appear live and watches it being dispatched and
moving; the engineer receives it, goes through the statuses, records a part and
gets the customer's signature; the customer follows the ETA and rates the visit.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from portal_app import PNG
from test_offline_photos_in_browser import _sign
from test_pages_in_browser import _log_in, _shot, browser  # noqa: F401 (fixture)

from support import RunningCloud, make_account, wait_until

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def _page(browser: Browser, viewport: dict[str, int]) -> Page:  # noqa: F811
    return browser.new_context(viewport=viewport).new_page()


def test_customer_dispatcher_and_engineer_journeys(
        cloud: RunningCloud, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    device = next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")
    customer_url = f"{cloud.base_url}/q/{cloud.tokens[device.id]}"

    # The dispatcher's console is open before anything happens.
    console = _page(browser, DESKTOP)
    console.goto(f"{cloud.base_url}/dispatch")
    _log_in(console, make_account(cloud.system.engine, "dispatcher"))
    expect(console.locator("#live")).to_contain_text("live")

    # 1. The customer scans the code and reports a fault with a photo.
    phone = _page(browser, PHONE)
    phone.goto(customer_url)
    expect(phone.locator("#device-state")).to_be_visible()
    phone.select_option("select[name=category]", "Leak")
    phone.fill("textarea[name=description]", "Water under the unit since this morning")
    photo = tmp_path / "leak.png"
    photo.write_bytes(PNG)
    phone.set_input_files("input[name=photos]", str(photo))
    phone.fill("input[name=contact]", "+49 89 7654321")
    _shot(phone, "journey-1-customer-report")
    phone.click("#fault-form button[type=submit]")
    expect(phone.locator("#report-received")).to_be_visible()
    case_id = int(phone.url.split("reported=")[1])

    # 2. The dispatcher sees the case appear live, and dispatched.
    orders = wait_until(lambda: [o for o in cloud.api.get(
        f"{cloud.base_url}/api/work-orders?device_id={device.id}").json()
        if o["case_id"] == case_id and o["engineer_id"]], what="the case to be dispatched")
    order = orders[0]
    row = console.locator(f"#work-orders tr[data-work-order='{order['id']}']")
    expect(row).to_be_visible(timeout=10_000)  # pushed by the live feed, not a reload
    expect(row).to_contain_text("assigned")
    _shot(console, "journey-2-dispatcher-sees-the-case")

    # 3. The engineer receives it and works through it on the phone.
    engineer = _page(browser, PHONE)
    engineer.goto(f"{cloud.base_url}/engineer/{order['engineer_id']}")
    _log_in(engineer, make_account(cloud.system.engine, "engineer", order["engineer_id"]))
    engineer.click(f"[data-work-order='{order['id']}'] a >> nth=0")
    expect(engineer.locator("#title")).to_contain_text("Customer report: Leak")
    expect(engineer.locator("#customer-photos li")).to_have_count(1)
    _shot(engineer, "journey-3-engineer-job")
    for step, words in (("accepted", "accepted"), ("en_route", "en route")):
        engineer.click(f"button[data-status={step}]")
        expect(engineer.locator("#status")).to_have_text(words)
    phone.reload()
    expect(phone.locator(".eta")).to_contain_text("is expected")
    _shot(phone, "journey-4-customer-sees-eta")
    expect(console.locator(f"#work-orders tr[data-work-order='{order['id']}']")
           ).to_contain_text(re.compile("en.route"), timeout=10_000)
    _shot(console, "journey-5-dispatcher-watches-it-move")

    engineer.click("button[data-status=on_site]")
    expect(engineer.locator("#status")).to_have_text("on site")
    engineer.fill("#parts input[name=part]", "Inlet hose")
    engineer.click("#parts button[type=submit]")
    expect(engineer.locator("#parts-list")).to_contain_text("1 × Inlet hose")
    _sign(engineer, "Ms Customer")  # (the page is taller: scrolled to the box)
    expect(engineer.locator("#signed")).to_contain_text("Signed by Ms Customer")
    engineer.click("button[data-status=done]")
    expect(engineer.locator("#status")).to_have_text("done")
    _shot(engineer, "journey-6-engineer-signed-off")

    # 4. The customer sees the completed visit and rates it.
    phone.reload()
    expect(phone.locator(f"#history .visit[data-work-order='{order['id']}']")).to_be_visible()
    # Rated at the top of the page, by tapping a star (formerly a list in the history).
    visit = phone.locator("#rate")
    visit.locator(f"label[for='stars-{order['id']}-5']").click()
    visit.locator("input[name=comment]").fill("Fast and friendly")
    visit.locator("button[type=submit]").click()
    expect(phone.locator("#history")).to_contain_text("★★★★★")
    _shot(phone, "journey-7-customer-rated-the-visit")
    done = cloud.api.get(f"{cloud.base_url}/api/work-orders?device_id={device.id}").json()
    assert next(o for o in done if o["id"] == order["id"])["status"] == "done"
    _shot(console, "journey-8-dispatcher-after-the-visit")
