"""The console's stock page in headless Chromium: stock per van and warehouse, a
low-stock warning and its replenishment request, the first-time-fix rate; goods in, a
van restocked and a part returned through the page's form, and the ledger's refusal
shown; the page keeps its own security policy and loads nothing from outside."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect
from sqlmodel import Session, col, select
from test_pages_in_browser import _log_in, _shot, browser, page  # noqa: F401 (fixtures)

from foundations.database import session_scope
from service import stock
from service.replenishment import set_threshold
from service.stock_tables import StockLocation, StockMovement
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


def _on_hand(tab: Page, location: str, part: str) -> Locator:
    """The 'On hand' cell of a part in a location's table on the page."""
    return tab.locator(f"table.stock[data-location='{location}'] tbody tr").filter(
        has_text=part).locator("td").nth(1)


def _record(tab: Page, kind: str, part: str, qty: int, *, from_location: str = "",
            to_location: str = "") -> None:
    form = tab.locator("#movement-form")
    form.locator("select[name=kind]").select_option(kind)
    form.locator("select[name=part]").select_option(part)
    form.locator("input[name=qty]").fill(str(qty))
    if from_location:
        form.locator("select[name=from_location]").select_option(from_location)
    if to_location:
        form.locator("select[name=to_location]").select_option(to_location)
    form.locator("button[type=submit]").click()


def test_a_dispatcher_records_goods_in_a_transfer_and_a_return_on_the_stock_page(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    engineer = cloud.fleet.engineers[0]
    van = f"van-{engineer.id}"
    with session_scope(cloud.system.engine) as s:
        s.add(StockLocation(id="wh-main", kind="warehouse", name="Main warehouse",
                            lat=48.1, lon=11.5))
    dispatcher = make_account(cloud.system.engine, "dispatcher")
    page.goto(f"{cloud.base_url}/dispatch/stock")
    _log_in(page, dispatcher)
    expect(page).to_have_url(f"{cloud.base_url}/dispatch/stock")
    page.wait_for_function("() => document.getElementById('movement-form')?.dataset.ready === '1'")
    status = page.locator("#movement-status")
    slow = 15_000  # a recording waits for the API and the redrawn stock on a busy machine

    # Goods in: a van is no place to receive at, only warehouses are offered.
    page.locator("#movement-form select[name=kind]").select_option("receipt")
    expect(page.locator(f"#movement-form select[name=to_location] option[value='{van}']")
           ).to_have_count(0)
    expect(page.locator("#movement-form label[data-for=from]")).to_be_hidden()
    _record(page, "receipt", "AP-MEM-75G", 5, to_location="wh-main")
    expect(status).to_contain_text("Recorded: receipt of 5 × AP-MEM-75G", timeout=slow)
    expect(_on_hand(page, "wh-main", "AP-MEM-75G")).to_have_text("5", timeout=slow)

    # The van restocked: a van that never held a part is offered (the engineer's).
    _record(page, "transfer", "AP-MEM-75G", 2, from_location="wh-main", to_location=van)
    expect(status).to_contain_text(f"Recorded: transfer of 2 × AP-MEM-75G from Main "
                                   f"warehouse (warehouse) to Van of {engineer.name}",
                                   timeout=slow)
    expect(_on_hand(page, "wh-main", "AP-MEM-75G")).to_have_text("3", timeout=slow)
    expect(_on_hand(page, van, "AP-MEM-75G")).to_have_text("2")

    # More than the warehouse holds: refused, in the ledger's words, and nothing moved.
    _record(page, "transfer", "AP-MEM-75G", 9, from_location="wh-main", to_location=van)
    expect(status).to_have_class(re.compile(r"\berror\b"), timeout=slow)
    expect(status).to_contain_text("Not recorded, nothing changed: wh-main has 3 of "
                                   "AP-MEM-75G free")
    expect(status).to_contain_text("cannot transfer 9")

    # An unused part back from the van's job into the warehouse.
    _record(page, "return", "AP-MEM-75G", 1, to_location="wh-main")
    expect(status).to_contain_text("Recorded: return of 1 × AP-MEM-75G to Main warehouse",
                                   timeout=slow)
    expect(status).not_to_have_class(re.compile(r"\berror\b"))
    expect(_on_hand(page, "wh-main", "AP-MEM-75G")).to_have_text("4", timeout=slow)
    expect(_on_hand(page, van, "AP-MEM-75G")).to_have_text("2")
    _shot(page, "stock-page-movements")

    with Session(cloud.system.engine) as s:
        assert stock.reconcile(s) == []  # the levels are the ledger's sums
        ledger = s.exec(select(StockMovement).order_by(col(StockMovement.id))).all()
        assert [(m.kind, m.qty, m.from_location, m.to_location) for m in ledger] == [
            ("receipt", 5, None, "wh-main"), ("transfer", 2, "wh-main", van),
            ("return", 1, None, "wh-main")]
        assert all(dispatcher.username in m.by for m in ledger)
