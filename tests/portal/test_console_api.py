"""The dispatcher console's API: map filters and search, a device's 24 h series,
alert assignment and alert -> work order, routes, running the dispatcher,
pinning a job, and the nearest qualified engineers for one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal, build_portal
from sqlmodel import Session, select

from dispatch.planning import replan
from foundations.database import session_scope
from ingest.checks import AcceptedReading
from ingest.telemetry_store import StoredBatch
from portal.auth.tables import AuditEvent, PortalUser
from portal.routers.devices import step_for
from rules.tables import Alert
from service.tables import Case, Engineer, WorkOrder
from simulators.fleet import generate_fleet

HOUR = 3_600_000


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return build_portal(tmp_path_factory.mktemp("console"), generate_fleet(seed=7, sites=6))


@pytest.fixture
def replans(portal: Portal) -> Iterator[list[int]]:
    """Counts the replans the portal asks for."""
    asked: list[int] = []
    ctx = portal.app.state.ctx
    before, ctx.request_replan = ctx.request_replan, lambda: asked.append(1)
    yield asked
    ctx.request_replan = before


@pytest.fixture
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app) as client:
        client.headers.update(portal.accounts["dispatcher"].headers)
        yield client


def _audit(portal: Portal, action: str) -> list[AuditEvent]:
    with Session(portal.engine) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == action)))


# -- the map's filters and search -------------------------------------------------------

def test_device_filters_narrow_the_map_and_default_to_everything(
        portal: Portal, client: TestClient) -> None:
    fleet = portal.fleet
    everything = client.get("/api/devices").json()
    assert [d["id"] for d in everything] == sorted(d.id for d in fleet.devices)
    model = fleet.devices[0].model_id
    assert {d["id"] for d in client.get(f"/api/devices?model={model}").json()} == {
        d.id for d in fleet.devices if d.model_id == model}
    customer = fleet.sites[0].customer_id
    sites = {s.id for s in fleet.sites if s.customer_id == customer}
    assert {d["id"] for d in client.get(f"/api/devices?customer={customer}").json()} == {
        d.id for d in fleet.devices if d.site_id in sites}
    # Online state: every imported device starts offline.
    assert len(client.get("/api/devices?online=false").json()) == len(fleet.devices)
    assert client.get("/api/devices?online=true").json() == []


def test_search_matches_serial_or_customer_name_case_insensitively(
        portal: Portal, client: TestClient) -> None:
    device = portal.fleet.devices[3]
    by_serial = client.get("/api/devices", params={"q": device.serial[-6:].lower()}).json()
    assert device.id in {d["id"] for d in by_serial}
    assert all(device.serial[-6:].lower() in d["serial"].lower()
               or device.serial[-6:].lower() in d["customer_name"].lower() for d in by_serial)
    name = portal.fleet.customers[0].name
    by_name = client.get("/api/devices", params={"q": name.upper()[1:8]}).json()
    assert by_name and all(name.upper()[1:8] in d["customer_name"].upper() or
                           name.upper()[1:8] in d["serial"].upper() for d in by_name)
    # A LIKE wildcard typed into the box is a literal character, not "anything".
    assert client.get("/api/devices", params={"q": "%"}).json() == []
    assert client.get("/api/devices", params={"q": "_"}).json() == []


def test_severity_filter_uses_the_worst_open_alert(portal: Portal, client: TestClient) -> None:
    device = portal.fleet.devices[5].id
    alert_id = portal.new_alert(device)  # high
    with session_scope(portal.engine) as s:
        s.add(Alert(device_id=device, rule_id=f"test-low-{alert_id}", metric="tds_ppm",
                    severity="low", message="low one", raised_at=1, raised_value=1.0))
    high = client.get("/api/devices?severity=high").json()
    assert device in {d["id"] for d in high}
    mine = next(d for d in high if d["id"] == device)
    assert mine["worst_severity"] == "high" and mine["open_alerts"] == 2
    assert device not in {d["id"] for d in client.get("/api/devices?severity=low").json()}
    assert device not in {d["id"] for d in client.get("/api/devices?severity=ok").json()}
    client.post(f"/api/alerts/{alert_id}/close", json={"by": "t"}).raise_for_status()


def test_an_anomaly_alert_shows_the_metrics_behind_it_in_the_inbox(
        portal: Portal, client: TestClient) -> None:
    device = portal.fleet.devices[6].id
    explanation = {"channel": "sustained", "score": 0.81, "contributions": [
        {"metric": "tds_ppm", "share": 0.7, "deviation": 4.2},
        {"metric": "inlet_pressure_bar", "share": 0.3, "deviation": 1.8}]}
    with session_scope(portal.engine) as s:
        alert = Alert(device_id=device, rule_id="test-unusual", metric="", severity="medium",
                      message="unlike normal operation", raised_at=1, raised_value=0.81,
                      explanation=explanation)
        s.add(alert)
        s.flush()
        alert_id = alert.id
    inbox = {a["id"]: a for a in client.get("/api/alerts?state=open").json()}
    assert inbox[alert_id]["explanation"] == explanation
    others = [a for a in inbox.values() if a["id"] != alert_id]
    assert all(a["explanation"] is None for a in others if a["rule_id"] != "test-unusual")
    client.post(f"/api/alerts/{alert_id}/close", json={"by": "t"}).raise_for_status()


# -- the device panel's chart ------------------------------------------------------------

def test_series_buckets_the_last_24_hours_from_the_telemetry_store(
        portal: Portal, client: TestClient) -> None:
    device = next(d for d in portal.fleet.devices if d.model_id == "aquapure-ro500")
    now = int(time.time() * 1000)
    values = {now - 30 * HOUR: 999.0,  # older than the window: left out
              now - 5 * HOUR: 100.0, now - 5 * HOUR + 1000: 140.0, now - HOUR: 80.0}
    readings = [AcceptedReading(device.id, device.model_id, ts, {"tds_ppm": v})
                for ts, v in values.items()]
    store = portal.app.state.ctx.telemetry
    with portal.engine.begin() as conn:
        store.write(conn, [StoredBatch(device.gateway_id, readings)])
    body = client.get(f"/api/devices/{device.id}/series",
                      params={"metric": "tds_ppm", "hours": 24}).json()
    assert body["step_ms"] == step_for(24) and body["unit"] == "ppm"
    assert body["end"] - body["start"] >= 24 * HOUR
    buckets = body["buckets"]
    assert sum(b["n"] for b in buckets) == 3
    first = next(b for b in buckets if b["start"] <= now - 5 * HOUR < b["start"] + body["step_ms"])
    if first["n"] == 2:  # both readings fell into one bucket
        assert (first["min"], first["max"], first["mean"]) == (100.0, 140.0, 120.0)
    assert max(b["max"] for b in buckets) == 140.0 and min(b["min"] for b in buckets) == 80.0


def test_series_refuses_an_unknown_device_or_metric(portal: Portal, client: TestClient) -> None:
    device = portal.fleet.devices[0]
    unknown = client.get("/api/devices/dev-nope/series?metric=tds_ppm")
    assert unknown.status_code == 404 and "no device" in unknown.json()["detail"]
    wrong = client.get(f"/api/devices/{device.id}/series?metric=colour")
    assert wrong.status_code == 404 and "no metric 'colour'" in wrong.json()["detail"]
    assert client.get(f"/api/devices/{device.id}/series?metric=x&hours=0").status_code == 422


# -- the alert inbox ------------------------------------------------------------------

def test_assigning_an_alert_names_a_real_user_and_shows_in_the_inbox(
        portal: Portal, client: TestClient) -> None:
    alert_id = portal.new_alert(portal.fleet.devices[1].id)
    refused = client.post(f"/api/alerts/{alert_id}/assign", json={"to": "nobody-here"})
    assert refused.status_code == 422 and "nobody-here" in refused.json()["detail"]
    assert client.post(f"/api/alerts/{alert_id}/assign",
                       json={"to": "admin-test"}).status_code == 200
    assert client.post(f"/api/alerts/{alert_id}/assign",
                       json={"to": "dispatcher-test"}).json()["assigned_to"] == "dispatcher-test"
    inbox = {a["id"]: a for a in client.get("/api/alerts?state=open").json()}
    assert inbox[alert_id]["assigned_to"] == "dispatcher-test"  # the latest one wins
    assert any(e.target == f"alert:{alert_id}" for e in _audit(portal, "alert.assign"))
    client.post(f"/api/alerts/{alert_id}/close", json={"by": "t"}).raise_for_status()
    closed = client.post(f"/api/alerts/{alert_id}/assign", json={"to": "admin-test"})
    assert closed.status_code == 409


def test_alerts_go_only_to_active_dispatchers_and_admins(
        portal: Portal, client: TestClient) -> None:
    """The same people the inbox's picker offers (GET /api/assignees)."""
    alert_id = portal.new_alert(portal.fleet.devices[1].id)
    engineer = portal.accounts["engineer_own"].username
    gone = portal.new_login().username
    with session_scope(portal.engine) as s:
        user = s.exec(select(PortalUser).where(PortalUser.username == gone)).one()
        user.disabled = True
        s.add(user)
    offered = {a["username"] for a in client.get("/api/assignees").json()}
    assert engineer not in offered and gone not in offered and "dispatcher-test" in offered
    for name in (engineer, gone):
        refused = client.post(f"/api/alerts/{alert_id}/assign", json={"to": name})
        assert refused.status_code == 422 and "cannot take alerts" in refused.json()["detail"]


def test_an_alert_becomes_a_case_with_a_work_order_once(
        portal: Portal, client: TestClient, replans: list[int]) -> None:
    device = next(d for d in portal.fleet.devices if d.model_id == "aquapure-ro500")
    alert_id = portal.new_alert(device.id)  # high -> priority 4
    response = client.post(f"/api/alerts/{alert_id}/work-order", json={"note": "call first"})
    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["device_id"], order["priority"], order["status"]) == (device.id, 4, "new")
    assert order["skill"] == portal.app.state.ctx.models[device.model_id].service_skill
    with Session(portal.engine) as s:
        case = s.get(Case, order["case_id"])
        alert = s.get(Alert, alert_id)
    assert case is not None and case.alert_id == alert_id and case.description == "call first"
    assert alert is not None and alert.case_id == case.id
    assert replans == [1]
    again = client.post(f"/api/alerts/{alert_id}/work-order", json={})
    assert again.status_code == 409 and f"case {case.id}" in again.json()["detail"]
    assert any(e.target == f"alert:{alert_id}" for e in _audit(portal, "alert.work_order"))
    missing = client.post("/api/alerts/999999/work-order", json={})
    assert missing.status_code == 404


# -- the plan view -----------------------------------------------------------------------

def _qualified(portal: Portal, skill: str) -> list[str]:
    with Session(portal.engine) as s:
        return [e.id for e in s.exec(select(Engineer).order_by(Engineer.id))
                if skill in e.skill_set()]


def test_run_dispatcher_asks_for_a_plan(portal: Portal, client: TestClient,
                                        replans: list[int]) -> None:
    response = client.post("/api/plans")
    assert response.status_code == 202 and response.json()["requested"] is True
    assert replans == [1]


def test_pinning_reassigns_a_job_and_the_next_plan_keeps_it(
        portal: Portal, client: TestClient, replans: list[int]) -> None:
    device = portal.device("B")
    order_id = portal.new_job(device.id, portal.engineer_id("other"), status="new")
    with Session(portal.engine) as s:
        skill = s.get(WorkOrder, order_id).skill
    target = next(e for e in _qualified(portal, skill) if e != portal.engineer_id("other"))
    unknown = client.put(f"/api/work-orders/{order_id}/pin", json={"engineer_id": "eng-nope"})
    assert unknown.status_code == 422
    pinned = client.put(f"/api/work-orders/{order_id}/pin", json={"engineer_id": target})
    assert pinned.status_code == 200 and pinned.json()["pinned_engineer_id"] == target
    assert replans == [1]
    # Planned from late morning, when every engineer is on shift (whatever the time now).
    tz = portal.app.state.ctx.tz
    late_morning = datetime.now(tz).replace(hour=11, minute=0, second=0, microsecond=0)
    replan(portal.engine, tz, time_limit_s=1.0, at_ms=int(late_morning.timestamp() * 1000))
    with Session(portal.engine) as s:
        order = s.get(WorkOrder, order_id)
    assert order.engineer_id == target, order.unassigned_reason
    routes = {r["engineer_id"]: r for r in client.get("/api/plans/routes").json()}
    stops = routes[target]["stops"]
    assert order_id in [s["work_order_id"] for s in stops]
    assert [s["eta"] for s in stops] == sorted(s["eta"] for s in stops)
    assert next(s for s in stops if s["work_order_id"] == order_id)["pinned"] is True
    # Released: the pin is gone; a finished job cannot be pinned any more.
    released = client.put(f"/api/work-orders/{order_id}/pin", json={})
    assert released.json()["pinned_engineer_id"] is None
    done = portal.new_job(device.id, target, status="done")
    assert client.put(f"/api/work-orders/{done}/pin", json={"engineer_id": target}
                      ).status_code == 409
    assert any(e.target == f"work_order:{order_id}" for e in _audit(portal, "work_order.pin"))


def test_candidates_are_the_qualified_engineers_nearest_arrival_first(
        portal: Portal, client: TestClient) -> None:
    order_id = portal.new_job(portal.device("A").id, portal.engineer_id("own"), status="new")
    with Session(portal.engine) as s:
        skill = s.get(WorkOrder, order_id).skill
    before = int(time.time() * 1000)
    found = client.get(f"/api/work-orders/{order_id}/candidates").json()
    assert found, "the fleet has engineers with the skill"
    assert {c["engineer_id"] for c in found} <= set(_qualified(portal, skill))
    etas = [c["eta"] for c in found if c["eta"] is not None]
    assert etas == sorted(etas) and all(eta >= before for eta in etas)
    assert all(c["name"] and c["drive_s"] >= 0 for c in found)
    done = portal.new_job(portal.device("A").id, portal.engineer_id("own"), status="done")
    refused = client.get(f"/api/work-orders/{done}/candidates")
    assert refused.status_code == 409 and "not open" in refused.json()["detail"]
    assert client.get("/api/work-orders/999999/candidates").status_code == 404


def test_console_api_needs_a_dispatcher(portal: Portal) -> None:
    with TestClient(portal.app) as client:
        client.headers.update(portal.accounts["engineer_own"].headers)
        assert client.post("/api/plans").status_code == 403
        assert client.get("/api/plans/routes").status_code == 403


def test_work_orders_carry_their_case_response_clock(portal: Portal, client: TestClient) -> None:
    """The console marks each open job with when the engineer must be on site."""
    order_id = portal.new_job(portal.device("A").id, portal.engineer_id("own"), status="new")
    with Session(portal.engine) as s:
        order = s.get(WorkOrder, order_id)
        case = s.get(Case, order.case_id)
        assert case is not None and case.response_due is not None
    listed = {w["id"]: w for w in client.get("/api/work-orders").json()}
    assert listed[order_id]["sla_due"] == case.response_due
