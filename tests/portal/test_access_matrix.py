"""Who may call what: every route of the portal, for every kind of caller.

Callers: anonymous; admin, dispatcher and two engineers by API token (the target
engineer's own account, and another engineer's); and a customer holding device
A's QR token, who sends it wherever a credential can go (the /q/ path, the
Authorization header) while the target is another customer's device B.
A route missing from ROUTES fails `test_every_route_is_classified`.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from portal_app import PNG, Portal, build_portal
from sqlmodel import Session, select
from starlette.routing import BaseRoute, Mount, Route

from foundations.database import session_scope
from integrations.webhooks import subscriptions
from portal.auth.dependencies import CSRF_COOKIE
from service.tables import WorkOrder
from service.visit_links import visit_token
from simulators.fleet import generate_fleet

CALLERS = ("anonymous", "admin", "dispatcher", "engineer_own", "engineer_other", "customer_a")
LOGIN = "login"  # expected: 303 to /login?next=... (a browser without a session)


@dataclass
class Call:
    method: str
    url: str
    json: Any = None
    form: dict[str, str] | None = None
    csrf: bool = False  # send a double-submit CSRF cookie and field (public forms)
    files: dict[str, tuple[str, bytes, str]] | None = None
    ok_location: str | None = None  # where an allowed 303 must lead


@dataclass
class Rule:
    build: Callable[[Portal, str], Call]
    expect: dict[str, int | str]
    # For the customer's own pages: strings that must not appear in the answer.
    no_leaks: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def everyone(status: int | str) -> dict[str, int | str]:
    return dict.fromkeys(CALLERS, status)


def roles(ok: int, allowed: tuple[str, ...], page: bool = False,
          denied_engineer: int = 403) -> dict[str, int | str]:
    expect: dict[str, int | str] = {"anonymous": LOGIN if page else 401, "customer_a": 401}
    for role in ("admin", "dispatcher", "engineer_own", "engineer_other"):
        base = role.removesuffix("_own").removesuffix("_other")
        expect[role] = ok if base in allowed or role in allowed else (
            denied_engineer if base == "engineer" else 403)
    return expect


STAFF = ("admin", "dispatcher")
ALL = ("admin", "dispatcher", "engineer")
OWN = (*STAFF, "engineer_own")  # an engineer's own jobs; staff may see anyone's


def _visit_token(portal: Portal, caller: str) -> str:
    # The customer holds the link of their visit (the "on the way" e-mail's); no
    # account makes a wrong token work.
    if caller != "customer_a":
        return "not-a-visit-token"
    order_id = portal.new_job(portal.device("A").id, portal.engineer_id("own"), "en_route")
    with session_scope(portal.engine) as session:
        return visit_token(session, order_id, 1)


def _qr_token(portal: Portal, caller: str) -> str:
    # The customer holds A's code; no account gives access to any device's page.
    return portal.tokens[portal.device("A").id] if caller == "customer_a" \
        else secrets.token_urlsafe(16)


def _proposal(portal: Portal) -> int:
    dispatcher = portal.app.state.ctx.dispatcher
    return dispatcher.propose().id


def _b(portal: Portal) -> str:
    return portal.device("B").id


def _own_job(portal: Portal, status: str = "assigned") -> int:
    """A fresh job of the 'engineer_own' account's engineer."""
    return portal.new_job(_b(portal), portal.engineer_id("own"), status)


def _case(portal: Portal) -> int:
    """The case of a fresh job."""
    with Session(portal.engine) as session:
        order = session.get(WorkOrder, _own_job(portal))
        assert order is not None
        return order.case_id


def _first_metric(portal: Portal) -> str:
    return next(iter(portal.app.state.ctx.models[portal.device("B").model_id].attributes))


def _webhook(portal: Portal) -> int:
    """A fresh webhook subscription (to a port nothing listens on)."""
    with session_scope(portal.engine) as session:
        sub = subscriptions.create(session, url="http://127.0.0.1:9/hook", record_types=[],
                                   event_types=[], description="matrix", by="matrix")
        assert sub.id is not None
        return sub.id


def _opportunity(portal: Portal) -> int:
    """A fresh open sales opportunity on device B (its own product: one active each)."""
    from foundations.database import session_scope
    from sales.tables import Opportunity

    device = portal.device("B")
    customer = next(s.customer_id for s in portal.fleet.sites if s.id == device.site_id)
    with session_scope(portal.engine) as session:
        opp = Opportunity(device_id=device.id, customer_id=customer, kind="consumable",
                          product=f"kit-{portal.next_serial()}", predicted_date=1,
                          reason="matrix", created_at=1, updated_at=1)
        session.add(opp)
        session.flush()
        assert opp.id is not None
        return opp.id


def _read_now(p: Portal) -> dict[str, Any]:
    """A read-only diagnostic of device B, which the 'engineer_own' account has a job on."""
    _own_job(p)
    return {"command": "read_now", "params": {"metrics": [_first_metric(p)]}}


def _command(portal: Portal) -> str:
    """A fresh command to device B (on a job of the 'engineer_own' account's engineer)."""
    from commands.service import Caller, create_command

    _own_job(portal)
    with session_scope(portal.engine) as session:
        return create_command(session, portal.app.state.ctx.models,
                              Caller("dispatcher-test", "dispatcher"), _b(portal), "read_now",
                              {"metrics": [_first_metric(portal)]}, 60, 1).id


def _rollout(portal: Portal) -> int:
    """A fresh configuration rollout of torrent-cp75, after an earlier one (so it can be
    rolled back)."""
    from commands.rollouts import start_rollout

    with session_scope(portal.engine) as session:
        for period in (30.0, 20.0):
            rollout = start_rollout(session, portal.app.state.ctx.models, "torrent-cp75",
                                    {"sample_period_s": period, "batch_max_readings": 100,
                                     "batch_max_age_s": 5.0}, "matrix", 1)
        assert rollout.id is not None
        return rollout.id

def _settled_job(portal: Portal) -> int:
    """A job of the 'own' engineer settled at the door (labour only), its report stored."""
    from zoneinfo import ZoneInfo

    from service import service_report
    from service.job_reports import sign_off
    from service.settlement import settle

    order_id = _own_job(portal, "on_site")
    folder = portal.uploads_dir / "work-orders" / str(order_id)
    folder.mkdir(parents=True, exist_ok=True)
    with session_scope(portal.engine) as session:
        order = session.get(WorkOrder, order_id)
        assert order is not None
        sign_off(session, order, "Ms Customer", "signature.png", 1)
        model = portal.app.state.ctx.models[portal.device("B").model_id]
        settlement, facts = settle(session, order, model, [], 30, by="matrix", at=2,
                                   tz=ZoneInfo("UTC"))
        (folder / settlement.report_file).write_bytes(service_report.render(facts, None))
    return order_id


def _case_file(portal: Portal) -> str:
    """A fresh case with one stored file: its URL."""
    from service.tables import CaseAttachment

    case_id = _case(portal)
    folder = portal.uploads_dir / "cases" / str(case_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leak.png").write_bytes(PNG)
    with session_scope(portal.engine) as session:
        session.add(CaseAttachment(case_id=case_id, file_name="leak.png",
                                   content_type="image/png", uploaded_at=1))
    return f"/api/cases/{case_id}/files/leak.png"


def _new_part(portal: Portal) -> str:
    """A fresh part of the catalogue, written by the admin: its number."""
    number = f"MX-{portal.next_serial()}"
    made = TestClient(portal.app).post("/api/parts", headers=portal.accounts["admin"].headers,
                                       json=_part_body(number))
    assert made.status_code == 201, made.text
    return number


def _part_body(number: str | None = None) -> dict[str, Any]:
    return {**({"number": number} if number else {}), "name": "Matrix part",
            "price_cents": 100, "model_ids": ["aquapure-ro500"],
            "needs": [{"model_id": "aquapure-ro500", "need": "fault:Leak", "qty": 1}]}


def _warehouse(portal: Portal) -> str:
    """A fresh warehouse."""
    from service.stock_tables import StockLocation

    place = f"wh-matrix-{portal.next_serial()}"
    with session_scope(portal.engine) as session:
        session.add(StockLocation(id=place, kind="warehouse", name="Matrix", lat=48.1,
                                  lon=11.5))
    return place


def _article(portal: Portal, audience: str = "customer") -> int:
    """A published article for device A's model (for customers by default)."""
    from knowledge.tables import Article

    model = portal.device("A").model_id
    with Session(portal.engine) as session:
        return next(a.id for a in session.exec(select(Article))
                    if f",{model}," in a.models and f",{audience}," in a.audience)


def _article_in(portal: Portal) -> dict[str, Any]:
    return {"slug": f"matrix-{portal.next_serial()}", "title": "Matrix", "body": "1. Step.\n"}



def _matrix_edit(portal: Portal, article_id: int) -> dict[str, Any]:
    """The article as it is, with a new line: its next version."""
    from knowledge.tables import Article

    with Session(portal.engine) as session:
        a = session.get(Article, article_id)
        assert a is not None
        return {"slug": a.slug, "title": a.title, "body": f"{a.body}\nEdit {portal.next_serial()}.",
                "models": [m for m in a.models.split(",") if m],
                "audience": [x for x in a.audience.split(",") if x]}

def get(path: str | Callable[[Portal], str]) -> Callable[[Portal, str], Call]:
    return lambda p, _c: Call("GET", path(p) if callable(path) else path)


ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule(get("/healthz"), everyone(200)),
    ("GET", "/api/devices"): Rule(get("/api/devices"), roles(200, STAFF)),
    ("GET", "/api/devices/{device_id}"): Rule(
        get(lambda p: f"/api/devices/{_b(p)}"), roles(200, STAFF)),
    ("GET", "/api/devices/{device_id}/gaps"): Rule(
        get(lambda p: f"/api/devices/{_b(p)}/gaps"), roles(200, STAFF)),
    ("GET", "/api/alerts"): Rule(get("/api/alerts"), roles(200, STAFF)),
    ("GET", "/api/alerts/{alert_id}/events"): Rule(
        get(lambda p: f"/api/alerts/{p.new_alert(_b(p))}/events"), roles(200, STAFF)),
    # Commands to devices: engineers run read-only diagnostics on their own jobs' devices.
    ("POST", "/api/devices/{device_id}/commands"): Rule(
        lambda p, _c: Call("POST", f"/api/devices/{_b(p)}/commands", json=_read_now(p)),
        roles(201, OWN)),
    ("GET", "/api/devices/{device_id}/commands"): Rule(
        get(lambda p: f"/api/devices/{_b(p)}/commands"), roles(200, OWN)),
    ("GET", "/api/devices/{device_id}/command-specs"): Rule(
        get(lambda p: f"/api/devices/{_b(p)}/command-specs"), roles(200, OWN)),
    ("GET", "/api/commands/{command_id}"): Rule(
        get(lambda p: f"/api/commands/{_command(p)}"), roles(200, OWN)),
    # Configuration rollouts: dispatchers and admins.
    ("POST", "/api/models/{model_id}/config-rollouts"): Rule(
        lambda p, _c: Call("POST", "/api/models/torrent-cp75/config-rollouts",
                           json={"sample_period_s": 30}), roles(201, STAFF)),
    ("GET", "/api/config-rollouts/{rollout_id}"): Rule(
        get(lambda p: f"/api/config-rollouts/{_rollout(p)}"), roles(200, STAFF)),
    ("POST", "/api/config-rollouts/{rollout_id}/rollback"): Rule(
        lambda p, _c: Call("POST", f"/api/config-rollouts/{_rollout(p)}/rollback"),
        roles(201, STAFF)),
    ("GET", "/api/work-orders"): Rule(get("/api/work-orders"), roles(200, ALL)),
    ("GET", "/api/engineers"): Rule(get("/api/engineers"), roles(200, STAFF)),
    ("GET", "/api/dead-letters"): Rule(get("/api/dead-letters"), roles(200, ("admin",))),
    ("GET", "/api/ingest/stats"): Rule(get("/api/ingest/stats"), roles(200, ("admin",))),
    **{("POST", f"/api/alerts/{{alert_id}}/{action}"): Rule(
        lambda p, _c, action=action: Call(
            "POST", f"/api/alerts/{p.new_alert(_b(p))}/{action}",
            json={"by": "someone", "note": "matrix"}),
        roles(200, STAFF)) for action in ("acknowledge", "close", "comment")},
    ("GET", "/api/models/{model_id}/rules"): Rule(
        get("/api/models/torrent-cp75/rules"), roles(200, STAFF)),
    ("PUT", "/api/models/{model_id}/rules"): Rule(
        lambda p, _c: Call("PUT", "/api/models/torrent-cp75/rules",
                           json=p.app.state.ctx.rules.rules_of("torrent-cp75")[1]),
        roles(200, ("admin",))),
    ("GET", "/api/me"): Rule(get("/api/me"), roles(200, ALL)),
    ("POST", "/api/tokens"): Rule(
        lambda p, _c: Call("POST", "/api/tokens", json={"name": "matrix"}), roles(201, ALL)),
    # Someone else's token: an admin revokes it, anyone else learns nothing (404).
    ("DELETE", "/api/tokens/{token_id}"): Rule(
        lambda p, _c: Call("DELETE", f"/api/tokens/{p.new_token_of('admin-test')}"),
        roles(204, ("admin",)) | {"dispatcher": 404, "engineer_own": 404,
                                  "engineer_other": 404}),
    ("GET", "/api/users"): Rule(get("/api/users"), roles(200, ("admin",))),
    ("POST", "/api/users"): Rule(
        lambda p, _c: Call("POST", "/api/users", json={
            "username": f"new-{p.next_serial()}", "role": "dispatcher"}),
        roles(201, ("admin",))),
    # User management: each call changes a fresh user, never the callers' own accounts.
    ("PUT", "/api/users/{username}/role"): Rule(
        lambda p, _c: Call("PUT", f"/api/users/{p.new_login().username}/role",
                           json={"role": "dispatcher"}), roles(200, ("admin",))),
    ("PUT", "/api/users/{username}/language"): Rule(
        lambda p, _c: Call("PUT", f"/api/users/{p.new_login().username}/language",
                           json={"language": "de"}), roles(200, ("admin",))),
    **{("POST", f"/api/users/{{username}}/{action}"): Rule(
        lambda p, _c, action=action: Call(
            "POST", f"/api/users/{p.new_login().username}/{action}",
            json={} if action == "password" else None),
        roles(200, ("admin",))) for action in ("disable", "enable", "password")},
    ("GET", "/api/users/{username}/tokens"): Rule(
        get("/api/users/dispatcher-test/tokens"), roles(200, ("admin",))),
    ("GET", "/api/assignees"): Rule(get("/api/assignees"), roles(200, STAFF)),
    # Service cases with their SLA clocks (reading; intake is in portal/routers/cases.py).
    ("GET", "/api/cases"): Rule(get("/api/cases"), roles(200, STAFF)),
    ("GET", "/api/cases/{case_id}"): Rule(
        get(lambda p: f"/api/cases/{_case(p)}"), roles(200, STAFF)),
    ("POST", "/api/devices/{device_id}/qr-token"): Rule(
        lambda p, _c: Call("POST", f"/api/devices/{p.device('C').id}/qr-token"),
        roles(200, ("admin",))),
    ("GET", "/api/devices/{device_id}/qr.svg"): Rule(
        get(lambda p: f"/api/devices/{_b(p)}/qr.svg"), roles(200, ("admin",))),
    ("GET", "/api/audit"): Rule(get("/api/audit"), roles(200, ("admin",))),
    # Inbound intake from CRMs (portal/routers/cases.py, work_orders.py): staff, by API token.
    ("POST", "/api/cases"): Rule(
        lambda p, _c: Call("POST", "/api/cases", json={"device_id": _b(p), "title": "matrix"}),
        roles(201, STAFF)),
    ("GET", "/api/cases/{case_id}/files/{name}"): Rule(get(_case_file), roles(200, STAFF)),
    ("PATCH", "/api/cases/{case_id}"): Rule(
        lambda p, _c: Call("PATCH", f"/api/cases/{_case(p)}", json={"description": "matrix"}),
        roles(200, STAFF)),
    ("PATCH", "/api/work-orders/{order_id}"): Rule(
        lambda p, _c: Call("PATCH", f"/api/work-orders/{_own_job(p)}", json={"priority": 2}),
        roles(200, STAFF)),
    # Webhook subscriptions to domain events (portal/routers/webhooks.py): admins only.
    ("GET", "/api/webhooks"): Rule(get("/api/webhooks"), roles(200, ("admin",))),
    ("POST", "/api/webhooks"): Rule(
        lambda p, _c: Call("POST", "/api/webhooks", json={"url": "http://127.0.0.1:9/hook"}),
        roles(201, ("admin",))),
    ("GET", "/api/webhooks/{subscription_id}"): Rule(
        get(lambda p: f"/api/webhooks/{_webhook(p)}"), roles(200, ("admin",))),
    ("PATCH", "/api/webhooks/{subscription_id}"): Rule(
        lambda p, _c: Call("PATCH", f"/api/webhooks/{_webhook(p)}", json={"active": False}),
        roles(200, ("admin",))),
    ("DELETE", "/api/webhooks/{subscription_id}"): Rule(
        lambda p, _c: Call("DELETE", f"/api/webhooks/{_webhook(p)}"), roles(204, ("admin",))),
    ("GET", "/api/webhooks/{subscription_id}/deliveries"): Rule(
        get(lambda p: f"/api/webhooks/{_webhook(p)}/deliveries"), roles(200, ("admin",))),
    ("GET", "/api/webhooks/{subscription_id}/attempts"): Rule(
        get(lambda p: f"/api/webhooks/{_webhook(p)}/attempts"), roles(200, ("admin",))),
    ("POST", "/api/webhooks/{subscription_id}/secret"): Rule(
        lambda p, _c: Call("POST", f"/api/webhooks/{_webhook(p)}/secret"),
        roles(200, ("admin",))),
    ("POST", "/api/webhooks/{subscription_id}/replay"): Rule(
        lambda p, _c: Call("POST", f"/api/webhooks/{_webhook(p)}/replay",
                           json={"parked": True}), roles(202, ("admin",))),
    ("GET", "/metrics"): Rule(get("/metrics"), roles(200, ("admin",))),
    # The dispatcher console's extras.
    ("GET", "/api/plans/changes"): Rule(get("/api/plans/changes"), roles(200, STAFF)),
    ("GET", "/api/events"): Rule(get("/api/events?max_s=0"), roles(200, STAFF)),
    ("GET", "/api/qr-labels.svg"): Rule(get("/api/qr-labels.svg"), roles(200, ("admin",))),
    ("GET", "/api/devices/{device_id}/series"): Rule(
        get(lambda p: f"/api/devices/{_b(p)}/series?metric={_first_metric(p)}"),
        roles(200, STAFF)),
    ("POST", "/api/alerts/{alert_id}/assign"): Rule(
        lambda p, _c: Call("POST", f"/api/alerts/{p.new_alert(_b(p))}/assign",
                           json={"to": "dispatcher-test"}), roles(200, STAFF)),
    ("POST", "/api/alerts/{alert_id}/work-order"): Rule(
        lambda p, _c: Call("POST", f"/api/alerts/{p.new_alert(_b(p))}/work-order", json={}),
        roles(201, STAFF)),
    # Sales opportunities (portal/sales_api.py).
    ("GET", "/api/opportunities"): Rule(get("/api/opportunities"), roles(200, STAFF)),
    ("GET", "/api/opportunities/{opportunity_id}"): Rule(
        get(lambda p: f"/api/opportunities/{_opportunity(p)}"), roles(200, STAFF)),
    **{("POST", f"/api/opportunities/{{opportunity_id}}/{action}"): Rule(
        lambda p, _c, action=action: Call(
            "POST", f"/api/opportunities/{_opportunity(p)}/{action}", json={"note": "matrix"}),
        roles(200, STAFF)) for action in ("offer", "accept", "decline")},
    # Parts and stock (portal/routers/stock.py): engineers see the catalogue and their van.
    ("GET", "/api/parts"): Rule(get("/api/parts"), roles(200, ALL)),
    # Only admins write the catalogue (portal/routers/parts.py).
    ("POST", "/api/parts"): Rule(
        lambda p, _c: Call("POST", "/api/parts", json=_part_body(f"MX-{p.next_serial()}")),
        roles(201, ("admin",))),
    ("PUT", "/api/parts/{number}"): Rule(
        lambda p, _c: Call("PUT", f"/api/parts/{_new_part(p)}", json=_part_body()),
        roles(200, ("admin",))),
    ("PATCH", "/api/parts/{number}"): Rule(
        lambda p, _c: Call("PATCH", f"/api/parts/{_new_part(p)}", json={"price_cents": 200}),
        roles(200, ("admin",))),
    ("GET", "/api/stock"): Rule(
        get(lambda p: f"/api/stock?location=van-{p.engineer_id('own')}"), roles(200, OWN)),
    ("GET", "/api/stock/locations"): Rule(get("/api/stock/locations"), roles(200, STAFF)),
    ("POST", "/api/stock/locations"): Rule(
        lambda p, _c: Call("POST", "/api/stock/locations", json={
            "id": f"wh-{p.next_serial()}", "name": "Matrix", "lat": 48.1, "lon": 11.5}),
        roles(201, STAFF)),
    ("GET", "/api/stock/movements"): Rule(get("/api/stock/movements"), roles(200, STAFF)),
    ("POST", "/api/stock/movements"): Rule(
        lambda p, _c: Call("POST", "/api/stock/movements", json={
            "kind": "receipt", "part": "AP-MEM-75G", "qty": 1, "to_location": _warehouse(p)}),
        roles(201, STAFF)),
    ("PUT", "/api/stock/thresholds"): Rule(
        lambda p, _c: Call("PUT", "/api/stock/thresholds", json={
            "location_id": _warehouse(p), "part": "AP-MEM-75G", "min_qty": 2,
            "reorder_qty": 5}), roles(200, STAFF)),
    ("GET", "/api/stock/replenishment"): Rule(
        get("/api/stock/replenishment"), roles(200, STAFF)),
    ("GET", "/api/plans/routes"): Rule(get("/api/plans/routes"), roles(200, STAFF)),
    ("POST", "/api/plans"): Rule(lambda p, _c: Call("POST", "/api/plans"), roles(202, STAFF)),
    ("POST", "/api/plans/proposals"): Rule(
        lambda p, _c: Call("POST", "/api/plans/proposals"), roles(201, STAFF)),
    ("GET", "/api/plans/proposals"): Rule(get("/api/plans/proposals"), roles(200, STAFF)),
    ("GET", "/api/plans/proposals/{proposal_id}"): Rule(
        get(lambda p: f"/api/plans/proposals/{_proposal(p)}"), roles(200, STAFF)),
    ("POST", "/api/plans/proposals/{proposal_id}/accept"): Rule(
        lambda p, _c: Call("POST", f"/api/plans/proposals/{_proposal(p)}/accept"),
        roles(200, STAFF)),
    ("DELETE", "/api/plans/proposals/{proposal_id}"): Rule(
        lambda p, _c: Call("DELETE", f"/api/plans/proposals/{_proposal(p)}"),
        roles(204, STAFF)),
    ("PUT", "/api/work-orders/{order_id}/pin"): Rule(
        lambda p, _c: Call("PUT", f"/api/work-orders/{_own_job(p)}/pin",
                           json={"engineer_id": p.engineer_id("own")}), roles(200, STAFF)),
    ("GET", "/api/work-orders/{order_id}/candidates"): Rule(
        get(lambda p: f"/api/work-orders/{_own_job(p)}/candidates"), roles(200, STAFF)),
    # The engineer's job app: their own jobs only.
    ("GET", "/api/engineers/{engineer_id}/jobs"): Rule(
        get(lambda p: f"/api/engineers/{p.engineer_id('own')}/jobs"), roles(200, OWN)),
    ("GET", "/api/work-orders/{order_id}/job"): Rule(
        get(lambda p: f"/api/work-orders/{_own_job(p)}/job"), roles(200, OWN)),
    ("POST", "/api/work-orders/{order_id}/status"): Rule(
        lambda p, _c: Call("POST", f"/api/work-orders/{_own_job(p)}/status",
                           json={"status": "accepted"}), roles(200, OWN)),
    ("POST", "/api/work-orders/{order_id}/cannot-complete"): Rule(
        lambda p, _c: Call("POST", f"/api/work-orders/{_own_job(p)}/cannot-complete",
                           json={"reason": "no access to the plant room"}), roles(200, OWN)),
    ("POST", "/api/work-orders/{order_id}/parts"): Rule(
        lambda p, _c: Call("POST", f"/api/work-orders/{_own_job(p)}/parts",
                           json={"parts": [{"part": "O-ring", "qty": 2}]}), roles(200, OWN)),
    ("PUT", "/api/work-orders/{order_id}/notes"): Rule(
        lambda p, _c: Call("PUT", f"/api/work-orders/{_own_job(p)}/notes",
                           json={"notes": "descaled"}), roles(200, OWN)),
    ("POST", "/api/work-orders/{order_id}/photos"): Rule(
        lambda p, _c: Call("POST", f"/api/work-orders/{_own_job(p)}/photos",
                           files={"photo": ("a.png", PNG, "image/png")}), roles(200, OWN)),
    ("POST", "/api/work-orders/{order_id}/sign-off"): Rule(
        lambda p, _c: Call("POST", f"/api/work-orders/{_own_job(p, 'on_site')}/sign-off",
                           json={"signed_by": "Ms Customer",
                                 "signature_png": base64.b64encode(PNG).decode()}),
        roles(200, OWN)),
    # Settlement at the door (portal/routers/settlement.py): a job on site, not signed
    # off yet, is refused with 409 once the caller may act on it.
    ("POST", "/api/work-orders/{order_id}/settle"): Rule(
        lambda p, _c: Call("POST", f"/api/work-orders/{_own_job(p, 'on_site')}/settle",
                           json={"labour_minutes": 30}), roles(409, OWN)),
    ("GET", "/api/work-orders/{order_id}/settlement"): Rule(
        get(lambda p: f"/api/work-orders/{_settled_job(p)}/settlement"), roles(200, OWN)),
    ("GET", "/api/work-orders/{order_id}/service-report.pdf"): Rule(
        get(lambda p: f"/api/work-orders/{_settled_job(p)}/service-report.pdf"),
        roles(200, OWN)),
    ("GET", "/api/work-orders/{order_id}/files/{name}"): Rule(
        get(lambda p: "/api/work-orders/{}/files/{}".format(*p.new_photo(p.engineer_id("own")))),
        roles(200, OWN)),
    ("GET", "/engineer/{engineer_id}/jobs/{order_id}"): Rule(
        get(lambda p: f"/engineer/{p.engineer_id('own')}/jobs/{_own_job(p)}"),
        roles(200, OWN, page=True)),
    # Pages and forms.
    ("GET", "/"): Rule(get("/"), everyone(200) | {"customer_a": 401}),
    ("GET", "/login"): Rule(get("/login"), everyone(200)),
    # The engineer app's service worker: code only, no data.
    ("GET", "/engineer-sw.js"): Rule(get("/engineer-sw.js"), everyone(200)),
    ("POST", "/login"): Rule(
        lambda p, _c: Call("POST", "/login", csrf=True, ok_location="/dispatch",
                           form={"username": (a := p.new_login()).username,
                                 "password": a.password}),
        everyone(303)),
    ("POST", "/logout"): Rule(
        lambda p, _c: Call("POST", "/logout", ok_location="/login"),
        roles(303, ALL, page=True)),
    ("GET", "/dispatch"): Rule(get("/dispatch"), roles(200, STAFF, page=True)),
    ("GET", "/dispatch/stock"): Rule(get("/dispatch/stock"), roles(200, STAFF, page=True)),
    ("GET", "/api/service-figures"): Rule(get("/api/service-figures"), roles(200, STAFF)),
    ("GET", "/api/kpis"): Rule(get("/api/kpis?days=30"), roles(200, STAFF)),
    ("GET", "/api/plans/board"): Rule(get("/api/plans/board"), roles(200, STAFF)),
    ("GET", "/dispatch/board"): Rule(get("/dispatch/board"), roles(200, STAFF, page=True)),
    ("GET", "/admin/users"): Rule(get("/admin/users"), roles(200, ("admin",), page=True)),
    ("GET", "/admin/audit"): Rule(get("/admin/audit"), roles(200, ("admin",), page=True)),
    ("GET", "/engineer/{engineer_id}"): Rule(
        get(lambda p: f"/engineer/{p.engineer_id('own')}"),
        roles(200, (*STAFF, "engineer_own"), page=True)),
    ("POST", "/engineer/{engineer_id}/jobs/{order_id}/status"): Rule(
        lambda p, _c: Call(
            "POST", f"/engineer/{(e := p.engineer_id('own'))}/jobs/"
            f"{p.new_job(_b(p), e)}/status", form={"status": "en_route"},
            ok_location=f"/engineer/{e}"),
        roles(303, (*STAFF, "engineer_own"), page=True)),
    ("GET", "/q/{token}"): Rule(
        lambda p, c: Call("GET", f"/q/{_qr_token(p, c)}"),
        everyone(404) | {"customer_a": 200}, no_leaks=True),
    ("POST", "/q/{token}/report"): Rule(
        lambda p, c: Call("POST", f"/q/{(t := _qr_token(p, c))}/report", csrf=True,
                          form={"category": "Leak", "description": "wet floor"},
                          ok_location=f"/q/{t}?reported="),
        everyone(404) | {"customer_a": 303}),
    ("GET", "/q/{token}/windows"): Rule(
        lambda p, c: Call("GET", f"/q/{_qr_token(p, c)}/windows"),
        everyone(404) | {"customer_a": 200}, no_leaks=True),
    ("GET", "/q/{token}/events"): Rule(
        lambda p, c: Call("GET", f"/q/{_qr_token(p, c)}/events?max_s=0"),
        everyone(404) | {"customer_a": 200}),
    ("POST", "/q/{token}/rate"): Rule(
        lambda p, c: Call("POST", f"/q/{(t := _qr_token(p, c))}/rate", csrf=True,
                          form={"work_order_id": str(p.new_job(
                              p.device("A").id, p.engineer_id("own"), "done")), "stars": "5"},
                          ok_location=f"/q/{t}#history"),
        everyone(404) | {"customer_a": 303}),
    # Troubleshooting articles (portal/routers/articles.py): read by every role, written
    # by admins; customers follow guides on their device's page only.
    ("GET", "/api/articles"): Rule(get("/api/articles?q=leak"), roles(200, ALL)),
    ("GET", "/api/articles/{article_id}"): Rule(
        get(lambda p: f"/api/articles/{_article(p)}"), roles(200, ALL)),
    ("GET", "/api/articles/{article_id}/versions"): Rule(
        get(lambda p: f"/api/articles/{_article(p)}/versions"), roles(200, ALL)),
    ("POST", "/api/articles"): Rule(
        lambda p, _c: Call("POST", "/api/articles", json=_article_in(p)),
        roles(201, ("admin",))),
    ("PUT", "/api/articles/{article_id}"): Rule(
        lambda p, _c: Call("PUT", f"/api/articles/{(i := _article(p, 'engineer'))}",
                           json=_matrix_edit(p, i)), roles(200, ("admin",))),
    ("GET", "/api/self-service/figures"): Rule(
        get("/api/self-service/figures"), roles(200, STAFF)),
    ("GET", "/admin/articles"): Rule(get("/admin/articles"), roles(200, ("admin",), page=True)),
    ("POST", "/q/{token}/guides/{article_id}"): Rule(
        lambda p, c: Call("POST", f"/q/{(t := _qr_token(p, c))}/guides/{_article(p)}",
                          csrf=True, form={"outcome": "still_broken"},
                          ok_location=f"/q/{t}?tried="),
        everyone(404) | {"customer_a": 303}),
    ("GET", "/v/{token}"): Rule(
        lambda p, c: Call("GET", f"/v/{_visit_token(p, c)}"),
        everyone(404) | {"customer_a": 200}, no_leaks=True),
    ("GET", "/v/{token}/live"): Rule(
        lambda p, c: Call("GET", f"/v/{_visit_token(p, c)}/live?max_s=0"),
        everyone(404) | {"customer_a": 200}),
    ("GET", "/static"): Rule(get("/static/app.css"), everyone(200)),
    ("GET", "/openapi.json"): Rule(get("/openapi.json"), everyone(200)),
    ("GET", "/docs"): Rule(get("/docs"), everyone(200)),
    ("GET", "/docs/oauth2-redirect"): Rule(get("/docs/oauth2-redirect"), everyone(200)),
    ("GET", "/redoc"): Rule(get("/redoc"), everyone(200)),
}


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return build_portal(tmp_path_factory.mktemp("matrix"), generate_fleet(seed=7, sites=4))


@pytest.fixture(scope="module")
def client(portal: Portal) -> Iterator[TestClient]:
    with TestClient(portal.app, follow_redirects=False) as client:
        yield client


def _headers(portal: Portal, caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller == "customer_a":
        return {"Authorization": f"Bearer {portal.tokens[portal.device('A').id]}"}
    return portal.accounts[caller].headers


def _walk(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        # FastAPI keeps included routers as one entry each (the portal's have no prefix).
        included = getattr(route, "original_router", None)
        yield from _walk(included.routes) if included is not None else (route,)


def _app_routes(portal: Portal) -> set[tuple[str, str]]:
    found = set()
    for route in _walk(portal.app.routes):
        if isinstance(route, Mount):
            found.add(("GET", route.path))
        elif isinstance(route, APIRoute | Route):
            found |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


def test_every_route_is_classified(portal: Portal) -> None:
    found = _app_routes(portal)
    assert found - ROUTES.keys() == set(), "new routes: add them to ROUTES with who may call"
    assert ROUTES.keys() - found == set(), "ROUTES lists routes the app does not have"


def _leaks(portal: Portal, body: str) -> list[str]:
    """Anything on device A's customer page about another device, customer or engineer."""
    a, b = portal.device("A"), portal.device("B")
    fleet = portal.fleet
    own_customer = next(s.customer_id for s in fleet.sites if s.id == a.site_id)
    secrets_ = [b.serial, *(d.id for d in fleet.devices),
                *(c.name for c in fleet.customers if c.id != own_customer),
                *(e.name for e in fleet.engineers),
                *(e.phone for e in fleet.engineers if getattr(e, "phone", "")),
                *(t for d, t in portal.tokens.items() if d != a.id)]
    return [s for s in secrets_ if s and s in body]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", list(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_access(portal: Portal, client: TestClient, route: tuple[str, str],
                caller: str) -> None:
    rule = ROUTES[route]
    call = rule.build(portal, caller)
    client.cookies.clear()
    form = dict(call.form or {})
    if call.csrf:
        csrf = secrets.token_urlsafe(16)
        client.cookies.set(CSRF_COOKIE, csrf)
        form["csrf_token"] = csrf
    response = client.request(call.method, call.url, json=call.json, data=form or None,
                              files=call.files, headers=_headers(portal, caller))
    expected = rule.expect[caller]
    detail = f"{call.method} {call.url} as {caller}: {response.status_code} {response.text[:200]}"
    if expected == LOGIN:
        assert response.status_code == 303, detail
        assert response.headers["location"].startswith("/login?next=/"), detail
    else:
        assert response.status_code == expected, detail
    if response.status_code == 401:
        assert "WWW-Authenticate" in response.headers, detail
    if response.status_code == 303 and call.ok_location and expected != LOGIN:
        assert response.headers["location"].startswith(call.ok_location), detail
    if response.status_code == 200 and rule.no_leaks:
        assert _leaks(portal, response.text) == [], detail
    if response.status_code == 404 and route[1].startswith("/q/"):
        assert _leaks(portal, response.text) == [], detail


def test_engineer_lists_only_their_own_jobs(portal: Portal, client: TestClient) -> None:
    own, other = portal.engineer_id("own"), portal.engineer_id("other")
    mine = portal.new_job(portal.device("B").id, own)
    theirs = portal.new_job(portal.device("B").id, other)
    client.cookies.clear()
    headers = portal.accounts["engineer_own"].headers
    listed = {o["id"] for o in client.get("/api/work-orders", headers=headers).json()}
    assert mine in listed and theirs not in listed
    assert {o["engineer_id"] for o in client.get("/api/work-orders", headers=headers).json()
            } == {own}
    refused = client.get(f"/api/work-orders?engineer_id={other}", headers=headers)
    assert refused.status_code == 403 and "own jobs" in refused.json()["detail"]
    everything = client.get("/api/work-orders", headers=portal.accounts["dispatcher"].headers)
    assert {mine, theirs} <= {o["id"] for o in everything.json()}


def test_revoked_api_token_is_refused(portal: Portal, client: TestClient) -> None:
    client.cookies.clear()
    headers = portal.accounts["dispatcher"].headers
    issued = client.post("/api/tokens", json={"name": "ci"}, headers=headers).json()
    mine = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/api/me", headers=mine).json()["username"] == "dispatcher-test"
    assert client.delete(f"/api/tokens/{issued['id']}", headers=headers).status_code == 204
    refused = client.get("/api/me", headers=mine)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
