"""The device panel names its gateway's data gaps: readings evicted on the gateway while
the cloud was out of reach, with when and how many, under the charts."""

from __future__ import annotations

import time

import orjson
from playwright.sync_api import Page, expect
from test_pages_in_browser import _log_in, _shot, browser, page  # noqa: F401 (fixtures)

from firmware_contracts.topics import status_topic
from support import RunningCloud, make_account


def test_the_device_panel_lists_the_gateways_evictions_as_data_gaps(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    device = cloud.fleet.devices[-1]
    gw = device.gateway_id
    now = int(time.time() * 1000)
    for ts, evicted in [(now - 600_000, 0), (now - 300_000, 340)]:
        status = {"v": 1, "gw": gw, "state": "online", "ts": ts, "fw": "1",
                  "devices": [d.id for d in cloud.fleet.devices_of(gw)], "evicted": evicted}
        assert cloud.system.pipeline.handle(status_topic(gw), orjson.dumps(status)).kind \
            == "status"

    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{cloud.base_url}/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    # The login lands on the console: its scripts must have loaded before we call them.
    page.wait_for_function("() => typeof openDevice === 'function'")
    page.evaluate("(id) => openDevice(id)", device.id)
    gap = page.locator("#device-gaps li.data-gap")
    expect(gap).to_have_count(1)
    expect(gap).to_contain_text("340 readings evicted on the gateway")
    expect(gap).to_contain_text("No data ")
    _shot(page, "console-device-gaps")
