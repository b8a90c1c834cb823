"""The dispatcher console in a real browser (desktop): a device clicked on the
clustered map opens its panel with a 24 h chart; an alert is acknowledged from
the inbox; a proposed plan is reviewed and accepted; a job is pinned to another
engineer and the dispatcher follows."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import orjson
from playwright.sync_api import Page, expect
from sqlmodel import Session, select
from test_pages_in_browser import _log_in, _shot, browser, page  # noqa: F401 (fixtures)

from firmware_contracts.topics import telemetry_topic
from rules.tables import Alert
from service.cases import open_case
from service.tables import Engineer, WorkOrder
from support import RunningCloud, make_account, wait_until

NORMAL = {"flow_lpm": 12.0, "tds_ppm": 25.0, "inlet_pressure_bar": 3.2, "filter_hours": 1000.0}


def _feed(cloud: RunningCloud, device, readings: list[tuple[int, dict]]) -> None:
    """Through ingest, as a gateway's batch would arrive: stored, then checked by the rules."""
    body = {"v": 1, "gw": device.gateway_id, "seq": 1, "sent": int(time.time() * 1000),
            "readings": [{"dev": device.id, "ts": ts, "m": m} for ts, m in readings]}
    outcome = cloud.system.pipeline.handle(telemetry_topic(device.gateway_id), orjson.dumps(body))
    assert (outcome.kind, outcome.stored) == ("stored", len(readings)), outcome


def _click_marker(browser_page: Page, device_id: str) -> None:
    """A real mouse click on the device's circle, once the map zoomed it out of its cluster."""
    browser_page.evaluate("""(id) => new Promise((done) => {
        const m = markers.get(id); layer.zoomToShowLayer(m, () => setTimeout(done, 400)); })""",
                          device_id)
    x, y = browser_page.evaluate("""(id) => {
        const p = map.latLngToContainerPoint(markers.get(id).getLatLng());
        const r = document.getElementById('map').getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }""", device_id)
    browser_page.mouse.click(x, y)


def test_dispatcher_opens_a_device_acknowledges_an_alert_and_pins_a_job(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    _round_the_clock(cloud)
    device = next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")
    now = int(time.time() * 1000)
    # Three hours of normal readings, then one far over the TDS limit: an alert.
    history = [(now - 3 * 3_600_000 + k * 600_000, {**NORMAL, "tds_ppm": 20.0 + k})
               for k in range(18)]
    _feed(cloud, device, [*history, (now, {**NORMAL, "tds_ppm": 400.0})])
    alert = wait_until(lambda: _open_alert(cloud, device.id), what="the TDS alert")
    # And an anomaly alert on another purifier, with the metrics behind it.
    other = next(d for d in cloud.fleet.devices
                 if d.model_id == "aquapure-ro500" and d.id != device.id)
    with Session(cloud.system.engine) as s:
        unusual = Alert(device_id=other.id, rule_id="unusual", metric="", severity="medium",
                        message="unlike normal operation", raised_at=now, raised_value=0.8,
                        explanation={"channel": "sustained", "score": 0.8, "contributions": [
                            {"metric": "tds_ppm", "share": 0.7, "deviation": 4.2},
                            {"metric": "inlet_pressure_bar", "share": 0.3, "deviation": -1.8}]})
        s.add(unusual)
        s.commit()
        unusual_id = unusual.id

    page.goto(f"{cloud.base_url}/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    total = len(cloud.fleet.devices)
    expect(page.locator("#map")).to_have_attribute("data-drawn", str(total))
    expect(page.locator("#summary")).to_contain_text(f"{total} of {total} devices")

    # Search narrows the map; the device is then clicked on the map itself.
    page.fill("#search", device.serial)
    expect(page.locator("#summary")).to_contain_text(f"1 of {total} devices")
    expect(page.locator("#map")).to_have_attribute("data-drawn", "1")
    panel = page.locator("#device-panel")
    # A live redraw (the device just came online) can re-cluster the map under the
    # mouse; a person would click again, and so does the test.
    for _attempt in range(4):
        _click_marker(page, device.id)
        try:
            expect(panel).to_be_visible(timeout=3000)
            break
        except AssertionError:
            page.wait_for_timeout(500)  # let the redraw settle before trying again
    else:
        # The map kept re-clustering under the mouse: click the marker through Leaflet.
        page.evaluate("(id) => markers.get(id).fire('click')", device.id)
    expect(panel).to_be_visible()
    expect(page.locator("#device-title")).to_contain_text(device.serial)
    expect(page.locator("#device-latest")).to_contain_text("400.00")
    chart = page.locator("figure.chart[data-metric=tds_ppm]")
    expect(chart.locator("svg polyline")).to_have_count(1)
    points = chart.locator("svg polyline").get_attribute("points") or ""
    assert len(points.split()) >= 10, "three hours of readings make more than ten buckets"
    expect(page.locator("#device-alerts")).to_contain_text("active")
    _shot(page, "console-device-panel")

    # The inbox names what made the anomaly alert; the threshold alert needs no reason.
    expect(page.locator(f"#alerts tr[data-alert='{unusual_id}'] .explanation")).to_have_text(
        "because of tds_ppm 70 % (+4.2 sd) · inlet_pressure_bar 30 % (-1.8 sd)")
    expect(page.locator(f"#alerts tr[data-alert='{alert}'] .explanation")).to_have_count(0)

    # The inbox: acknowledge the alert.
    row = page.locator(f"#alerts tr[data-alert='{alert}']")
    row.get_by_role("button", name="Ack").click()
    expect(row).to_contain_text("acknowledged")
    with Session(cloud.system.engine) as s:
        stored = s.get(Alert, alert)
        assert stored is not None and stored.state == "acknowledged"
    _shot(page, "console-alert-acknowledged")

    # A job opened behind the dispatcher's back, with periodic plans held for review:
    # the dispatcher proposes a plan, reads what it changes, and accepts it.
    cloud.system.dispatcher.review = True
    order_id, skill = _new_job(cloud, device.id)
    job = page.locator(f"#work-orders tr[data-work-order='{order_id}']")
    expect(job).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Propose a plan").click()
    proposal = page.locator("#plan-proposal")
    expect(proposal.locator("li.added", has_text=f"#{order_id}")).to_be_visible(timeout=30_000)
    expect(proposal).to_contain_text("Proposed")
    assert _order(cloud, order_id).engineer_id is None, "nothing changes before acceptance"
    proposal.scroll_into_view_if_needed()
    _shot(page, "console-plan-proposal")
    proposal.get_by_role("button", name="Accept").click()
    expect(page.locator("#plan-status")).to_contain_text("in force", timeout=30_000)
    expect(proposal).to_be_hidden()
    first = _order(cloud, order_id).engineer_id
    assert first is not None, "the accepted plan assigned the job"
    cloud.system.dispatcher.review = False
    with Session(cloud.system.engine) as s:
        others = [e for e in s.exec(select(Engineer).order_by(Engineer.id))
                  if skill in e.skill_set() and e.id != first]
    assert others, "the fleet has a second engineer with the skill"
    target = others[0]
    job.get_by_role("button", name="Nearest").click()
    expect(page.locator("#candidates")).to_be_visible()
    # The emergency view: the target can take it (an ETA and a button to assign).
    expect(page.locator(f"#candidates tr[data-engineer='{target.id}'] button")).to_have_text(
        "Assign")
    _shot(page, "console-nearest-engineers")
    page.locator(f"#work-orders tr[data-work-order='{order_id}'] select[name=engineer]"
                 ).select_option(target.id)
    page.locator(f"#work-orders tr[data-work-order='{order_id}']").get_by_role(
        "button", name="Pin").click()
    expect(page.locator("#plan-status")).to_contain_text("pinned to")

    assert _order(cloud, order_id).pinned_engineer_id == target.id
    wait_until(lambda: _order(cloud, order_id).engineer_id == target.id,
               what="the next plan to follow the pin")
    # Live: the console shows the new engineer without a reload.
    expect(page.locator(f"#work-orders tr[data-work-order='{order_id}']")).to_contain_text(
        target.name, timeout=15_000)
    expect(page.locator(f"#work-orders tr[data-work-order='{order_id}'] .pin")).to_be_visible()
    page.fill("#search", "")
    expect(page.locator("#summary")).to_contain_text(f"{total} of {total} devices")
    _shot(page, "console-job-pinned")


def _round_the_clock(cloud: RunningCloud) -> None:
    """Every engineer on a 24-hour shift that began an hour ago, so whoever the job is
    pinned to has room for it whatever the time the test runs (a 00:00-23:59 shift has
    no room left late in the evening). Equal start and end make a shift of a whole day."""
    began = (datetime.now(cloud.system.settings.tz) - timedelta(hours=1)).strftime("%H:%M")
    with Session(cloud.system.engine) as s:
        for engineer in s.exec(select(Engineer)):
            engineer.shift_start, engineer.shift_end, engineer.lunch_minutes = \
                began, began, 0
            s.add(engineer)
        s.commit()


def _order(cloud: RunningCloud, order_id: int) -> WorkOrder:
    with Session(cloud.system.engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        return order


def _open_alert(cloud: RunningCloud, device_id: str) -> int | None:
    with Session(cloud.system.engine) as s:
        found = s.exec(select(Alert).where(Alert.device_id == device_id,
                                           Alert.state == "active")).first()
        return found.id if found else None


def _new_job(cloud: RunningCloud, device_id: str) -> tuple[int, str]:
    with Session(cloud.system.engine, expire_on_commit=False) as s:
        _, order = open_case(s, device_id=device_id, source="customer", title="Pump noise",
                             skill="water-treatment", duration_min=30, priority=2)
        s.commit()
        assert order.id is not None
        return order.id, order.skill
