"""Reviewing a plan before it takes effect, through the API: propose, read what
would change, accept (or be told why not), discard; each step in the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal, build_portal
from sqlmodel import Session, select

from dispatch.dispatcher import Dispatcher
from foundations.database import session_scope
from portal.auth.tables import AuditEvent
from service.cases import open_case
from service.tables import Engineer, WorkOrder
from simulators.fleet import generate_fleet

TZ = ZoneInfo("Europe/Berlin")
AT_MS = int(datetime(2026, 3, 3, 9, 0, tzinfo=TZ).timestamp() * 1000)  # a Tuesday morning


@pytest.fixture
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    portal = build_portal(tmp_path_factory.mktemp("review"), generate_fleet(seed=3, sites=4))
    portal.app.state.ctx.dispatcher = Dispatcher(portal.engine, TZ, time_limit_s=0.5,
                                                 clock=lambda: AT_MS)
    return portal


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app) as client:
        client.headers.update(portal.accounts["dispatcher"].headers)
        yield client


def _open_jobs(portal: Portal, count: int) -> list[int]:
    with session_scope(portal.engine) as s:
        skill = s.exec(select(Engineer.skills)).first()
        assert skill
        ids = []
        for device in portal.fleet.devices[:count]:
            _, order = open_case(s, device_id=device.id, source="api", title="check",
                                 skill=skill.split(",")[0], duration_min=30, priority=3,
                                 at=AT_MS)
            ids.append(order.id)
    return ids


def _actions(portal: Portal) -> list[str]:
    with Session(portal.engine) as s:
        return [e.action for e in s.exec(select(AuditEvent).order_by(AuditEvent.id))
                if e.action.startswith("plan.")]


def test_the_proposal_shows_each_change_with_etas_and_accepting_stores_it(
        portal: Portal, client: TestClient) -> None:
    jobs = _open_jobs(portal, 3)

    made = client.post("/api/plans/proposals")

    assert made.status_code == 201, made.text
    proposal = made.json()
    assert proposal["before"]["assigned"] == 0 and proposal["after"]["assigned"] == 3
    assert proposal["after"]["travel_h"] > 0
    added = {s["work_order_id"]: s for c in proposal["changes"] for s in c["added"]}
    assert set(added) == set(jobs)
    assert all(s["eta_before"] is None and s["eta_after"] > AT_MS for s in added.values())
    assert all(c["name"] for c in proposal["changes"])  # engineers by name
    # Nothing has changed yet.
    with Session(portal.engine) as s:
        assert all(s.get(WorkOrder, j).engineer_id is None for j in jobs)  # type: ignore[union-attr]
    assert client.get("/api/plans/proposals").json()[0]["id"] == proposal["id"]
    assert client.get(f"/api/plans/proposals/{proposal['id']}").json() == proposal

    accepted = client.post(f"/api/plans/proposals/{proposal['id']}/accept")

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["assigned"] == 3
    with Session(portal.engine) as s:
        for job in jobs:
            order = s.get(WorkOrder, job)
            assert order is not None and order.eta == added[job]["eta_after"]
    again = client.post(f"/api/plans/proposals/{proposal['id']}/accept")
    assert again.status_code == 404 and "propose again" in again.json()["detail"]
    assert _actions(portal) == ["plan.propose", "plan.accept"]


def test_a_stale_proposal_is_refused_with_what_changed(
        portal: Portal, client: TestClient) -> None:
    _open_jobs(portal, 1)
    proposal = client.post("/api/plans/proposals").json()
    with session_scope(portal.engine) as s:
        order = s.exec(select(WorkOrder)).first()
        assert order is not None
        order.priority = 5
        s.add(order)
        changed = order.id

    refused = client.post(f"/api/plans/proposals/{proposal['id']}/accept")

    assert refused.status_code == 409
    assert f"#{changed}" in refused.json()["detail"]
    assert "propose again" in refused.json()["detail"]
    assert client.get("/api/plans/proposals").json() == []
    assert _actions(portal) == ["plan.propose", "plan.refused"]


def test_a_discarded_proposal_is_gone(portal: Portal, client: TestClient) -> None:
    proposal = client.post("/api/plans/proposals").json()
    assert client.delete(f"/api/plans/proposals/{proposal['id']}").status_code == 204
    assert client.delete(f"/api/plans/proposals/{proposal['id']}").status_code == 404
    assert client.get(f"/api/plans/proposals/{proposal['id']}").status_code == 404


def test_without_a_dispatcher_in_the_process_the_answer_says_so(
        portal: Portal, client: TestClient) -> None:
    portal.app.state.ctx.dispatcher = None
    answer = client.post("/api/plans/proposals")
    assert answer.status_code == 503 and "dispatcher" in answer.json()["detail"]
