"""The console's map and inbox at a desk (1440x900), as a dispatcher first meets them:
the map explains itself without any tile server (a legend, a scale, the sites named
with their customers), a cluster click keeps what it zooms to inside the map, route
labels stay off the devices, and the inbox puts the worst alert first and names
devices by serial, customer and site."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from sqlmodel import Session
from test_pages_in_browser import _log_in, _shot, browser, page  # noqa: F401 (fixtures)

from rules.tables import Alert
from support import RunningCloud, make_account


def _alert(cloud: RunningCloud, device_id: str, severity: str, raised_at: int) -> None:
    with Session(cloud.system.engine) as s:
        s.add(Alert(device_id=device_id, rule_id=f"test-{severity}", metric="tds_ppm",
                    severity=severity, message=f"{severity} test alert", raised_at=raised_at,
                    raised_value=1.0))
        s.commit()


def test_the_map_explains_itself_and_the_worst_device_is_easy_to_reach(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    devices = cloud.fleet.devices
    sites = {s.id: s for s in cloud.fleet.sites}
    customers = {c.id: c for c in cloud.fleet.customers}
    now = int(time.time() * 1000)
    critical, high = devices[0], next(d for d in devices if d.site_id != devices[0].site_id)
    _alert(cloud, critical.id, "critical", now - 3_600_000)  # older ...
    _alert(cloud, high.id, "high", now - 60_000)  # ... than the high one
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{cloud.base_url}/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    expect(page.locator("#map")).to_have_attribute("data-drawn", str(len(devices)))

    # A legend and a scale: what the colours and symbols mean, how far is far.
    legend = page.locator("#map-legend")
    for words in ("critical alert", "high alert", "no open alert", "offline", "site",
                  "route"):
        expect(legend).to_contain_text(words)
    expect(page.locator(".leaflet-control-scale-line")).to_be_visible()

    # The inbox: critical before high, whatever came first; devices by serial,
    # customer and site, not by internal id.
    rows = page.locator("#alerts tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("critical")
    expect(rows.nth(1)).to_contain_text("high")
    site = sites[critical.site_id]
    expect(rows.nth(0)).to_contain_text(critical.serial)
    expect(rows.nth(0)).to_contain_text(site.name)
    expect(rows.nth(0)).to_contain_text(customers[site.customer_id].name)
    expect(rows.nth(0)).not_to_contain_text(critical.id)

    # Zoomed in, the sites are named with their customers.
    page.evaluate("([lat, lon]) => map.setView([lat, lon], 15, { animate: false })",
                  [site.lat, site.lon])
    label = page.locator(".fp-site", has_text=site.name)
    expect(label).to_be_visible()
    expect(label).to_contain_text(customers[site.customer_id].name)

    # Zoomed out, one cluster holds several sites; a click zooms to them with a margin.
    page.evaluate("() => map.setView(map.getCenter(), 10, { animate: false })")
    page.wait_for_timeout(300)
    spot = page.evaluate("""() => {
        const clusters = []; layer._featureGroup.eachLayer((l) => { if (l.getAllChildMarkers)
            clusters.push(l); });
        const many = clusters.filter((c) => new Set(c.getAllChildMarkers()
            .map((m) => m.options.siteId)).size > 1);
        if (!many.length) return null;
        window.fpClicked = many[0].getAllChildMarkers().map((m) => m.options.deviceId);
        const p = map.latLngToContainerPoint(many[0].getLatLng());
        const r = document.getElementById('map').getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }""")
    assert spot, "at zoom 10 the fleet's sites share a cluster"
    page.mouse.click(*spot)
    page.wait_for_function("() => map.getZoom() > 10")
    page.wait_for_timeout(600)  # the zoom animation
    margins = page.evaluate("""() => {
        const size = map.getSize();
        return window.fpClicked.map((id) => {
            const p = map.latLngToContainerPoint(markers.get(id).getLatLng());
            return Math.min(p.x, p.y, size.x - p.x, size.y - p.y); }); }""")
    assert min(margins) >= 40, f"devices cut off at the map's edge: {margins}"

    # Opening the critical device from the inbox brings it into view, its panel open.
    page.locator("#alerts tbody tr").nth(0).locator("a[data-open-device]").click()
    expect(page.locator("#device-title")).to_contain_text(critical.serial)
    page.wait_for_timeout(800)
    inside = page.evaluate("""(id) => map.getBounds().pad(-0.1)
        .contains(markers.get(id).getLatLng())""", critical.id)
    assert inside
    # Route stops' ETAs show on hover only: no label sits over the devices.
    expect(page.locator(".leaflet-tooltip.eta")).to_have_count(0)
    _shot(page, "console-map-legend-and-inbox")


def test_an_action_answer_stays_when_plans_arrive_and_quiet_replans_are_counted(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    device = cloud.fleet.devices[0]
    _alert(cloud, device.id, "high", int(time.time() * 1000))
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{cloud.base_url}/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    row = page.locator("#alerts tbody tr").first
    row.get_by_role("button", name="Ack").click()
    status = page.locator("#plan-status")
    expect(status).to_contain_text("acknowledged")
    # Plans arrive (the dispatcher's runs): said apart, the answer above stays.
    for _ in range(3):
        cloud.api.post(f"{cloud.base_url}/api/plans").raise_for_status()
    expect(page.locator("#plan-live")).to_contain_text("latest plan in force", timeout=15_000)
    expect(status).to_contain_text("acknowledged")
    # Nothing to plan: the re-plans changed nothing, and are counted, not listed.
    expect(page.locator("#plan-changes [data-quiet]")).to_contain_text("changed nothing",
                                                                       timeout=15_000)
    expect(page.locator("#plan-changes")).not_to_contain_text("no changes")


def test_a_dispatcher_opens_a_case_by_hand_finding_the_device_by_customer(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    device = cloud.fleet.devices[-1]
    site = next(s for s in cloud.fleet.sites if s.id == device.site_id)
    customer = next(c for c in cloud.fleet.customers if c.id == site.customer_id)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{cloud.base_url}/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    expect(page.locator("#map")).to_have_attribute("data-drawn", str(len(cloud.fleet.devices)))
    page.get_by_text("Open a case by hand").click()
    form = page.locator("#new-case-form")
    # Typed by customer: the list offers that customer's devices, by serial and site.
    form.get_by_label("Device").fill(customer.name)
    options = page.locator("#device-options option")
    assert options.count() >= 1
    values = [options.nth(k).get_attribute("value") for k in range(options.count())]
    picked = next(v for v in values if v and v.startswith(device.serial))
    form.get_by_label("Device").fill(picked)
    expect(page.locator("#new-case-device")).to_contain_text(site.name)
    form.get_by_label("What is wrong").fill("Customer phoned: unit leaking")
    form.get_by_label("Customer's contact").fill("+49 89 555")
    form.get_by_label("Priority").select_option("4")
    form.get_by_role("button", name="Open case").click()
    status = page.locator("#plan-status")
    expect(status).to_contain_text("opened for")
    case_id = int((status.text_content() or "").split("case ", 1)[1].split(" ", 1)[0])
    case = cloud.api.get(f"{cloud.base_url}/api/cases/{case_id}").json()
    assert (case["device_id"], case["title"], case["contact"], case["source"]) == (
        device.id, "Customer phoned: unit leaking", "+49 89 555", "api")
    assert case["work_orders"][0]["priority"] == 4
