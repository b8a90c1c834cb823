"""The console's map without a mouse: every device and cluster on the map is reached
with Tab, named by what it is (serial and state; how many devices and the worst of
them), and opened with Enter or Space, as a click would."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect
from sqlmodel import Session
from test_pages_in_browser import _log_in, browser, page  # noqa: F401 (fixtures)

from rules.tables import Alert
from support import RunningCloud, make_account

# Brings a device's own marker onto the map: zoomed in on it, and its cluster spread
# if it still shares one (markercluster's public getVisibleParent and spiderfy). Tried
# again until it shows: a live redraw may be adding the markers in chunks, and the
# device panel opening changes the map's size.
_SHOW = """(id) => new Promise((done) => {
    const m = markers.get(id);
    const ends = Date.now() + 20000;
    const check = () => {
        if (m.getElement()) return done(true);
        if (Date.now() > ends) return done(false);
        const parent = layer.getVisibleParent(m);
        if (parent && parent !== m && parent.spiderfy) parent.spiderfy();
        else if (!parent) { // not drawn in this view (yet): the map's size, then the view
            map.invalidateSize({ animate: false });
            map.setView(m.getLatLng(), 18, { animate: false });
        }
        setTimeout(check, 300);
    };
    check(); })"""


def _show(page: Page, device_id: str) -> None:  # noqa: F811
    assert page.evaluate(_SHOW, device_id), page.evaluate("""(id) => { const m = markers.get(id);
        const p = layer.getVisibleParent(m); return JSON.stringify({zoom: map.getZoom(),
        anim: layer._inZoomAnimation, spider: !!layer._spiderfied, parent: p ? (p.getChildCount ?
        p.getChildCount() : 'self') : null, hasIcon: p ? !!p._icon : null,
        inLayer: layer.hasLayer(m), onMap: map.hasLayer(m)}); }""", device_id)


def _tab_to(page: Page, selector: str, most: int = 200) -> str:  # noqa: F811
    """Presses Tab until the focus is on an element matching `selector`; its name."""
    for _ in range(most):
        page.keyboard.press("Tab")
        name = page.evaluate("""(sel) => { const el = document.activeElement;
            return el && el.matches(sel) ? el.getAttribute('aria-label') : null; }""", selector)
        if name:
            return str(name)
    raise AssertionError(f"Tab never reached {selector}")


def test_a_device_marker_is_reached_with_tab_named_and_opened_with_enter(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    device = cloud.fleet.devices[0]
    with Session(cloud.system.engine) as s:
        s.add(Alert(device_id=device.id, rule_id="kbd-high", metric="tds_ppm", severity="high",
                    message="high test alert", raised_at=int(time.time() * 1000),
                    raised_value=1.0))
        s.commit()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{cloud.base_url}/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    expect(page.locator("#map")).to_have_attribute("data-drawn", str(len(cloud.fleet.devices)))

    # Zoomed out, the devices are in clusters: a cluster is a button that says how
    # many devices it holds and the worst of them.
    page.wait_for_function("() => typeof map !== 'undefined' && typeof showOnMap === 'function'")
    page.evaluate("() => map.setView(map.getCenter(), 9, { animate: false })")
    cluster = page.locator(".fp-cluster[role=button]").first
    expect(cluster).to_have_attribute("tabindex", "0")
    expect(cluster).to_have_attribute("aria-label", re.compile(r"^\d+ devices.*worst", re.I))

    # Zoomed in on the device's site, the device itself: Tab reaches it, its name says
    # its serial and its state; Enter opens the device panel.
    expect(page.locator("#device-panel")).to_be_hidden()
    name = _open_with_key(page, device.id, device.serial, "Enter", tab=True)
    assert device.serial in name and "high alert" in name
    expect(page.locator("#device-panel")).to_be_visible()

    # Space does the same for another device.
    other = cloud.fleet.devices[1]
    _open_with_key(page, other.id, other.serial, " ")


def _open_with_key(page: Page, device_id: str, serial: str, key: str,  # noqa: F811
                   tab: bool = False) -> str:
    """Brings the device's marker into view, focuses it (with Tab from the header, or
    directly) and presses `key`; the panel must show the device. A live redraw of the
    map (re-clustering) between two steps is tried again, up to three times."""
    for attempt in range(3):
        try:
            _show(page, device_id)
            marker = page.locator(f".fp-device[data-device='{device_id}']")
            if tab:
                page.locator("#search").focus()  # the header, before the map
                name = _tab_to(page, f".fp-device[data-device='{device_id}']")
            else:
                marker.focus()
                name = str(marker.get_attribute("aria-label"))
            page.keyboard.press(key)
            expect(page.locator("#device-title")).to_contain_text(serial)
            return name
        except AssertionError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def test_enter_on_a_cluster_opens_it_and_the_focus_goes_to_what_it_held(
        cloud: RunningCloud, page: Page) -> None:  # noqa: F811
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{cloud.base_url}/dispatch")
    _log_in(page, make_account(cloud.system.engine, "dispatcher"))
    expect(page.locator("#map")).to_have_attribute("data-drawn", str(len(cloud.fleet.devices)))
    page.wait_for_function("() => typeof map !== 'undefined' && typeof showOnMap === 'function'")
    page.evaluate("() => map.setView(map.getCenter(), 9, { animate: false })")
    expect(page.locator(".fp-cluster").first).to_be_visible()
    page.locator("#search").focus()
    _tab_to(page, ".fp-cluster")
    page.keyboard.press("Enter")
    # Spread or zoomed in: the focus lands on a device or a smaller cluster of the map.
    page.wait_for_function("""() => document.activeElement &&
        document.activeElement.matches('.fp-device, .fp-cluster') &&
        document.getElementById('map').contains(document.activeElement)""")

