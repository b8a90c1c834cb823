"""The customer's visit page (`/v/{token}`), linked from the "on the way" e-mail: the
engineer's first name and the plan's ETA, reached with the visit's token and nothing
else; once the job is done, only "done"."""

from __future__ import annotations

import re
import time
from zoneinfo import ZoneInfo

import orjson
from fastapi.testclient import TestClient
from portal_app import Portal
from sqlmodel import Session, select

from foundations.database import session_scope
from notifications.tables import Notification
from service.notice_recorder import WorkOrderNotices
from service.tables import WorkOrder
from service.work_orders import set_status

BASE_URL = "https://service.example"


def _on_the_way(portal: Portal, eta: int) -> tuple[int, str]:
    """A job whose engineer set off: the work-order notices worker writes the customer's
    "on the way" e-mail; its link's token."""
    notices = WorkOrderNotices(portal.engine, tz=ZoneInfo("Europe/Berlin"), base_url=BASE_URL)
    notices.ensure_cursor()
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"))
    with session_scope(portal.engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        order.eta = eta
        set_status(s, order, "en_route")
    notices.record_all()
    with Session(portal.engine) as s:
        messages = [n.message for n in s.exec(select(Notification).where(
            Notification.work_order_id == order_id, Notification.audience == "customer"))]
    [on_the_way] = [m for m in messages if "is on the way" in m]
    match = re.search(rf"{re.escape(BASE_URL)}/v/([A-Za-z0-9_-]{{20,}})", on_the_way)
    assert match, on_the_way
    return order_id, match.group(1)


def _first_event(client: TestClient, token: str) -> dict[str, object]:
    answer = client.get(f"/v/{token}/live?max_s=0")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    data = next(line for line in answer.text.splitlines() if line.startswith("data: "))
    return dict(orjson.loads(data.removeprefix("data: ")))


def test_the_on_the_way_email_links_to_the_visit_with_first_name_and_eta(
        portal: Portal, client: TestClient) -> None:
    eta = int(time.time() * 1000) + 40 * 60_000
    _, token = _on_the_way(portal, eta)
    engineer = portal.fleet.engineers[0]
    first, *rest = engineer.name.split()
    page = client.get(f"/v/{token}")
    assert page.status_code == 200
    assert f"{first} is on the way" in page.text
    assert f'data-eta="{eta}"' in page.text
    assert all(part not in page.text for part in rest), "the first name only"
    event = _first_event(client, token)
    assert (event["phase"], event["engineer"], event["eta"]) == ("on_the_way", first, eta)


def test_a_wrong_token_finds_nothing(portal: Portal, client: TestClient) -> None:
    _, token = _on_the_way(portal, int(time.time() * 1000) + 600_000)
    for wrong in ("nope", token[:-1] + ("A" if token[-1] != "A" else "B"),
                  portal.tokens[portal.device("B").id]):  # the device's QR token is not it
        assert client.get(f"/v/{wrong}").status_code == 404
        assert client.get(f"/v/{wrong}/live?max_s=0").status_code == 404


def test_once_done_the_page_says_done_and_nothing_else(portal: Portal,
                                                       client: TestClient) -> None:
    order_id, token = _on_the_way(portal, int(time.time() * 1000) + 600_000)
    with session_scope(portal.engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        set_status(s, order, "on_site")
        set_status(s, order, "done")
    page = client.get(f"/v/{token}")
    assert page.status_code == 200
    main = page.text.split("<main", 1)[1].split("</main>", 1)[0]
    assert "Done" in main
    first = portal.fleet.engineers[0].name.split()[0]
    assert first not in main and "data-eta" not in main and "serial" not in main
    assert _first_event(client, token) == {"phase": "done"}
