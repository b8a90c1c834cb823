"""Inbound intake from CRMs: cases and work orders through the API, with idempotency keys."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal, build_portal
from sqlalchemy import update
from sqlmodel import Session, col, select

from foundations.database import session_scope
from integrations.domain_events.tables import OutboxEvent
from integrations.idempotency import IdempotencyKey
from portal.idempotency import REPLAYED_HEADER
from service.tables import Case, WorkOrder
from simulators.fleet import generate_fleet


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return build_portal(tmp_path_factory.mktemp("intake"), generate_fleet(seed=7, sites=4))


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app) as client:
        yield client


def _headers(portal: Portal, caller: str = "admin", key: str | None = None) -> dict[str, str]:
    headers = dict(portal.accounts[caller].headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def _cases_titled(portal: Portal, title: str) -> list[Case]:
    with Session(portal.engine) as session:
        return list(session.exec(select(Case).where(Case.title == title)))


def _new_case(portal: Portal, title: str) -> dict:
    return {"device_id": portal.device("B").id, "title": title, "priority": 4,
            "contact": "crm@example.com"}


def test_a_retried_create_with_the_same_key_answers_the_same_and_opens_one_case(
        portal: Portal, client: TestClient) -> None:
    body = _new_case(portal, "crm ticket 1001")
    first = client.post("/api/cases", json=body, headers=_headers(portal, key="t-1001"))
    again = client.post("/api/cases", json=body, headers=_headers(portal, key="t-1001"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers[REPLAYED_HEADER] == "true"
    [case] = _cases_titled(portal, "crm ticket 1001")
    created = first.json()
    assert created["case"]["id"] == case.id and case.source == "api"
    [order] = created["work_orders"]
    # The skill and duration come from the device's model, like any case.
    model = portal.app.state.ctx.models[portal.device("B").model_id]
    assert (order["skill"], order["duration_min"], order["priority"]) == (
        model.service_skill, model.service_minutes, 4)
    with Session(portal.engine) as session:
        created_events = session.exec(select(OutboxEvent).where(
            OutboxEvent.record_type == "case", OutboxEvent.record_id == str(case.id))).all()
    assert [e.event_type for e in created_events] == ["case.created"]


def test_the_same_key_with_another_body_is_refused(portal: Portal, client: TestClient) -> None:
    client.post("/api/cases", json=_new_case(portal, "crm ticket 1002"),
                headers=_headers(portal, key="t-1002"))
    other = client.post("/api/cases", json=_new_case(portal, "something else"),
                        headers=_headers(portal, key="t-1002"))
    assert other.status_code == 422 and "different request" in other.json()["detail"]
    assert _cases_titled(portal, "something else") == []


def test_keys_are_per_caller_and_expire(portal: Portal, client: TestClient) -> None:
    body = _new_case(portal, "crm ticket 1003")
    client.post("/api/cases", json=body, headers=_headers(portal, key="t-1003"))
    theirs = client.post("/api/cases", json=body,
                         headers=_headers(portal, "dispatcher", key="t-1003"))
    assert theirs.status_code == 201 and REPLAYED_HEADER not in theirs.headers
    assert len(_cases_titled(portal, "crm ticket 1003")) == 2
    with session_scope(portal.engine) as session:
        session.connection().execute(update(IdempotencyKey)
                                     .where(col(IdempotencyKey.key) == "t-1003")
                                     .values(expires_at=0))
    later = client.post("/api/cases", json=body, headers=_headers(portal, key="t-1003"))
    assert later.status_code == 201 and REPLAYED_HEADER not in later.headers
    assert len(_cases_titled(portal, "crm ticket 1003")) == 3


def test_without_a_key_every_call_acts(portal: Portal, client: TestClient) -> None:
    body = _new_case(portal, "crm ticket 1004")
    for _ in range(2):
        assert client.post("/api/cases", json=body, headers=_headers(portal)).status_code == 201
    assert len(_cases_titled(portal, "crm ticket 1004")) == 2


def test_concurrent_retries_with_one_key_open_one_case(portal: Portal) -> None:
    body = _new_case(portal, "crm ticket 1005")
    answers: list[dict] = []

    def call() -> None:
        with TestClient(portal.app) as client:
            response = client.post("/api/cases", json=body,
                                   headers=_headers(portal, key="t-1005"))
            assert response.status_code == 201
            answers.append(response.json())

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 4 and all(a == answers[0] for a in answers)
    assert len(_cases_titled(portal, "crm ticket 1005")) == 1


def test_unknown_device_is_404_and_not_remembered(portal: Portal, client: TestClient) -> None:
    body = {"device_id": "no-such-device", "title": "crm ticket 1006"}
    assert client.post("/api/cases", json=body,
                       headers=_headers(portal, key="t-1006")).status_code == 404
    with Session(portal.engine) as session:
        assert session.get(IdempotencyKey, ("user:admin-test", "t-1006")) is None


def test_work_order_status_moves_only_forward_with_clear_409s(
        portal: Portal, client: TestClient) -> None:
    created = client.post("/api/cases", json=_new_case(portal, "crm ticket 1007"),
                          headers=_headers(portal)).json()
    order_id = created["work_orders"][0]["id"]
    url = f"/api/work-orders/{order_id}"
    unplanned = client.patch(url, json={"status": "en_route"}, headers=_headers(portal))
    assert unplanned.status_code == 409 and "no engineer" in unplanned.json()["detail"]
    assert client.patch(url, json={"status": "assigned"},
                        headers=_headers(portal)).status_code == 422  # the planner's to set
    job = portal.new_job(portal.device("B").id, portal.engineer_id("own"))
    url = f"/api/work-orders/{job}"
    moved = client.patch(url, json={"status": "on_site", "note": "crm"},
                         headers=_headers(portal, key="wo-1"))
    assert moved.status_code == 200 and moved.json()["status"] == "on_site"
    back = client.patch(url, json={"status": "accepted"}, headers=_headers(portal))
    assert back.status_code == 409 and "already 'on_site'" in back.json()["detail"]
    late = client.patch(url, json={"priority": 5}, headers=_headers(portal))
    assert late.status_code == 409 and "priority" in late.json()["detail"]
    # A retry of the first call answers as it did, and does not move the order again.
    again = client.patch(url, json={"status": "on_site", "note": "crm"},
                         headers=_headers(portal, key="wo-1"))
    assert again.json() == moved.json() and again.headers[REPLAYED_HEADER] == "true"
    with Session(portal.engine) as session:
        statuses = [json.loads(e.payload)["status"] for e in session.exec(
            select(OutboxEvent).where(OutboxEvent.record_type == "work_order",
                                      OutboxEvent.record_id == str(job))
            .order_by(col(OutboxEvent.seq)))]
    assert statuses.count("on_site") == 1


def test_case_fields_priority_and_closing(portal: Portal, client: TestClient) -> None:
    created = client.post("/api/cases", json=_new_case(portal, "crm ticket 1008"),
                          headers=_headers(portal)).json()
    case_id, order_id = created["case"]["id"], created["work_orders"][0]["id"]
    url = f"/api/cases/{case_id}"
    changed = client.patch(url, json={"title": "crm ticket 1008b", "priority": 1,
                                      "contact": "+49 89 1234"}, headers=_headers(portal))
    assert changed.status_code == 200
    assert changed.json()["case"]["title"] == "crm ticket 1008b"
    assert changed.json()["work_orders"][0]["priority"] == 1
    early = client.patch(url, json={"status": "closed"}, headers=_headers(portal))
    assert early.status_code == 409 and str(order_id) in early.json()["detail"]
    with session_scope(portal.engine) as session:
        order = session.get(WorkOrder, order_id)
        assert order is not None
        order.status = "done"
        session.add(order)
    closed = client.patch(url, json={"status": "closed"}, headers=_headers(portal))
    assert closed.status_code == 200 and closed.json()["case"]["status"] == "closed"
    reopened = client.patch(url, json={"status": "open"}, headers=_headers(portal))
    assert reopened.status_code == 409
    assert client.patch("/api/cases/999999", json={"title": "x"},
                        headers=_headers(portal)).status_code == 404
