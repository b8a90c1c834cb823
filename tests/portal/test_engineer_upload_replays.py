"""The phone's outbox sends a photo or a sign-off again when the answer was lost:
with the same `client_id` it is stored once, and the replay answers `already: true`."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from portal_app import PNG, Portal
from sqlmodel import Session, select

from portal.auth.tables import AuditEvent

CLIENT_ID = "0f3c9a7e5b1d4c2a8e6f0b9d7c5a3e1f"


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app) as client:
        client.headers.update(portal.accounts["engineer_own"].headers)
        yield client


def _audited(portal: Portal, order_id: int, action: str) -> int:
    with Session(portal.engine) as session:
        return len(session.exec(select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.target == f"work_order:{order_id}")).all())


def test_a_photo_sent_twice_with_its_client_id_is_stored_once(
        portal: Portal, client: TestClient) -> None:
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "on_site")
    url = f"/api/work-orders/{order_id}/photos"

    def upload(client_id: str | None = CLIENT_ID) -> dict:
        response = client.post(url, files={"photo": ("leak.png", PNG, "image/png")},
                               data={"client_id": client_id} if client_id else {})
        assert response.status_code == 200, response.text
        return response.json()

    first = upload()
    assert first["already"] is False and first["photos"] == [f"{CLIENT_ID}.png"]
    replay = upload()  # the answer to the first was lost: the outbox sends it again
    assert replay["already"] is True and replay["photos"] == first["photos"]
    folder = portal.uploads_dir / "work-orders" / str(order_id)
    assert [p.name for p in folder.iterdir()] == [f"{CLIENT_ID}.png"]
    assert _audited(portal, order_id, "job_report.photo") == 1
    assert client.get(f"{url[:-len('photos')]}files/{CLIENT_ID}.png").content == PNG

    # Another photo (another id), and one without an id (older pages), are new photos.
    other = "a" * 32
    assert upload(other)["photos"] == [f"{CLIENT_ID}.png", f"{other}.png"]
    assert len(upload(None)["photos"]) == 3

    # A replay still answers after the customer signed off (the report is final).
    client.post(f"/api/work-orders/{order_id}/sign-off", json={
        "signed_by": "Ms Customer", "signature_png": base64.b64encode(PNG).decode()})
    assert upload()["already"] is True
    late = client.post(url, files={"photo": ("new.png", PNG, "image/png")},
                       data={"client_id": "b" * 32})
    assert late.status_code == 409 and "signed off" in late.json()["detail"]


def test_a_client_id_that_is_no_safe_file_name_is_refused(
        portal: Portal, client: TestClient) -> None:
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "on_site")
    for bad in ("../../etc/passwd-0123456789", "short", "x" * 65):
        refused = client.post(f"/api/work-orders/{order_id}/photos",
                              files={"photo": ("leak.png", PNG, "image/png")},
                              data={"client_id": bad})
        assert refused.status_code == 422, bad
    assert client.get(f"/api/work-orders/{order_id}/job").json()["report"]["photos"] == []


def test_a_sign_off_sent_twice_is_one_sign_off_and_the_replay_is_no_error(
        portal: Portal, client: TestClient) -> None:
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "on_site")
    url = f"/api/work-orders/{order_id}/sign-off"
    body = {"signed_by": "Ms Customer", "client_id": CLIENT_ID,
            "signature_png": "data:image/png;base64," + base64.b64encode(PNG).decode()}
    first = client.post(url, json=body)
    assert first.status_code == 200 and first.json()["already"] is False
    replay = client.post(url, json=body)
    assert replay.status_code == 200 and replay.json()["already"] is True
    assert replay.json()["signed_at"] == first.json()["signed_at"]
    folder = portal.uploads_dir / "work-orders" / str(order_id)
    assert [p.name for p in folder.iterdir()] == [f"signature-{CLIENT_ID}.png"]
    assert _audited(portal, order_id, "job_report.sign_off") == 1
    # A second, different sign-off is still refused: the report is final.
    again = client.post(url, json={**body, "client_id": "c" * 32, "signed_by": "Someone else"})
    assert again.status_code == 409 and "signed off" in again.json()["detail"]


def test_parts_sent_twice_with_their_client_id_are_recorded_once(
        portal: Portal, client: TestClient) -> None:
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "on_site")
    url = f"/api/work-orders/{order_id}/parts"
    body = {"parts": [{"part": "O-ring", "qty": 2}], "client_id": CLIENT_ID}

    first = client.post(url, json=body)
    replay = client.post(url, json=body)
    other = client.post(url, json={**body, "client_id": "b" * 32})

    assert first.status_code == replay.status_code == other.status_code == 200
    assert first.json()["parts"] == replay.json()["parts"] == [{"part": "O-ring", "qty": 2}]
    assert len(other.json()["parts"]) == 2  # another entry is another line
    assert _audited(portal, order_id, "job_report.parts") == 2


def test_a_give_back_sent_twice_is_answered_as_done_not_refused(
        portal: Portal, client: TestClient) -> None:
    """After the first, the job is no longer the engineer's: a replay would get a 403,
    which the phone keeps retrying; it is recognised instead."""
    order_id = portal.new_job(portal.device("B").id, portal.engineer_id("own"), "accepted")
    url = f"/api/work-orders/{order_id}/cannot-complete"
    body = {"reason": "no access to the plant room", "client_id": CLIENT_ID}

    first = client.post(url, json=body)
    replay = client.post(url, json=body)

    assert first.status_code == 200 and "already" not in first.json()
    assert replay.status_code == 200 and replay.json()["already"] is True
    assert _audited(portal, order_id, "work_order.cannot_complete") == 1
    # Someone else's give-back is still refused: the job is not theirs.
    with TestClient(portal.app) as other:
        other.headers.update(portal.accounts["engineer_other"].headers)
        assert other.post(url, json=body).status_code == 403
