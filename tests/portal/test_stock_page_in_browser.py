"""The console's stock page in headless Chromium: stock per van and warehouse, a
low-stock warning and its replenishment request, the first-time-fix rate; the page
keeps its own security policy and loads nothing from outside."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from test_pages_in_browser import _log_in, _shot, browser, page  # noqa: F401 (fixtures)

from foundations.database import session_scope
from service import stock
from service.replenishment import set_threshold
from service.stock_tables import StockLocation
from support import RunningCloud, make_account


def test_stock_page_shows_vans_warehouses_low_stock_and_first_time_fix(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    engineer = cloud.fleet.engineers[0].id
    with session_scope(cloud.system.engine) as s:
        s.add(StockLocation(id="wh-main", kind="warehouse", name="Main warehouse",
                            lat=48.1, lon=11.5))
        s.flush()
        stock.move(s, "receipt", "AP-MEM-75G", 5, at=1, by="t", known_parts=None,
                   to_location="wh-main")
        stock.move(s, "transfer", "AP-MEM-75G", 1, at=1, by="t", known_parts=None,
                   from_location="wh-main", to_location=f"van-{engineer}")
        set_threshold(s, stock.level(s, f"van-{engineer}", "AP-MEM-75G", 1), 2, 3, 1)
    page.goto(f"{cloud.base_url}/dispatch/stock")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    expect(page.locator("#ftf-rate")).to_have_text("no closed case yet")
    expect(page.locator("#low-stock tbody tr")).to_have_count(1)
    expect(page.locator("#low-stock tbody")).to_contain_text("AP-MEM-75G")
    expect(page.locator("#replenishment tbody tr")).to_contain_text("3")
    expect(page.locator("table.stock[data-location='wh-main']")).to_contain_text(
        "RO membrane 75G")
    van = page.locator(f"table.stock[data-location='van-{engineer}'] tbody tr")
    expect(van).to_have_class("low")
    _shot(page, "stock-page")
