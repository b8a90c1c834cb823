"""The three pages in a real browser: Playwright driving Debian's Chromium headless."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from support import Account, RunningCloud, make_account, wait_until

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Without these, Chromium keeps trying to reach Google's services, which this
# machine's closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is missing: apt-get install chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def policy_violations(page: Page) -> list[str]:
    """What the pages' Content-Security-Policy refused (Chromium says so on the console):
    the pages must satisfy their own policy."""
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text)
            if "Content Security Policy" in m.text else None)
    return refused


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "data:")) else None)
    refused = policy_violations(page)
    yield page
    context.close()
    assert outside == [], f"pages must not load anything from outside the machine: {outside}"
    assert refused == [], f"the pages broke their own security policy: {refused}"


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _log_in(page: Page, account: Account) -> None:
    """Through the login form, as a person would; the session cookie does the rest."""
    page.fill("input[name=username]", account.username)
    page.fill("input[name=password]", account.password)
    page.click("#login-form button[type=submit]")


def test_dispatcher_map_shows_every_device(cloud: RunningCloud, page: Page) -> None:
    page.goto(f"{cloud.base_url}/dispatch")
    expect(page).to_have_url(f"{cloud.base_url}/login?next=/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    expect(page).to_have_url(f"{cloud.base_url}/dispatch")
    total = len(cloud.fleet.devices)
    expect(page.locator("#summary")).to_contain_text(f"{total} of {total} devices")
    expect(page.locator("#engineers li")).to_have_count(len(cloud.fleet.engineers))
    # Leaflet drew one marker per device onto its canvas renderer.
    drawn = page.evaluate("() => { let n = 0; layer.eachLayer(() => n++); return n; }")
    assert drawn == total
    _shot(page, "dispatch-map")


def test_customer_reports_a_fault_that_becomes_a_dispatched_work_order(
    cloud: RunningCloud, page: Page
) -> None:
    device = next(d for d in cloud.fleet.devices if d.model_id == "polarflow-ch200")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{cloud.base_url}/q/{cloud.tokens[device.id]}")
    expect(page.locator("h1")).to_contain_text("PolarFlow")
    expect(page.locator("#device-state")).to_be_visible()
    page.select_option("select[name=category]", "Noise or vibration")
    page.fill("textarea[name=description]", "Loud rattling from the unit since this morning")
    page.fill("input[name=contact]", "+49 89 1234567")
    _shot(page, "customer-report-form")
    page.click("#fault-form button[type=submit]")
    expect(page.locator("#report-received")).to_be_visible()

    api = f"{cloud.base_url}/api/work-orders?device_id={device.id}"
    orders = wait_until(lambda: [o for o in cloud.api.get(api).json() if o["engineer_id"]],
                        what="the reported fault to be dispatched")
    assert len(orders) == 1 and orders[0]["skill"] == "refrigeration"
    engineers = {e["id"]: e for e in cloud.api.get(f"{cloud.base_url}/api/engineers").json()}
    assert "refrigeration" in engineers[orders[0]["engineer_id"]]["skills"]

    page.reload()
    expect(page.locator("#repairs .repair")).to_have_count(1)
    expect(page.locator("#repairs")).to_contain_text("assigned")
    _shot(page, "customer-repair-progress")

    # The engineer logs in, sees the job and reports progress; the customer's timeline follows.
    page.goto(f"{cloud.base_url}/engineer/{orders[0]['engineer_id']}")
    _log_in(page, make_account(cloud.system.engine, "engineer", orders[0]["engineer_id"]))
    job = page.locator(f"[data-work-order='{orders[0]['id']}']")
    expect(job).to_contain_text("Customer report: Noise or vibration")
    _shot(page, "engineer-jobs")
    job.get_by_role("button", name="On my way").click()
    expect(page.locator(f"[data-work-order='{orders[0]['id']}']")).to_contain_text("en route")
    page.goto(f"{cloud.base_url}/q/{cloud.tokens[device.id]}")
    expect(page.locator("#repairs")).to_contain_text("Engineer on the way")
    # The customer learns the engineer's first name only.
    first, *rest = engineers[orders[0]["engineer_id"]]["name"].split()
    expect(page.locator("#repairs")).to_contain_text(first)
    for part in rest:
        expect(page.locator("#repairs")).not_to_contain_text(part)


def test_unknown_qr_token_reveals_nothing(cloud: RunningCloud, page: Page) -> None:
    response = page.goto(f"{cloud.base_url}/q/not-a-real-token")
    assert response is not None and response.status == 404
    expect(page.locator("body")).not_to_contain_text("dev-")
