"""The device panel's charts at a desk (1440x900): a few minutes of data fill the chart
instead of a sliver of a 24 h frame, the model's threshold is drawn, the alert's period
shaded, each bucket's values are there on hover, the axis' two ends never read the
same, and the range can be picked."""

from __future__ import annotations

import time

import orjson
from playwright.sync_api import Page, expect
from test_pages_in_browser import _log_in, _shot, browser, page  # noqa: F401 (fixtures)

from firmware_contracts.topics import telemetry_topic
from support import RunningCloud, make_account, wait_until

NORMAL = {"flow_lpm": 12.0, "tds_ppm": 25.0, "inlet_pressure_bar": 3.2, "filter_hours": 1790.2}


def _spread(browser_page: Page) -> float:
    """How much of the plot's width the mean line covers (0..1)."""
    return browser_page.evaluate("""() => {
        const line = document.querySelector('figure.chart[data-metric=tds_ppm] polyline');
        const xs = line.getAttribute('points').trim().split(/\\s+/).map((p) => +p.split(',')[0]);
        return (Math.max(...xs) - Math.min(...xs)) / (380 - 44 - 6); }""")


def test_a_few_minutes_fill_the_chart_with_thresholds_alerts_and_values(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    device = next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")
    now = int(time.time() * 1000)
    readings = [(now - (8 - k) * 60_000, {**NORMAL, "tds_ppm": 20.0 + k,
                                          "filter_hours": 1790.2 + k * 0.01})
                for k in range(8)] + [(now, {**NORMAL, "tds_ppm": 400.0})]
    body = {"v": 1, "gw": device.gateway_id, "seq": 1, "sent": now,
            "readings": [{"dev": device.id, "ts": ts, "m": m} for ts, m in readings]}
    outcome = cloud.system.pipeline.handle(telemetry_topic(device.gateway_id), orjson.dumps(body))
    assert outcome.kind == "stored", outcome
    wait_until(lambda: cloud.api.get(f"{cloud.base_url}/api/alerts?device_id={device.id}"
                                     ).json(), what="the TDS alert")

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{cloud.base_url}/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    page.locator("#alerts a[data-open-device]").first.click()
    chart = page.locator("figure.chart[data-metric=tds_ppm]")
    expect(chart.locator("svg polyline")).to_have_count(1)
    assert _spread(page) > 0.6, "eight minutes of data fill the chart, not a sliver"
    expect(chart.locator("figcaption")).to_contain_text("min")
    # The rule's threshold (150 ppm) as a line, the alert's period shaded.
    expect(chart.locator("line.threshold title")).to_contain_text("150")
    expect(chart.locator("rect.alert-period")).to_have_count(1)
    # Hover: every bucket says its values.
    titles = chart.locator("rect.hover title")
    assert titles.count() >= 5
    expect(titles.first).to_contain_text("mean")
    # A metric that barely moves: the axis' ends still differ.
    hours = page.locator("figure.chart[data-metric=filter_hours] text.axis")
    top, bottom = hours.nth(0).text_content(), hours.nth(1).text_content()
    assert top != bottom, f"axis reads {top} / {bottom}"
    _shot(page, "console-device-chart-fitted")

    # The whole day, when asked for: the same minutes are now a sliver at the end.
    page.select_option("#chart-range", "24")
    expect(chart.locator("figcaption")).to_contain_text("last 24 h")
    assert _spread(page) < 0.1
