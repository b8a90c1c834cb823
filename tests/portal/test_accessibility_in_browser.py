"""axe-core 4.14.1 (vendored from the npm registry, MPL-2.0: tests/portal/vendor/) on
the console, the customer page, the engineer's pages and the admin page: no critical
or serious violation. axe is injected through the browser's debugging protocol, so
the pages' own CSP stays as it is served."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session
from test_pages_in_browser import _log_in, browser  # noqa: F401 (fixtures)

from rules.tables import Alert
from service.cases import open_case
from support import RunningCloud, make_account

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    yield context.new_page()
    context.close()


def _violations(page: Page) -> list[str]:
    page.evaluate(AXE)
    found = page.evaluate("""async () => (await axe.run(document, { resultTypes: ['violations'] }))
        .violations.filter((v) => ['critical', 'serious'].includes(v.impact))
        .map((v) => `${v.impact} ${v.id}: ` +
            v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | '))""")
    return list(found)


def test_no_critical_or_serious_violation_on_the_four_kinds_of_pages(
        cloud: RunningCloud, tab: Page) -> None:
    engineer = cloud.fleet.engineers[0]
    device = cloud.fleet.devices[0]
    with Session(cloud.system.engine) as s:
        _, order = open_case(s, device_id=device.id, source="customer", title="Leak",
                             skill="plumbing", duration_min=30, priority=2)
        order.engineer_id, order.status = engineer.id, "en_route"
        s.add(order)
        for k, severity in enumerate(("critical", "high", "medium", "low", "info")):
            s.add(Alert(device_id=cloud.fleet.devices[k].id, rule_id=f"axe-{severity}",
                        metric="tds_ppm", severity=severity, message=f"{severity} alert",
                        raised_at=int(time.time() * 1000), raised_value=1.0))
        s.commit()
        order_id = order.id
    found: dict[str, list[str]] = {}

    tab.goto(f"{cloud.base_url}/q/{cloud.tokens[device.id]}")
    tab.set_viewport_size({"width": 390, "height": 844})
    expect(tab.locator("h1")).to_be_visible()
    found["customer"] = _violations(tab)

    tab.goto(f"{cloud.base_url}/engineer/{engineer.id}")
    _log_in(tab, make_account(cloud.system.engine, "engineer", engineer.id))
    expect(tab.locator("#jobs")).to_contain_text("Leak")
    found["engineer list"] = _violations(tab)
    tab.goto(f"{cloud.base_url}/engineer/{engineer.id}/jobs/{order_id}")
    expect(tab.locator("#title")).to_have_text("Leak")
    found["engineer job"] = _violations(tab)
    tab.context.clear_cookies()

    tab.set_viewport_size({"width": 1440, "height": 900})
    tab.goto(f"{cloud.base_url}/dispatch")
    _log_in(tab, make_account(cloud.system.engine, "dispatcher"))
    expect(tab.locator("#map")).to_have_attribute("data-drawn", str(len(cloud.fleet.devices)))
    expect(tab.locator("#work-orders tbody tr")).not_to_have_count(0)
    expect(tab.locator("#alerts tbody tr")).to_have_count(5)
    found["console"] = _violations(tab)
    tab.context.clear_cookies()

    tab.goto(f"{cloud.base_url}/admin/users")
    _log_in(tab, cloud.admin)
    expect(tab.locator("#users")).to_be_visible()
    found["admin"] = _violations(tab)
    assert {page: v for page, v in found.items() if v} == {}
