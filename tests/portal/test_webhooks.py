"""Webhook subscriptions through the API: the secret shown once, filters, the delivery
log, parking and replay, end to end with a real receiver and the intake API."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal

from foundations.processes import free_port
from integrations.webhooks.policy import RetryPolicy
from integrations.webhooks.worker import WebhookWorker

sys.path.insert(0, str(Path(__file__).parents[1] / "integrations"))
from webhook_receiver import RECEIVERS_ALLOWED, Receiver


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app, headers=portal.accounts["admin"].headers) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(free_port())
    yield receiver
    receiver.stop()


def test_the_secret_is_shown_once_and_filters_are_checked(client: TestClient) -> None:
    created = client.post("/api/webhooks", json={
        "url": "https://crm.example.com/hooks", "record_types": ["case"],
        "event_types": ["work_order.updated"], "description": "CRM"})
    assert created.status_code == 201
    sub = created.json()
    assert sub["secret"].startswith("whsec_") and sub["active"] is True
    listed = client.get("/api/webhooks").json()
    assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]
    assert "secret" not in client.get(f"/api/webhooks/{sub['id']}").json()
    bad = client.post("/api/webhooks", json={"url": "https://crm.example.com",
                                             "record_types": ["invoice"]})
    assert bad.status_code == 422 and "invoice" in bad.json()["detail"]
    assert client.post("/api/webhooks", json={"url": "not a url"}).status_code == 422
    paused = client.patch(f"/api/webhooks/{sub['id']}", json={"active": False}).json()
    assert paused["active"] is False
    both = client.post(f"/api/webhooks/{sub['id']}/replay",
                       json={"parked": True, "from_event_id": 1})
    assert both.status_code == 422  # parked, or a range: not both
    assert client.delete(f"/api/webhooks/{sub['id']}").status_code == 204
    assert client.get(f"/api/webhooks/{sub['id']}").status_code == 404


def _worker(portal: Portal, max_attempts: int) -> WebhookWorker:
    return WebhookWorker(portal.engine, gap_wait_s=0.5, targets=RECEIVERS_ALLOWED,
                         policy=RetryPolicy(max_attempts=max_attempts, base_s=0.0, cap_s=0.0,
                                            timeout_s=5.0))


def test_crm_round_trip_with_parking_replay_and_the_delivery_log(
        portal: Portal, client: TestClient, receiver: Receiver) -> None:
    sub = client.post("/api/webhooks", json={"url": receiver.url,
                                             "record_types": ["case", "work_order"]}).json()
    receiver.secret = sub["secret"]
    worker = _worker(portal, max_attempts=2)
    # The CRM opens a case and retries the call: one case, so one case.created.
    body = {"device_id": portal.device("B").id, "title": "crm ticket 77"}
    for _ in range(2):
        client.post("/api/cases", json=body, headers={"Idempotency-Key": "crm-77"})
    worker.run_once()
    worker.run_once()  # the receiver is down: both heads fail twice and are parked
    listed = client.get(f"/api/webhooks/{sub['id']}").json()
    assert (listed["parked"], listed["delivered"]) == (2, 0)
    parked = client.get(f"/api/webhooks/{sub['id']}/deliveries",
                        params={"status": "parked"}).json()
    assert {d["event_type"] for d in parked} == {"case.created", "work_order.created"}
    assert all("refused" in d["last_error"] and d["attempts"] == 2 for d in parked)
    receiver.start()
    replayed = client.post(f"/api/webhooks/{sub['id']}/replay", json={"parked": True})
    assert replayed.status_code == 202 and replayed.json() == {"queued": 2}
    worker.run_once()
    got = receiver.got
    assert sorted(e["type"] for e in got.bodies.values()) == ["case.created",
                                                              "work_order.created"]
    assert got.bad_signatures == 0 and got.out_of_order == []
    log = client.get(f"/api/webhooks/{sub['id']}/attempts").json()
    assert [a["outcome"] for a in log].count("parked") == 2
    assert [a["status_code"] for a in log if a["outcome"] == "delivered"] == [200, 200]
    assert all(a["duration_ms"] >= 0 for a in log)
    # Replaying a range sends delivered events again under their ids: the receiver
    # deduplicates them.
    first = min(got.bodies)
    again = client.post(f"/api/webhooks/{sub['id']}/replay",
                        json={"from_event_id": first, "to_event_id": max(got.bodies)})
    assert again.json() == {"queued": 2}
    worker.run_once()
    assert got.duplicates == 2 and len(got.processed) == 2
