"""In a real browser: the console updates live (server-sent events), and the engineer's
status changes survive a phone without signal (queued, sent on reconnect)."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from sqlmodel import Session
from test_pages_in_browser import _log_in, _shot, browser, page  # noqa: F401 (fixtures)

from ingest.checks import AcceptedReading
from service.cases import open_case
from service.tables import WorkOrder
from support import RunningCloud, evaluate, make_account, wait_until


def _open_job_on_the_way(cloud: RunningCloud, page: Page, title: str  # noqa: F811
                         ) -> WorkOrder:
    """A job already on the way with a fleet engineer (out of the planner's hands, so it
    stays theirs), opened on their phone-sized page after logging in."""
    engineer = cloud.fleet.engineers[0]
    device = cloud.fleet.devices[0]
    with Session(cloud.system.engine, expire_on_commit=False) as s:
        _, order = open_case(s, device_id=device.id, source="customer", title=title,
                             skill="plumbing", duration_min=30, priority=2)
        order.engineer_id, order.status = engineer.id, "en_route"
        s.add(order)
        s.commit()
    page.set_viewport_size({"width": 390, "height": 844})
    url = f"{cloud.base_url}/engineer/{engineer.id}/jobs/{order.id}"
    page.goto(url)
    _log_in(page, make_account(cloud.system.engine, "engineer", engineer.id))
    expect(page).to_have_url(url)
    expect(page.locator("#title")).to_have_text(title)
    return order


def test_a_new_alert_reaches_the_open_console_without_a_reload(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    page.goto(f"{cloud.base_url}/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    expect(page.locator("#live")).to_contain_text("live")
    expect(page.locator("#summary")).to_contain_text("0 open alerts")
    device = next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")
    evaluate(cloud.system.rules, [AcceptedReading(device.id, device.model_id,
                                                    int(time.time() * 1000), {
        "flow_lpm": 12.0, "tds_ppm": 400.0, "inlet_pressure_bar": 3.2,
        "filter_hours": 1000.0})])
    # The fallback poll runs every 30 s; only the event stream is this quick.
    expect(page.locator("#summary")).to_contain_text("1 open alerts", timeout=10_000)
    expect(page.locator("#alerts tbody tr")).to_have_count(1)
    _shot(page, "dispatch-live-alert")


def test_status_tapped_without_signal_is_sent_when_the_phone_reconnects(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    order = _open_job_on_the_way(cloud, page, "Dripping tap")
    expect(page.locator("#status")).to_have_text("en route")

    page.context.set_offline(True)  # into the cellar
    page.click("button[data-status=on_site]")
    page.fill("#parts input[name=part]", "Washer")
    page.click("#parts button[type=submit]")
    expect(page.locator("#outbox")).to_contain_text("2 changes waiting for signal")
    _shot(page, "engineer-offline-outbox")

    def status() -> str:
        with Session(cloud.system.engine) as s:
            return s.get(WorkOrder, order.id).status

    assert status() == "en_route"  # nothing reached the server
    page.context.set_offline(False)  # back upstairs: the page's 'online' handler flushes
    wait_until(lambda: status() == "on_site", what="the queued status to arrive")
    expect(page.locator("#outbox")).to_be_hidden()
    expect(page.locator("#parts-list")).to_contain_text("1 × Washer")
    _shot(page, "engineer-back-online")


def test_the_job_page_opens_with_no_signal_and_its_changes_wait(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    """Reopened (reloaded) in the cellar: the service worker serves the page, its
    script and the job's data as last seen, and a status tapped then is sent later."""
    order = _open_job_on_the_way(cloud, page, "Low pressure")
    # The worker takes over the open page once installed; one more load with signal
    # lets it keep the page, its assets and the job's data.
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.reload()
    expect(page.locator("#title")).to_have_text("Low pressure")

    page.context.set_offline(True)
    page.reload()  # no signal at all: everything comes from the phone
    expect(page.locator("#title")).to_have_text("Low pressure")
    expect(page.locator("#status")).to_have_text("en route")
    page.click("button[data-status=on_site]")
    expect(page.locator("#outbox")).to_contain_text("1 change waiting for signal")
    _shot(page, "engineer-opened-offline")

    def status() -> str:
        with Session(cloud.system.engine) as s:
            return s.get(WorkOrder, order.id).status

    assert status() == "en_route"
    page.context.set_offline(False)
    wait_until(lambda: status() == "on_site", what="the status tapped offline to arrive")
    expect(page.locator("#outbox")).to_be_hidden()


def test_a_change_for_a_job_given_to_someone_else_meanwhile_does_not_block_the_outbox(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    """While the phone had no signal the dispatcher gave the job to another engineer:
    the waiting change is refused for good (403), shown as not saved, and dropped."""
    second = cloud.fleet.engineers[1]
    order = _open_job_on_the_way(cloud, page, "Noisy pump")  # engineers[0]'s job

    page.context.set_offline(True)
    page.click("button[data-status=on_site]")
    expect(page.locator("#outbox")).to_contain_text("1 change waiting for signal")
    with Session(cloud.system.engine) as s:
        moved = s.get(WorkOrder, order.id)
        moved.engineer_id = second.id
        s.add(moved)
        s.commit()
    page.context.set_offline(False)

    expect(page.locator("#outbox-failed")).to_contain_text("not one of", timeout=15_000)
    expect(page.locator("#outbox")).to_be_hidden()
    with Session(cloud.system.engine) as s:
        assert s.get(WorkOrder, order.id).status == "en_route"
