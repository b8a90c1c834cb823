"""The customer's page on a phone (390x844), as a customer who just scanned the code
uses it: plain words instead of engineering terms, no "working normally" over a repair
in progress, a preview of the photo picked, the form out of the way once reported,
progress without reloading, rating in one tap on a star near the top, and controls a
thumb can hit (44 px)."""

from __future__ import annotations

import time

import orjson
from playwright.sync_api import Page, expect
from sqlmodel import Session, select
from test_offline_photos_in_browser import _png, page  # noqa: F401 (fixture)
from test_pages_in_browser import _shot, browser  # noqa: F401 (fixtures)

from firmware_contracts.topics import telemetry_topic
from service.tables import WorkOrder
from support import RunningCloud, wait_until

READINGS = {"flow_lpm": 12.0, "tds_ppm": 21.6, "inlet_pressure_bar": 3.2, "filter_hours": 1000.0}


def test_the_customer_page_speaks_plainly_and_follows_the_repair_live(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    device = next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")
    body = {"v": 1, "gw": device.gateway_id, "seq": 1, "sent": int(time.time() * 1000),
            "readings": [{"dev": device.id, "ts": int(time.time() * 1000), "m": READINGS}]}
    outcome = cloud.system.pipeline.handle(telemetry_topic(device.gateway_id),
                                           orjson.dumps(body))
    assert outcome.kind == "stored", outcome
    page.goto(f"{cloud.base_url}/q/{cloud.tokens[device.id]}")
    readings = page.locator("#readings")
    expect(readings).to_contain_text("Water purity")
    expect(readings).not_to_contain_text("TDS")
    expect(page.locator("#report-details")).to_have_attribute("open", "")

    # The photo picked is shown before it is sent.
    page.select_option("select[name=category]", "Leak")
    page.fill("textarea[name=description]", "Water under the unit")
    page.set_input_files("#photos", files=[{"name": "leak.png", "mimeType": "image/png",
                                            "buffer": _png(30, 20, (200, 40, 40))}])
    expect(page.get_by_role("img", name="Photo 1 chosen: leak.png")).to_be_visible()
    # Every control is at least 44 px tall.
    small = page.evaluate("""() => [...document.querySelectorAll(
        'main button, main select, main input:not([type=hidden]):not([type=radio]), main summary')]
        .filter((el) => el.offsetParent !== null)
        .map((el) => [el.name || el.id || el.tagName, el.getBoundingClientRect().height])
        .filter(([, h]) => h < 44)""")
    assert small == [], f"controls under 44 px: {small}"
    _shot(page, "customer-report-with-photo-preview")
    page.click("#fault-form button[type=submit]")
    expect(page.locator("#report-received")).to_be_visible()
    case_id = int(page.url.split("reported=")[1])

    # Reported: the form steps aside; the repair is there, not "working normally".
    expect(page.locator("#report-details")).not_to_have_attribute("open", "")
    expect(page.locator("#fault-form")).to_be_hidden()
    expect(page.locator("#device-state")).not_to_contain_text("Working normally")
    expect(page.locator("#repairs")).to_contain_text("Reported")

    # The engineer sets off: the page follows without a reload.
    order_id = wait_until(lambda: _order_of(cloud, case_id), what="the work order")
    engineer = cloud.fleet.engineers[0]
    with Session(cloud.system.engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        order.engineer_id = engineer.id
        s.add(order)
        s.commit()
    cloud.api.patch(f"{cloud.base_url}/api/work-orders/{order_id}",
                    json={"status": "en_route"}).raise_for_status()
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator("#repairs")).to_contain_text("Engineer on the way", timeout=10_000)

    # Done: rating is one tap on a star, at the top.
    cloud.api.patch(f"{cloud.base_url}/api/work-orders/{order_id}",
                    json={"status": "done"}).raise_for_status()
    page.reload()
    rate = page.locator("#rate")
    expect(rate).to_be_visible()
    assert rate.bounding_box()["y"] < page.locator("#readings").bounding_box()["y"]
    rate.locator("label[for$='-4']").click()
    rate.get_by_role("button", name="Send rating").click()
    expect(page.locator("#history .rating")).to_contain_text("★★★★☆")
    expect(page.locator("#rate")).to_have_count(0)
    _shot(page, "customer-rated-phone")


def _order_of(cloud: RunningCloud, case_id: int) -> int | None:
    with Session(cloud.system.engine) as s:
        order = s.exec(select(WorkOrder).where(WorkOrder.case_id == case_id)).first()
        return order.id if order else None
