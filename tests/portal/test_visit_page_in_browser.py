"""The customer's visit page on a phone (390x844): the ETA follows the plan live, with
no reload, and once the job is done the page says "Done" and nothing else."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from test_pages_in_browser import _shot, browser, page  # noqa: F401 (fixtures)

from foundations.database import session_scope
from service.cases import open_case
from service.tables import WorkOrder
from service.visit_links import visit_token
from service.work_orders import set_status
from support import RunningCloud


def _set(cloud: RunningCloud, order_id: int, **changes: object) -> None:
    with session_scope(cloud.system.engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        status = changes.pop("status", None)
        for key, value in changes.items():
            setattr(order, key, value)
        for step in () if status is None else ("on_site", "done"):
            set_status(s, order, step)
        s.add(order)


def test_the_eta_moves_live_and_a_finished_visit_says_done(cloud: RunningCloud,
                                                           page: Page) -> None:  # noqa: F811
    engineer = cloud.fleet.engineers[0]
    eta = int(time.time() * 1000) + 30 * 60_000
    with session_scope(cloud.system.engine) as s:
        _, order = open_case(s, device_id=cloud.fleet.devices[0].id, source="customer",
                             title="Leak", skill="plumbing", duration_min=30, priority=2)
        order.engineer_id, order.status, order.eta = engineer.id, "en_route", eta
        s.add(order)
        s.flush()
        assert order.id is not None
        order_id = order.id
        token = visit_token(s, order_id, eta)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{cloud.base_url}/v/{token}")
    first = engineer.name.split()[0]
    expect(page.locator("#visit-status")).to_have_text(f"{first} is on the way")
    expect(page.locator("#visit-eta")).to_have_attribute("data-eta", str(eta))
    # The stream is open (its first event drew the page) before the plan changes.
    expect(page.locator("#visit")).to_have_attribute("data-updated", "1")
    page.evaluate("() => { window.fpSamePage = true; }")
    _shot(page, "visit-on-the-way")

    later = eta + 25 * 60_000  # a new plan: the engineer is held up
    _set(cloud, order_id, eta=later)
    expect(page.locator("#visit-eta")).to_have_attribute("data-eta", str(later))
    assert page.evaluate("() => window.fpSamePage === true"), "updated without a reload"

    _set(cloud, order_id, status="done")
    expect(page.locator("#visit-status")).to_have_text("Done")
    expect(page.locator("#visit")).to_have_text("Done")
    expect(page.locator("#visit-eta")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text(first)
    assert page.evaluate("() => window.fpSamePage === true")
