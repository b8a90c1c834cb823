"""The opportunities API: filters, offer, accept (one work order, replan requested),
decline, refusals, and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.catalog import load_models
from foundations.database import session_scope
from portal.app import create_app
from portal.auth.tables import AuditEvent
from portal.context import PortalContext
from sales.tables import Opportunity
from service.tables import WorkOrder
from simulators.fleet import Fleet
from support import make_account


@pytest.fixture
def api(engine: Engine) -> Iterator[tuple[TestClient, list[int]]]:
    replans: list[int] = []
    ctx = PortalContext(engine=engine, models=load_models(),
                        request_replan=lambda: replans.append(1))
    account = make_account(engine, "dispatcher")
    with TestClient(create_app(ctx), headers=account.headers) as client:
        yield client, replans


def new_opportunity(engine: Engine, fleet: Fleet, n: int, kind: str = "consumable") -> int:
    device = [d for d in fleet.devices if d.model_id == "aquapure-ro500"][n]
    customer = next(s.customer_id for s in fleet.sites if s.id == device.site_id)
    with session_scope(engine) as session:
        opp = Opportunity(device_id=device.id, customer_id=customer, kind=kind,
                          product="RO membrane filter kit" if kind == "consumable"
                          else "AquaPure RO-700 upgrade", predicted_date=5,
                          reason="test", owner="miriam.keller@sales.example.com",
                          created_at=1, updated_at=1)
        session.add(opp)
        session.flush()
        assert opp.id is not None
        return opp.id


def test_accepting_opens_one_work_order_and_asks_for_a_plan(api, engine, fleet):
    client, replans = api
    consumable = new_opportunity(engine, fleet, 0)
    upgrade = new_opportunity(engine, fleet, 1, "upgrade")
    listed = client.get("/api/opportunities", params={"status": "active", "kind": "upgrade"})
    assert [o["id"] for o in listed.json()] == [upgrade]
    assert client.post(f"/api/opportunities/{consumable}/offer").json()["status"] == "offered"
    answer = client.post(f"/api/opportunities/{consumable}/accept", json={"note": "ok"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "accepted" and body["work_order_id"] is not None
    assert replans == [1]
    again = client.post(f"/api/opportunities/{consumable}/accept")
    assert again.status_code == 409
    installed = client.post(f"/api/opportunities/{upgrade}/accept").json()
    with Session(engine) as session:
        orders = {o.id: o for o in session.exec(select(WorkOrder))}
        audit = [e.action for e in session.exec(select(AuditEvent))
                 if e.target.startswith("opportunity:")]
    assert set(orders) == {body["work_order_id"], installed["work_order_id"]}
    # An installation takes longer than fitting a filter.
    assert orders[installed["work_order_id"]].duration_min > \
        orders[body["work_order_id"]].duration_min
    assert audit == ["opportunity.offer", "opportunity.accept", "opportunity.accept"]


def test_a_declined_offer_cannot_be_accepted_and_unknown_ones_are_404(api, engine, fleet):
    client, replans = api
    opp = new_opportunity(engine, fleet, 0)
    assert client.post(f"/api/opportunities/{opp}/decline",
                       json={"note": "has a contract"}).json()["status"] == "declined"
    assert client.post(f"/api/opportunities/{opp}/accept").status_code == 409
    assert client.get("/api/opportunities/999999").status_code == 404
    assert replans == []
