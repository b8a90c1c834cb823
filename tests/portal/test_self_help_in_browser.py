"""Self-help in a real browser: on a phone, a customer scans a device with an open
alert, follows the "Try this first" guide and answers "this fixed it" (no work order);
a second customer answers "still broken", reports the fault, and the dispatcher sees
the steps already tried on the case, with the alert's likely causes; the engineer's
job page shows the procedure with the network off."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, col, func, select
from test_offline_photos_in_browser import page  # noqa: F401 (fixture)
from test_pages_in_browser import _log_in, _shot, browser  # noqa: F401 (fixtures)

from rules.tables import Alert
from service.cases import open_case
from service.tables import Case, SelfHelpAttempt, WorkOrder
from support import RunningCloud, make_account

RULE = "tds-high"  # AquaPure RO-500: "Drinking water tastes salty or flat" for customers


def _open_alert(cloud: RunningCloud, device_id: str) -> int:
    with Session(cloud.system.engine) as s:
        alert = Alert(device_id=device_id, rule_id=RULE, metric="tds_ppm", severity="critical",
                      message="Product water TDS above 150 ppm: membrane or post-filter failing",
                      raised_at=1, raised_value=180.0)
        s.add(alert)
        s.commit()
        assert alert.id is not None
        return alert.id


def _orders(cloud: RunningCloud, device_id: str) -> int:
    with Session(cloud.system.engine) as s:
        return s.exec(select(func.count()).select_from(WorkOrder)
                      .where(WorkOrder.device_id == device_id)).one()


def test_fixed_avoids_a_visit_and_still_broken_reaches_the_dispatcher_with_the_steps(
        cloud: RunningCloud, page: Page, browser: Browser) -> None:  # noqa: F811
    first, second = [d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500"][:2]
    _open_alert(cloud, first.id)
    second_alert = _open_alert(cloud, second.id)

    # The first customer: the guide for the open alert, then "this fixed it".
    page.goto(f"{cloud.base_url}/q/{cloud.tokens[first.id]}")
    guide = page.locator("#guides details.guide").first
    expect(guide).to_contain_text("Drinking water tastes salty")
    expect(guide.locator(".article-body ol li").first).to_contain_text("bypass lever")
    expect(guide.locator(".article-body blockquote")).to_contain_text("Safety")
    # Its picture comes from the portal itself (the page loads nothing from outside).
    picture = guide.get_by_role("img", name="The grey bypass lever on the left side")
    expect(picture).to_be_visible()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0",
                           arg=picture.element_handle())
    _shot(page, "customer-try-this-first")
    guide.get_by_role("button", name="This fixed it").click()
    expect(page.locator("#fixed-received")).to_contain_text("no visit is needed")
    assert _orders(cloud, first.id) == 0
    with Session(cloud.system.engine) as s:
        case = s.exec(select(Case).where(Case.device_id == first.id)).one()
        assert (case.source, case.status) == ("self_service", "closed")

    # A second customer, on their own phone: "still broken", then the fault report.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    other = phone.new_page()
    other.goto(f"{cloud.base_url}/q/{cloud.tokens[second.id]}")
    other.locator("#guides details.guide").first.get_by_role("button", name="Still broken").click()
    expect(other.locator("#tried-note")).to_be_visible()
    expect(other.locator("#report-details")).to_have_attribute("open", "")
    other.select_option("select[name=category]", "Poor performance")
    other.fill("textarea[name=description]", "Still tastes salty after the flush")
    other.click("#fault-form button[type=submit]")
    expect(other.locator("#report-received")).to_be_visible()
    phone.close()
    with Session(cloud.system.engine) as s:
        tried = s.exec(select(SelfHelpAttempt).where(SelfHelpAttempt.device_id == second.id)
                       ).one()
        assert tried.outcome == "still_broken" and tried.case_id is not None
        steps = tried.steps.splitlines()
        assert s.exec(select(func.count()).select_from(WorkOrder)
                      .where(WorkOrder.case_id == tried.case_id)).one() == 1

    # The dispatcher: the alert's likely causes, and the case with the steps tried.
    desk = browser.new_context(viewport={"width": 1280, "height": 900},
                               service_workers="block")
    console = desk.new_page()
    console.goto(f"{cloud.base_url}/dispatch")
    _log_in(console, make_account(cloud.system.engine, "dispatcher"))
    expect(console).to_have_url(f"{cloud.base_url}/dispatch")
    console.wait_for_function("() => typeof showGuides === 'function'")
    row = console.locator(f'#alerts tr[data-alert="{second_alert}"]')
    row.get_by_role("button", name="Causes").click()
    expect(console.locator("#alert-causes")).to_contain_text("RO membrane worn out")
    expect(console.locator("#alert-articles")).to_contain_text("RO membrane replacement")
    procedure = console.locator("#alert-articles details", has_text="RO membrane replacement")
    procedure.locator("summary").click()
    expect(procedure.locator(".article-body")).to_contain_text("AP-MEM-75G")
    row.locator(f'[data-open-device="{second.id}"]').click()
    cases = console.locator("#device-cases")
    expect(cases).to_contain_text("Tried before reporting: Drinking water tastes salty")
    for step in steps:
        expect(cases).to_contain_text(step)
    expect(console.locator("#deflection-figure")).to_contain_text("1 visit avoided")
    _shot(console, "dispatcher-causes-and-tried-steps")
    desk.close()


def test_the_job_page_shows_the_procedure_with_the_network_off(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    engineer = cloud.fleet.engineers[0]
    device = next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")
    alert_id = _open_alert(cloud, device.id)
    with Session(cloud.system.engine, expire_on_commit=False) as s:
        _, order = open_case(s, device_id=device.id, source="alert", title="Salty water",
                             skill="water-treatment", duration_min=45, priority=4,
                             alert_id=alert_id)
        order.engineer_id, order.status = engineer.id, "en_route"  # out of the planner's hands
        s.add(order)
        s.commit()
    url = f"{cloud.base_url}/engineer/{engineer.id}/jobs/{order.id}"
    page.goto(url)
    _log_in(page, make_account(cloud.system.engine, "engineer", engineer.id))
    expect(page).to_have_url(url)
    procedure = page.locator("#procedure-list details.procedure").first
    expect(procedure).to_contain_text("RO membrane replacement")
    # Once the worker controls the page, one more load with signal keeps the job's data.
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.reload()
    expect(procedure).to_contain_text("for this job's alert")

    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#title")).to_have_text("Salty water")
    expect(procedure).to_contain_text("RO membrane replacement")
    expect(procedure.locator(".article-body")).to_contain_text("Lubricate the new membrane")
    expect(procedure.locator(".article-body blockquote")).to_contain_text("Safety")
    _shot(page, "engineer-procedure-offline")
    page.context.set_offline(False)
    with Session(cloud.system.engine) as s:
        assert s.exec(select(func.count()).select_from(Case)
                      .where(col(Case.alert_id) == alert_id)).one() == 1


def test_an_admin_edits_an_article_and_the_customer_sees_the_new_version(
        cloud: RunningCloud, page: Page, browser: Browser) -> None:  # noqa: F811
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{cloud.base_url}/admin/articles")
    _log_in(page, cloud.admin)
    expect(page).to_have_url(f"{cloud.base_url}/admin/articles")
    page.fill("#article-search input[name=q]", "gravel rattles")
    page.click("#article-search button[type=submit]")
    first = page.locator("#article-list li").first
    expect(first).to_contain_text("The pump shakes or makes a loud noise")
    first.get_by_role("button").click()
    body = page.locator("textarea[name=body]")
    expect(body).to_have_value(re.compile("rattles like gravel"))
    body.fill(body.input_value().replace("switch the pump off at its switch",
                                         "press the red stop button"))
    page.click("#article-form button[type=submit]")
    expect(page.locator("#admin-status")).to_contain_text("version 2")
    expect(page.locator("#article-versions")).to_contain_text("v1 by fieldpulse")
    _shot(page, "admin-article-edited")

    device = next(d for d in cloud.fleet.devices if d.model_id == "torrent-cp75")
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    customer = phone.new_page()
    customer.goto(f"{cloud.base_url}/q/{cloud.tokens[device.id]}")
    expect(customer.locator("#guides")).to_contain_text("press the red stop button")
    phone.close()
