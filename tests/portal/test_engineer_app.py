"""The engineer's job app through its API: route, statuses (replayed safely), report."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from portal_app import PNG, Portal
from sqlmodel import Session, select

from service.tables import WorkOrder, WorkOrderEvent


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app) as client:
        client.headers.update(portal.accounts["engineer_own"].headers)
        yield client


def test_a_job_from_accept_to_sign_off(portal: Portal, client: TestClient) -> None:
    me = portal.engineer_id("own")
    order_id = portal.new_job(portal.device("B").id, me)
    jobs = client.get(f"/api/engineers/{me}/jobs").json()
    job = next(j for j in jobs if j["work_order_id"] == order_id)
    assert job["navigation"].startswith("geo:") and job["serial"]

    url = f"/api/work-orders/{order_id}"
    for step in ("accepted", "en_route", "on_site"):
        assert client.post(f"{url}/status", json={"status": step}).json()["already"] is False
    # The phone's outbox sends "accepted" again after a lost answer: nothing changes.
    replay = client.post(f"{url}/status", json={"status": "accepted"}).json()
    assert replay == {"work_order_id": order_id, "status": "on_site", "already": True}

    assert client.post(f"{url}/parts", json={"parts": [{"part": "RO membrane", "qty": 1}]}
                       ).status_code == 200
    assert client.put(f"{url}/notes", json={"notes": "scaled membrane"}).status_code == 200
    photo = client.post(f"{url}/photos", files={"photo": ("leak.png", PNG, "image/png")})
    [name] = photo.json()["photos"]
    assert client.get(f"{url}/files/{name}").content == PNG
    wrong = client.post(f"{url}/photos", files={"photo": ("x.txt", b"hello", "text/plain")})
    assert wrong.status_code == 415 and "JPEG, PNG or WebP" in wrong.json()["detail"]

    bad = client.post(f"{url}/sign-off", json={"signed_by": "Ms C", "signature_png": "bm9wZQ=="})
    assert bad.status_code == 422 and "PNG" in bad.json()["detail"]
    signed = client.post(f"{url}/sign-off", json={
        "signed_by": "Ms Customer",
        "signature_png": "data:image/png;base64," + base64.b64encode(PNG).decode()})
    assert signed.json()["signed_by"] == "Ms Customer"
    late = client.put(f"{url}/notes", json={"notes": "edited later"})
    assert late.status_code == 409 and "signed off" in late.json()["detail"]
    assert client.post(f"{url}/status", json={"status": "done"}).json()["status"] == "done"

    detail = client.get(f"{url}/job").json()
    assert detail["report"]["parts"] == [{"part": "RO membrane", "qty": 1}]
    assert detail["report"]["notes"] == "scaled membrane" and detail["status"] == "done"
    assert detail["latest"] is not None and detail["device"]["serial"]


def test_signing_off_needs_the_engineer_on_site(portal: Portal, client: TestClient) -> None:
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"))
    refused = client.post(f"/api/work-orders/{order_id}/sign-off", json={
        "signed_by": "Ms C", "signature_png": base64.b64encode(PNG).decode()})
    assert refused.status_code == 409 and "on site" in refused.json()["detail"]


def test_a_job_given_back_goes_to_the_dispatcher_with_the_reason(
        portal: Portal, client: TestClient) -> None:
    replans: list[int] = []
    portal.app.state.ctx.request_replan = lambda: replans.append(1)
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"))
    answer = client.post(f"/api/work-orders/{order_id}/cannot-complete",
                         json={"reason": "customer not home"})
    assert answer.json()["status"] == "new" and replans == [1]
    with Session(portal.engine) as s:
        assert s.get(WorkOrder, order_id).engineer_id is None
        last = s.exec(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order_id)
                      .order_by(WorkOrderEvent.id.desc())).first()
    assert last.status == "cannot_complete" and "customer not home" in last.note
    # It is no longer theirs: the next call is refused.
    again = client.post(f"/api/work-orders/{order_id}/status", json={"status": "accepted"})
    assert again.status_code == 403
