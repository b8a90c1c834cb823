"""The console's service figures in the browser: a known history's figures for the
period picked, and other figures when the dispatcher picks another period."""

from __future__ import annotations

import time

from kpi_world import seed_history
from playwright.sync_api import Page, expect
from test_pages_in_browser import _log_in, browser, page  # noqa: F401 (fixtures)

from support import RunningCloud, make_account


def test_switching_the_period_changes_the_figures(cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    devices = cloud.fleet.devices
    other = next(d for d in devices if d.model_id != devices[0].model_id)
    seed_history(cloud.system.engine, int(time.time() * 1000), devices[0].id, other.id)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{cloud.base_url}/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    kpis = page.locator("#kpis")
    # 30 days by default (kpi_world.EXPECTED[30]).
    expect(kpis).to_have_attribute("data-days", "30")
    expect(kpis.locator("[data-kpi=first-time-fix]")).to_contain_text("50 %")
    expect(kpis.locator("[data-kpi=first-time-fix]")).to_contain_text("1 of 2 closed cases")
    expect(kpis.locator("[data-kpi=mttr]")).to_contain_text("15 h 00 min")
    expect(kpis.locator("[data-kpi=sla-response]")).to_contain_text("1 of 3 cases")
    expect(kpis.locator("[data-kpi=rating]")).to_contain_text("4.0 / 5")
    expect(kpis.locator("[data-kpi=rating]")).to_contain_text("5★ 1, 3★ 1")
    expect(kpis.locator("#kpi-alerts tbody tr")).to_have_count(2)

    page.select_option("#kpi-days", "7")
    expect(kpis).to_have_attribute("data-days", "7")
    expect(kpis.locator("[data-kpi=first-time-fix]")).to_contain_text("100 %")
    expect(kpis.locator("[data-kpi=mttr]")).to_contain_text("5 h 00 min")
    expect(kpis.locator("[data-kpi=sla-response]")).to_contain_text("1 of 2 cases")
    expect(kpis.locator("[data-kpi=rating]")).to_contain_text("5.0 / 5")
    expect(kpis.locator("#kpi-alerts tbody tr")).to_have_count(1)

    page.select_option("#kpi-days", "90")
    expect(kpis).to_have_attribute("data-days", "90")
    expect(kpis.locator("[data-kpi=mttr]")).to_contain_text("13 h 20 min")
    expect(kpis.locator("#kpi-alerts tbody tr").first).to_contain_text("2")
