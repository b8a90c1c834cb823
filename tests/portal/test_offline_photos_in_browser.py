"""In a real browser at a phone's size: photos and the customer's signature taken
without signal wait in the outbox (their images in IndexedDB) with the other
changes, survive a reload, are sent in order on reconnect, and are stored once even
when an upload reached the server but its answer was lost."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import Literal

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from sqlmodel import Session
from test_pages_in_browser import _log_in, _shot, browser, policy_violations  # noqa: F401

from service.cases import open_case
from service.tables import WorkOrder
from support import RunningCloud, make_account


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    """As test_pages_in_browser's, at a phone's size, and the thumbnails' blob: URLs
    (the page's own memory) are allowed: still nothing from outside the machine."""
    yield from _phone_page(browser, service_workers="allow")


@pytest.fixture
def routed_page(browser: Browser) -> Iterator[Page]:  # noqa: F811
    """As `page`, with no service worker: requests it fetches itself bypass `page.route`,
    with which this file's tests answer for the server (the worker's offline reload is
    tested in test_live_and_offline_in_browser.py)."""
    yield from _phone_page(browser, service_workers="block")


def _phone_page(browser: Browser,  # noqa: F811
                service_workers: Literal["allow", "block"]
                ) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  service_workers=service_workers)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
        ("http://127.0.0.1", "blob:http://127.0.0.1", "data:")) else None)
    refused = policy_violations(page)
    yield page
    context.close()
    assert outside == [], f"pages must not load anything from outside the machine: {outside}"
    assert refused == [], f"the pages broke their own security policy: {refused}"


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain-coloured PNG: a photo the thumbnail can show."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _job_on_site(cloud: RunningCloud, title: str) -> tuple[str, int]:
    engineer = cloud.fleet.engineers[0]
    with Session(cloud.system.engine, expire_on_commit=False) as s:
        _, order = open_case(s, device_id=cloud.fleet.devices[0].id, source="customer",
                             title=title, skill="plumbing", duration_min=30, priority=2)
        # On site already: out of the planner's hands, so it stays this engineer's.
        order.engineer_id, order.status = engineer.id, "on_site"
        s.add(order)
        s.commit()
    assert order.id is not None
    return engineer.id, order.id


def _open_job(cloud: RunningCloud, page: Page, engineer_id: str, order_id: int,
              title: str) -> None:
    url = f"{cloud.base_url}/engineer/{engineer_id}/jobs/{order_id}"
    page.goto(url)
    _log_in(page, make_account(cloud.system.engine, "engineer", engineer_id))
    expect(page).to_have_url(url)
    expect(page.locator("#title")).to_have_text(title)
    expect(page.locator("#status")).to_have_text("on site")


def _attach(page: Page, name: str, mime: str, data: bytes) -> None:
    page.set_input_files("#photo input[name=photo]",
                         files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.click("#photo button[type=submit]")


def _sign(page: Page, name: str) -> None:
    """Draw a signature in the box, then sign off. The page may still move while parts of
    it load (a stroke would then miss the box): drawn again until the page has it."""
    for _ in range(5):
        page.locator("#signature").scroll_into_view_if_needed()
        box = page.locator("#signature").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + 20, box["y"] + 100)
        page.mouse.down()
        for x, y in ((80, 30), (140, 110), (200, 40), (260, 90)):
            page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
        page.mouse.up()
        if page.evaluate("signed"):
            break
    assert page.evaluate("signed"), "no stroke reached the signature box"
    page.fill("#sign-off input[name=signed_by]", name)
    page.click("#sign-off button[type=submit]")


def _reconnect(page: Page) -> None:
    """Signal comes back: the page's 'online' handler sends the outbox."""
    page.context.set_offline(True)
    page.context.set_offline(False)


def _status(cloud: RunningCloud, order_id: int) -> str:
    with Session(cloud.system.engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        return order.status


def test_photo_and_sign_off_without_signal_survive_a_reload_and_are_stored_once(
        cloud: RunningCloud, routed_page: Page) -> None:
    page = routed_page
    title = "Leak under the sink"
    engineer_id, order_id = _job_on_site(cloud, title)
    _open_job(cloud, page, engineer_id, order_id, title)
    api = f"{cloud.base_url}/api/work-orders/{order_id}"

    page.context.set_offline(True)  # into the basement
    _attach(page, "leak.png", "image/png", _png(64, 48, (30, 110, 200)))
    _sign(page, "Ms Customer")
    page.click("button[data-status=done]")
    expect(page.locator("#outbox-count")).to_have_text(
        "3 changes waiting for signal — sent automatically")
    items = page.locator("#outbox-items li")
    expect(items).to_have_text([f"Job {order_id}: photo leak.png (1 kB)",
                                f"Job {order_id}: signed by Ms Customer",
                                f"Job {order_id}: job done"])
    expect(page.locator("#outbox-items img")).to_have_count(2)  # photo and signature
    _shot(page, "engineer-offline-photo-outbox")

    # Reloaded still without a working connection: here the page loads but no API call
    # gets through (a reload with no network at all is the service worker's test, in
    # test_live_and_offline_in_browser.py). The reopened page shows what is waiting,
    # read back from localStorage and IndexedDB.
    page.route("**/api/**", lambda route: route.abort("internetdisconnected"))
    page.context.set_offline(False)
    page.reload()
    expect(page.locator("#outbox-count")).to_contain_text("3 changes waiting")
    expect(items).to_have_count(3)
    expect(page.locator("#outbox-items img")).to_have_count(2)
    thumb = page.locator("#outbox-items img").first
    expect(thumb).to_have_js_property("naturalWidth", 64)  # the photo itself, from IndexedDB
    _shot(page, "engineer-outbox-after-reload")
    assert _status(cloud, order_id) == "on_site"
    assert cloud.api.get(f"{api}/job").json()["report"]["photos"] == []
    page.unroute("**/api/**")

    # Back upstairs, the first upload reaches the server but its answer is lost.
    lost: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        if route.request.method == "POST" and not lost:
            lost.append(route.request.url)
            route.fetch()  # stored on the server ...
            route.abort("connectionreset")  # ... but the phone never hears so
        else:
            route.continue_()

    page.route("**/api/work-orders/*/photos", lose_the_first_answer)
    with page.expect_event("requestfailed"):
        _reconnect(page)
    page.wait_for_function("() => !flushing")  # the page's send loop has given up for now
    expect(page.locator("#outbox-count")).to_contain_text("3 changes waiting")  # kept
    assert lost and len(cloud.api.get(f"{api}/job").json()["report"]["photos"]) == 1
    assert _status(cloud, order_id) == "on_site"  # "done" waits behind the photo

    _reconnect(page)  # the next try sends the photo again, then the rest
    expect(page.locator("#outbox")).to_be_hidden(timeout=10_000)
    expect(page.locator("#status")).to_have_text("done")
    expect(page.locator("#signed")).to_contain_text("Signed by Ms Customer")
    expect(page.locator("#photos li")).to_have_count(1)
    _shot(page, "engineer-photo-sent")

    job = cloud.api.get(f"{api}/job").json()
    assert len(job["report"]["photos"]) == 1 and job["report"]["signed_by"] == "Ms Customer"
    assert job["status"] == "done"
    photo = cloud.api.get(f"{api}/files/{job['report']['photos'][0]}")
    assert photo.status_code == 200 and photo.content == _png(64, 48, (30, 110, 200))
    audit = cloud.api.get(f"{cloud.base_url}/api/audit",
                          params={"target": f"work_order:{order_id}"}).json()
    in_order = [(e["action"], e["detail"]) for e in sorted(audit, key=lambda e: e["id"])]
    assert [a for a, _ in in_order] == ["job_report.photo", "job_report.sign_off",
                                        "work_order.status"]
    assert in_order[-1][1] == "done"
    folder = cloud.system.settings.data_dir / "uploads" / "work-orders" / str(order_id)
    assert len([p for p in folder.iterdir() if not p.name.startswith("signature-")]) == 1


def test_a_photo_refused_for_good_is_dropped_with_a_message_and_the_rest_still_goes(
        cloud: RunningCloud, routed_page: Page) -> None:
    page = routed_page
    title = "Rattling pump"
    engineer_id, order_id = _job_on_site(cloud, title)
    _open_job(cloud, page, engineer_id, order_id, title)

    # Not an image the server takes: said at once, nothing queued.
    _attach(page, "scan.gif", "image/gif", b"GIF89a")
    failed = page.locator("#outbox-failed")
    expect(failed).to_contain_text("scan.gif")
    expect(failed).to_contain_text("not a JPEG, PNG or WebP image")
    expect(page.locator("#outbox")).to_be_hidden()
    page.click("#dismiss-failed")
    expect(failed).to_be_hidden()

    # The server refuses the queued photo (413): dropped, not retried, and "done"
    # behind it is still sent.
    refusals: list[str] = []

    def too_large(route: Route) -> None:
        refusals.append(route.request.url)
        route.fulfill(status=413, json={"detail": "photo: at most 8 MB per image"})

    page.context.set_offline(True)
    _attach(page, "huge.png", "image/png", _png(32, 32, (200, 60, 30)))
    page.click("button[data-status=done]")
    expect(page.locator("#outbox-count")).to_contain_text("2 changes waiting")
    page.route("**/api/work-orders/*/photos", too_large)  # (a route answers even offline)
    page.context.set_offline(False)
    expect(page.locator("#status")).to_have_text("done", timeout=10_000)
    expect(page.locator("#outbox")).to_be_hidden()
    expect(failed).to_be_visible()
    expect(failed).to_contain_text(f"Job {order_id}: photo huge.png")
    expect(failed).to_contain_text("too large")
    _shot(page, "engineer-photo-refused")
    _reconnect(page)  # another flush: the refused photo is not sent again
    expect(page.locator("#outbox")).to_be_hidden()
    page.reload()  # the message stays until the engineer has read it
    expect(failed).to_contain_text("huge.png")
    assert len(refusals) == 1
    job = cloud.api.get(f"{cloud.base_url}/api/work-orders/{order_id}/job").json()
    assert job["status"] == "done" and job["report"]["photos"] == []
