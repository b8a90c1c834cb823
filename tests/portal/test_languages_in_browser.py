"""The pages in the reader's language, on a phone (390x844) in Debian's Chromium:
the customer's QR page for a browser asking for Chinese (entirely in Chinese, CJK fonts
from the phone, a fault report end to end, the language switch), and the engineer app
for an account set to German (including the outbox's messages without signal)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, col, select
from test_offline_photos_in_browser import _job_on_site
from test_pages_in_browser import _log_in, browser, policy_violations  # noqa: F401

from asset_registry.tables import Site
from service.tables import Case
from support import RunningCloud, make_account

SHOTS = Path("/tmp/fp-shots")


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:  # noqa: F811
    """A phone whose browser asks for the language the test names; no service worker
    (nothing here needs one, and the outbox is tested offline without it)."""
    language = request.param
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  locale=language, service_workers="block",
                                  extra_http_headers={"Accept-Language": language})
    page = context.new_page()
    refused = policy_violations(page)
    yield page
    context.close()
    assert refused == [], f"the pages broke their own security policy: {refused}"


def _latin_words(text: str, allowed: set[str]) -> list[str]:
    """Words in Latin letters left once the data shown as it is (names, serials,
    units, the time zone's abbreviation) is taken out."""
    for value in sorted(allowed, key=len, reverse=True):
        text = text.replace(value, " ")
    return re.findall(r"[A-Za-z]{2,}", text)


@pytest.mark.parametrize("phone", ["zh-CN"], indirect=True)
def test_the_qr_page_in_chinese_and_a_fault_reported_in_it(
        cloud: RunningCloud, phone: Page) -> None:
    device = next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")
    with Session(cloud.system.engine) as s:
        site = s.exec(select(Site).where(col(Site.id) == device.site_id)).one()
    phone.goto(f"{cloud.base_url}/q/{cloud.tokens[device.id]}")
    expect(phone.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(phone.locator("h1")).to_have_text("AquaPure RO-500 净水器")
    expect(phone.locator("#report h2")).to_have_text("报修故障")
    # The arrival windows' note comes from the page's script, in Chinese too.
    expect(phone.locator("#window-note")).not_to_be_empty()
    # Chinese with the phone's own fonts (nothing is downloaded; see the fixture's check).
    fonts = phone.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert "PingFang SC" in fonts and "Noto Sans CJK SC" in fonts
    # Entirely in Chinese: no word of English is left but the data and names shown as is.
    data = {"FieldPulse", "AquaPure RO-500", device.serial, site.name, "CET", "CEST",
            "English", "Deutsch", "L/min", "ppm", "bar"}
    shown = phone.evaluate("() => document.body.innerText")
    options = phone.evaluate(
        "() => [...document.querySelectorAll('option')].map((o) => o.textContent).join(' ')")
    assert _latin_words(shown + " " + options, data) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SHOTS / "qr-zh-CN.png"), full_page=True)

    # The fault report, end to end in Chinese.
    phone.select_option("select[name=category]", label="漏水")
    phone.fill("textarea[name=description]", "机器下面有水")
    phone.fill("input[name=contact]", "+86 10 1234 5678")
    phone.get_by_role("button", name="提交报修").click()
    expect(phone.locator("#report-received")).to_contain_text("谢谢——我们已收到您的报修")
    case_id = int(phone.url.split("reported=")[1])
    expect(phone.locator("#repairs")).to_contain_text("已报修")
    expect(phone.locator("#device-state")).not_to_contain_text("运行正常")
    expect(phone.locator(f"[data-case='{case_id}']")).to_contain_text("您的报修：漏水")
    expect(phone.locator("#report h2")).to_have_text("报修其他故障")
    shown = phone.evaluate("() => document.body.innerText")
    assert _latin_words(shown, data | {"+86 10 1234 5678"}) == []
    phone.screenshot(path=str(SHOTS / "qr-zh-CN-reported.png"), full_page=True)
    with Session(cloud.system.engine) as s:
        case = s.get(Case, case_id)
        # Stored in the system's own words: the dispatcher and the parts lists read them.
        assert case is not None and case.title == "Customer report: Leak"
        assert case.description == "机器下面有水"

    # The switch: English, remembered for the next page, and back.
    phone.get_by_role("link", name="English").click()
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.locator("#report h2")).to_have_text("Report another fault")
    phone.goto(f"{cloud.base_url}/q/{cloud.tokens[device.id]}")
    expect(phone.locator("h1")).to_have_text("AquaPure RO-500 water purifier")
    phone.get_by_role("link", name="中文").click()
    expect(phone.locator("h1")).to_have_text("AquaPure RO-500 净水器")


@pytest.mark.parametrize("phone", ["en-US"], indirect=True)
def test_the_engineer_app_in_german_for_an_account_set_to_german(
        cloud: RunningCloud, phone: Page) -> None:
    """The browser asks for English; the account says German, and wins."""
    engineer_id, order_id = _job_on_site(cloud, "Wasser tropft")
    account = make_account(cloud.system.engine, "engineer", engineer_id)
    cloud.api.put(f"{cloud.base_url}/api/users/{account.username}/language",
                  json={"language": "de"}).raise_for_status()
    url = f"{cloud.base_url}/engineer/{engineer_id}/jobs/{order_id}"
    phone.goto(url)
    _log_in(phone, account)
    expect(phone).to_have_url(url)
    expect(phone.locator("html")).to_have_attribute("lang", "de")
    expect(phone.locator("#status")).to_have_text("vor Ort")
    expect(phone.get_by_role("button", name="Auftrag erledigt")).to_be_visible()
    expect(phone.get_by_role("button", name="Teil hinzufügen")).to_be_visible()
    expect(phone.get_by_role("button", name="Abmelden")).to_be_visible()
    expect(phone.locator("#eta")).to_contain_text("Ankunft ca.")
    expect(phone.locator("#description")).to_have_text("Keine Beschreibung angegeben.")
    expect(phone.locator("#settle-section h2")).to_have_text("Abrechnen")
    shown = phone.evaluate("() => document.body.innerText")
    for english in ("Add part", "Save notes", "Sign off", "Log out", "Navigate", "Accept",
                    "Quantity", "Settle", "Today's jobs", "The customer's report"):
        assert english not in shown, english
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SHOTS / "engineer-job-de.png"), full_page=True)

    # Without signal, the outbox says in German what waits, and sends it later.
    phone.context.set_offline(True)
    phone.fill("textarea[name=notes]", "Dichtung ersetzt")
    phone.get_by_role("button", name="Notizen speichern").click()
    expect(phone.locator("#outbox-count")).to_have_text(
        "1 Änderung wartet auf Empfang – wird automatisch gesendet")
    expect(phone.locator("#outbox-items")).to_contain_text(f"Auftrag {order_id}: Notizen")
    phone.fill("input[name=part]", "Dichtung")
    phone.get_by_role("button", name="Teil hinzufügen").click()
    expect(phone.locator("#outbox-count")).to_have_text(
        "2 Änderungen warten auf Empfang – werden automatisch gesendet")
    phone.context.set_offline(False)
    phone.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(phone.locator("#outbox")).to_be_hidden(timeout=20_000)
    expect(phone.locator("#parts-list")).to_contain_text("1 × Dichtung")

    # Today's list, in German too.
    phone.get_by_role("link", name="Heutige Aufträge").click()
    expect(phone.locator("#jobs")).to_contain_text("Status vor Ort")
    expect(phone.locator("#jobs")).to_contain_text("Wasser tropft")


@pytest.mark.parametrize("phone", ["de-DE"], indirect=True)
def test_the_qr_page_in_german_fits_the_phone(cloud: RunningCloud, phone: Page) -> None:
    """German's long words wrap: nothing is wider than the phone."""
    device = next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")
    phone.goto(f"{cloud.base_url}/q/{cloud.tokens[device.id]}")
    expect(phone.locator("html")).to_have_attribute("lang", "de")
    expect(phone.locator("h1")).to_have_text("AquaPure RO-500 Wasseraufbereiter")
    expect(phone.locator("#report h2")).to_have_text("Störung melden")
    expect(phone.locator("#window-note")).not_to_be_empty()
    wide = phone.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
        .map((el) => el.tagName + '#' + el.id)""")
    assert wide == [], f"wider than the phone: {wide}"
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    SHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(SHOTS / "qr-de.png"), full_page=True)
