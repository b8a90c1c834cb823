"""axe-core (as in test_accessibility_in_browser.py) on the pages of issue 19's last
part: the dispatch board with planned and unplanned jobs, and the customer's visit
page on a phone: no critical or serious violation."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from test_accessibility_in_browser import _violations, tab  # noqa: F401 (fixture)
from test_pages_in_browser import _log_in, browser  # noqa: F401 (fixtures)

from foundations.database import session_scope
from service.cases import open_case
from service.visit_links import visit_token
from support import RunningCloud, make_account


def test_no_critical_or_serious_violation_on_the_board_and_the_visit_page(
        cloud: RunningCloud, tab: Page) -> None:  # noqa: F811
    engineer = cloud.fleet.engineers[0]
    eta = int(time.time() * 1000) + 3_600_000
    with session_scope(cloud.system.engine) as s:
        _, planned = open_case(s, device_id=cloud.fleet.devices[0].id, source="api",
                               title="Leak", skill="plumbing", duration_min=45, priority=2)
        planned.engineer_id, planned.status, planned.eta = engineer.id, "en_route", eta
        s.add(planned)
        _, waiting = open_case(s, device_id=cloud.fleet.devices[1].id, source="api",
                               title="Noise", skill="plumbing", duration_min=30, priority=3)
        waiting.unassigned_reason = "no engineer with the skill is free"
        s.add(waiting)
        s.flush()
        assert planned.id is not None
        token = visit_token(s, planned.id, eta)
    found: dict[str, list[str]] = {}

    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(f"{cloud.base_url}/v/{token}")
    expect(tab.locator("#visit-eta")).to_be_visible()
    found["visit"] = _violations(tab)

    tab.set_viewport_size({"width": 1440, "height": 900})
    tab.goto(f"{cloud.base_url}/dispatch/board")
    _log_in(tab, make_account(cloud.system.engine, "dispatcher"))
    expect(tab.locator(".board-job")).to_have_count(1)
    expect(tab.locator("#unassigned li[data-work-order]")).to_have_count(1)
    found["board"] = _violations(tab)
    assert {page: v for page, v in found.items() if v} == {}
