"""The customer's QR pages: offered windows, a fault report with photos, the repair's
timeline in plain words, and rating a finished visit."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from portal_app import PNG, Portal
from sqlmodel import Session, select

from foundations.database import session_scope
from portal.auth.dependencies import CSRF_COOKIE
from service.tables import CaseAttachment, WorkOrder
from service.work_orders import give_back


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app, follow_redirects=False) as client:
        client.cookies.set(CSRF_COOKIE, csrf := secrets.token_urlsafe(16))
        client.headers["X-CSRF-Token"] = csrf
        yield client


def _url(portal: Portal) -> str:
    return f"/q/{portal.tokens[portal.device('A').id]}"


def test_a_report_with_photos_and_an_offered_window(portal: Portal, client: TestClient) -> None:
    url = _url(portal)
    offers = client.get(f"{url}/windows").json()
    assert offers, "the fleet's engineers can come within two days"
    assert all(o["end_ms"] - o["start_ms"] == 2 * 3600 * 1000 for o in offers)
    window = f"{offers[0]['start_ms']}-{offers[0]['end_ms']}"
    sent = client.post(f"{url}/report", data={"category": "Leak", "description": "wet floor",
                                              "window": window},
                       files=[("photos", ("a.png", PNG, "image/png")),
                              ("photos", ("b.png", PNG, "image/png"))])
    assert sent.status_code == 303, sent.text
    case_id = int(re.search(r"reported=(\d+)", sent.headers["location"]).group(1))
    with Session(portal.engine) as s:
        order = s.exec(select(WorkOrder).where(WorkOrder.case_id == case_id)).one()
        assert (order.window_start, order.window_end) == (offers[0]["start_ms"],
                                                          offers[0]["end_ms"])
        files = s.exec(select(CaseAttachment).where(CaseAttachment.case_id == case_id)).all()
    assert len(files) == 2
    assert all((portal.uploads_dir / "cases" / str(case_id) / f.file_name).read_bytes() == PNG
               for f in files)
    page = client.get(sent.headers["location"]).text
    assert "your report was received" in page and "Your arrival window" in page
    assert "Arrival window booked" in page  # on the timeline (and mailed: the notices)


def test_a_window_never_offered_or_taken_meanwhile_is_refused_and_a_broken_one_said(
        portal: Portal, client: TestClient) -> None:
    url = _url(portal)
    tz = ZoneInfo("Europe/Berlin")
    night = (datetime.now(tz) + timedelta(days=1)).replace(hour=2, minute=0, second=0,
                                                            microsecond=0)
    start = int(night.timestamp() * 1000)
    # Two hours long and inside the horizon, but no engineer works at 02:00.
    refused = client.post(f"{url}/report", data={"category": "Leak",
                                                 "window": f"{start}-{start + 7_200_000}"})
    assert refused.status_code == 409 and "pick another" in refused.json()["detail"]
    as_page = client.post(f"{url}/report", data={"category": "Leak",
                                                 "window": f"{start}-{start + 7_200_000}"},
                          headers={"Accept": "text/html"})
    assert as_page.status_code == 409 and "pick another" in as_page.text
    [offer, *_] = client.get(f"{url}/windows").json()
    sent = client.post(f"{url}/report", data={
        "category": "Leak", "contact": "ana@example.com",
        "window": f"{offer['start_ms']}-{offer['end_ms']}"})
    assert sent.status_code == 303, sent.text
    case_id = int(re.search(r"reported=(\d+)", sent.headers["location"]).group(1))
    page = client.get(url).text
    assert 'data-promise="booked"' in page
    with session_scope(portal.engine) as s:  # the plan could not keep it
        order = s.exec(select(WorkOrder).where(WorkOrder.case_id == case_id)).one()
        order.unassigned_reason = "no capacity left in qualified engineers' shifts (day full)"
        s.add(order)
    page = client.get(url).text
    assert 'data-promise="broken"' in page and "We cannot keep the arrival window" in page
    assert "contact you at ana@example.com" in page


def test_bad_reports_are_refused_with_the_reason(portal: Portal, client: TestClient) -> None:
    url = _url(portal)
    made_up = client.post(f"{url}/report", data={"category": "Leak", "window": "5-10"})
    assert made_up.status_code == 422 and "window" in made_up.json()["detail"]
    text = client.post(f"{url}/report", data={"category": "Leak"},
                       files=[("photos", ("a.txt", b"hi", "text/plain"))])
    assert text.status_code == 415
    many = client.post(f"{url}/report", data={"category": "Leak"},
                       files=[("photos", (f"{i}.png", PNG, "image/png")) for i in range(4)])
    assert many.status_code == 422 and "at most 3" in many.json()["detail"]


def test_the_timeline_speaks_plainly_and_a_done_visit_is_rated_once(
        portal: Portal, client: TestClient) -> None:
    device = portal.device("A")
    engineer = portal.engineer_id("own")
    given_back = portal.new_job(device.id, engineer)
    with session_scope(portal.engine) as s:
        give_back(s, s.get(WorkOrder, given_back), "the plant room was locked")
    done = portal.new_job(device.id, engineer, "done")
    page = client.get(_url(portal)).text
    assert "Visit could not be completed (the plant room was locked)" in page
    assert engineer not in page  # the note's engineer id stays out

    rated = client.post(f"{_url(portal)}/rate", data={"work_order_id": str(done), "stars": "4",
                                                      "comment": "quick and tidy"})
    assert rated.status_code == 303
    page = client.get(_url(portal)).text
    assert "★★★★☆" in page and "quick and tidy" in page
    again = client.post(f"{_url(portal)}/rate", data={"work_order_id": str(done), "stars": "1"})
    assert again.status_code == 409 and "rated already" in again.json()["detail"]
    other = portal.new_job(portal.device("B").id, engineer, "done")  # another customer's
    assert client.post(f"{_url(portal)}/rate", data={"work_order_id": str(other),
                                                     "stars": "1"}).status_code == 404


def test_the_engineer_sees_the_customers_photos(portal: Portal, client: TestClient) -> None:
    sent = client.post(f"{_url(portal)}/report", data={"category": "Leak"},
                       files=[("photos", ("a.png", PNG, "image/png"))])
    case_id = int(re.search(r"reported=(\d+)", sent.headers["location"]).group(1))
    with session_scope(portal.engine) as s:
        order = s.exec(select(WorkOrder).where(WorkOrder.case_id == case_id)).one()
        order.engineer_id, order.status = portal.engineer_id("own"), "assigned"
        s.add(order)
        order_id = order.id
    engineer = portal.accounts["engineer_own"].headers
    detail = client.get(f"/api/work-orders/{order_id}/job", headers=engineer).json()
    [photo] = detail["customer_photos"]
    got = client.get(f"/api/work-orders/{order_id}/files/{photo}", headers=engineer)
    assert got.status_code == 200 and got.content == PNG
    other = portal.accounts["engineer_other"].headers
    assert client.get(f"/api/work-orders/{order_id}/files/{photo}",
                      headers=other).status_code == 403


def test_a_code_that_is_not_valid_says_whom_to_contact(portal: Portal, client: TestClient
                                                        ) -> None:
    portal.app.state.ctx.support_contact = "service@desk.example, +49 89 1234"
    page = client.get("/q/not-a-code", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "This code is not valid" in page.text and "+49 89 1234" in page.text
    sent = client.post("/q/not-a-code/report", data={"category": "Leak"})
    assert sent.status_code == 404 and "service@desk.example" in sent.json()["detail"]
