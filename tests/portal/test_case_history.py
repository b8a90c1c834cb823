"""Cases in the portal: the dispatcher's case API with SLA clocks and work orders, and
the customer's case history on the QR page (their device's cases only)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from portal_app import Portal
from sqlmodel import Session, select

from asset_registry.tables import Customer, Device, Site
from foundations.clock import now_ms
from foundations.database import session_scope
from service import sla
from service.cases import open_case
from service.tables import Case, WorkOrder, WorkOrderEvent

HOUR_MS = 3_600_000


def _level(portal: Portal, device: Device) -> str:
    with Session(portal.engine) as s:
        site = s.get(Site, device.site_id)
        assert site is not None
        customer = s.get(Customer, site.customer_id)
        assert customer is not None
        return customer.contract_level


def _open(portal: Portal, device: Device, title: str, source: str, at: int) -> tuple[int, int]:
    with session_scope(portal.engine) as s:
        case, order = open_case(s, device_id=device.id, source=source, title=title,
                                skill="water-treatment", duration_min=45, priority=3, at=at)
        assert case.id is not None and order.id is not None
        return case.id, order.id


def _finish(portal: Portal, order_id: int, engineer_id: str, at: int) -> None:
    """A visit given back once, then done (as the engineer app records them)."""
    with session_scope(portal.engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        order.engineer_id, order.status = engineer_id, "done"
        s.add(WorkOrderEvent(work_order_id=order_id, status="cannot_complete",
                             at=at - HOUR_MS, note=f"{engineer_id}: no access to the plant room"))
        s.add(WorkOrderEvent(work_order_id=order_id, status="done", at=at))
        case = s.get(Case, order.case_id)
        assert case is not None
        case.status = "closed"


def test_the_case_api_shows_sla_clocks_and_work_orders(portal: Portal,
                                                        client: TestClient) -> None:
    device = portal.device("A")
    terms = sla.policy_for(_level(portal, device)).terms(3)
    # Opened 80 % of the response time ago: the response clock is in its warning span.
    opened = now_ms() - int(0.8 * terms.response_h * HOUR_MS)
    case_id, order_id = _open(portal, device, "Leaking filter housing", "customer", opened)
    headers = portal.accounts["dispatcher"].headers

    listed = client.get("/api/cases", params={"device_id": device.id}, headers=headers).json()
    (case,) = [c for c in listed if c["id"] == case_id]
    assert case["sla_state"] == "warning" and case["source"] == "customer"
    assert case["sla_level"] == _level(portal, device)
    clocks = {c["name"]: c for c in case["clocks"]}
    assert clocks["response"]["due"] == opened + int(terms.response_h * HOUR_MS)
    assert clocks["response"]["state"] == "warning"
    assert clocks["resolution"]["state"] == "ok"
    warning = client.get("/api/cases", params={"sla": "warning"}, headers=headers).json()
    assert case_id in {c["id"] for c in warning}
    assert client.get("/api/cases", params={"sla": "breached"}, headers=headers).json() == []

    detail = client.get(f"/api/cases/{case_id}", headers=headers).json()
    (order,) = detail["work_orders"]
    assert order["id"] == order_id and order["sla_due"] == clocks["response"]["due"]
    assert [e["status"] for e in order["events"]] == ["new"]
    assert client.get("/api/cases/999999", headers=headers).status_code == 404
    engineer = portal.accounts["engineer_own"].headers
    assert client.get("/api/cases", headers=engineer).status_code == 403


def test_the_customer_sees_their_devices_cases_and_nothing_of_others(
        portal: Portal, client: TestClient) -> None:
    a, b = portal.device("A"), portal.device("B")
    at = now_ms() - 48 * HOUR_MS
    _, done = _open(portal, a, "Customer report: Leak", "customer", at)
    engineer = portal.fleet.engineers[0]
    _finish(portal, done, engineer.id, at + 5 * HOUR_MS)
    _open(portal, a, "Preventive maintenance: replace filter cartridges", "maintenance", at)
    _open(portal, b, "Someone else's broken chiller", "customer", at)

    page = client.get(f"/q/{portal.tokens[a.id]}").text
    history = page[page.index('id="cases"'):page.index('id="history"')]
    assert "Customer report: Leak" in history and "Reported by you" in history
    assert "Preventive maintenance: replace filter cartridges" in history
    assert "Planned maintenance" in history and "Open" in history and "Closed" in history
    assert "Repair done" in history and engineer.name.split()[0] in history
    assert "no access to the plant room" in history  # why a visit could not be completed
    assert "Someone else's broken chiller" not in page
    assert engineer.name not in page and engineer.id not in page and b.serial not in page
    with Session(portal.engine) as s:
        others = s.exec(select(Case.id).where(Case.device_id != a.id)).all()
    assert all(f'data-case="{case_id}"' not in page for case_id in others)
