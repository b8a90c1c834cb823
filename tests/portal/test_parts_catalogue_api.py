"""The parts catalogue edited through the API: an admin changes a part's price and
needs and adds a part; `GET /api/parts`, the stock ledger and a settlement take them at
once; an app started again over the same database has them (the model files are only
the defaults); others may not write; what the catalogue cannot take is a clear 422."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from portal_app import MODELS, Portal, build_portal
from test_settlement import _pdf_text, _purifier_job, _sign

from asset_registry.catalog import load_models
from asset_registry.part_catalogue import with_stored_parts
from portal.app import create_app
from portal.context import PortalContext
from simulators.fleet import generate_fleet

PURIFIER = "aquapure-ro500"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    # A copy of the models: the edits must not reach other tests' apps.
    return build_portal(tmp_path_factory.mktemp("parts"), generate_fleet(seed=4, sites=3),
                        models=dict(MODELS))


def _part(catalogue: dict[str, Any], number: str) -> dict[str, Any] | None:
    return next((p for p in catalogue["parts"] if p["number"] == number), None)


def _needs(catalogue: dict[str, Any], model_id: str) -> dict[str, list[dict[str, Any]]]:
    return next(m["needs"] for m in catalogue["models"] if m["model_id"] == model_id)


def test_an_admins_edits_are_in_force_at_once_and_after_a_restart(portal: Portal) -> None:
    client = TestClient(portal.app)
    admin = portal.accounts["admin"].headers
    staff = portal.accounts["dispatcher"].headers
    engineer = portal.accounts["engineer_own"].headers

    # A part the catalogue does not have cannot come into stock.
    client.post("/api/stock/locations", headers=staff, json={
        "id": "wh-parts", "name": "Parts", "lat": 48.1, "lon": 11.5})
    receipt = {"kind": "receipt", "part": "AP-UV-11W", "qty": 3, "to_location": "wh-parts"}
    refused = client.post("/api/stock/movements", headers=staff, json=receipt)
    assert refused.status_code == 409 and "not in the parts catalogue" in refused.text

    changed = client.patch("/api/parts/AP-MEM-75G", headers=admin, json={
        "name": "RO membrane 75G (2027)", "price_cents": 9450})
    assert changed.status_code == 200, changed.text
    assert changed.json()["needs"] == [{"model_id": PURIFIER, "need": "rule:tds-high",
                                        "qty": 1}]  # kept: not given
    made = client.post("/api/parts", headers=admin, json={
        "number": "AP-UV-11W", "name": "UV lamp 11W", "price_cents": 3900,
        "model_ids": [PURIFIER],
        "needs": [{"model_id": PURIFIER, "need": "rule:tds-high", "qty": 1},
                  {"model_id": PURIFIER, "need": "maintenance:filter-change", "qty": 2}]})
    assert made.status_code == 201, made.text
    # The filter kit is no longer part of the filter change, only of a leak.
    replaced = client.put("/api/parts/AP-FILT-KIT", headers=admin, json={
        "name": "Filter kit", "price_cents": 5000, "model_ids": [PURIFIER],
        "needs": [{"model_id": PURIFIER, "need": "fault:Leak", "qty": 1}]})
    assert replaced.status_code == 200, replaced.text

    def in_force(c: TestClient) -> None:
        catalogue = c.get("/api/parts", headers=engineer).json()
        assert _part(catalogue, "AP-MEM-75G") == {
            "number": "AP-MEM-75G", "name": "RO membrane 75G (2027)", "price_cents": 9450,
            "consumable": None, "model_ids": [PURIFIER]}
        assert _part(catalogue, "AP-UV-11W") == {
            "number": "AP-UV-11W", "name": "UV lamp 11W", "price_cents": 3900,
            "consumable": None, "model_ids": [PURIFIER]}
        needs = _needs(catalogue, PURIFIER)
        assert needs["rule:tds-high"] == [{"part": "AP-MEM-75G", "qty": 1},
                                          {"part": "AP-UV-11W", "qty": 1}]
        assert needs["maintenance:filter-change"] == [{"part": "AP-PREF-10", "qty": 1},
                                                      {"part": "AP-UV-11W", "qty": 2}]
        assert needs["fault:Leak"] == [{"part": "AP-VALVE-IN", "qty": 1},
                                       {"part": "AP-FILT-KIT", "qty": 1}]

    in_force(client)
    assert client.post("/api/stock/movements", headers=staff, json=receipt).status_code == 201

    # Started again over the same database, as the assembly does (fieldpulse/system.py):
    # the model files, then the stored edits.
    models = with_stored_parts(portal.engine, load_models())
    plan = next(p for p in models[PURIFIER].maintenance if p.id == "filter-change")
    assert [(n.part, n.qty) for n in plan.parts] == [("AP-PREF-10", 1), ("AP-UV-11W", 2)]
    with TestClient(create_app(PortalContext(engine=portal.engine, models=models))) as again:
        in_force(again)
        history = again.get("/api/audit", headers=admin).json()
    assert {"part.change", "part.new", "part.replace"} <= {e["action"] for e in history}


@pytest.mark.parametrize("caller", ["dispatcher", "engineer_own"])
def test_only_admins_write_the_catalogue(portal: Portal, caller: str) -> None:
    client = TestClient(portal.app)
    headers = portal.accounts[caller].headers
    before = client.get("/api/parts", headers=headers).json()
    body = {"name": "Cheap", "price_cents": 1, "model_ids": [PURIFIER]}
    assert client.post("/api/parts", headers=headers,
                       json={**body, "number": "X-1"}).status_code == 403
    assert client.put("/api/parts/AP-PREF-10", headers=headers, json=body).status_code == 403
    assert client.patch("/api/parts/AP-PREF-10", headers=headers,
                        json={"price_cents": 1}).status_code == 403
    customer = {"Authorization": f"Bearer {next(iter(portal.tokens.values()))}"}
    assert client.patch("/api/parts/AP-PREF-10", headers=customer,
                        json={"price_cents": 1}).status_code == 401
    assert client.get("/api/parts", headers=headers).json() == before


GOOD = {"name": "Valve", "price_cents": 1200, "model_ids": [PURIFIER]}


@pytest.mark.parametrize(("method", "path", "body", "status", "words"), [
    ("POST", "/api/parts", {**GOOD, "number": "AP-X", "model_ids": ["no-such-model"]}, 422,
     "model_ids[0]: no device model 'no-such-model'"),
    ("POST", "/api/parts", {**GOOD, "number": "AP-X", "needs": [
        {"model_id": PURIFIER, "need": "rule:no-such-rule", "qty": 1}]}, 422,
     "needs[0].need: 'rule:no-such-rule' is not one of aquapure-ro500's rules"),
    ("POST", "/api/parts", {**GOOD, "number": "AP-X", "needs": [
        {"model_id": "torrent-cp75", "need": "fault:Leak", "qty": 1}]}, 422,
     "needs[0].model_id: 'torrent-cp75' is not one of the part's model_ids"),
    ("POST", "/api/parts", {**GOOD, "number": "AP-X", "needs": [
        {"model_id": PURIFIER, "need": "fault:Leak", "qty": 0}]}, 422,
     "greater than or equal to 1"),
    ("POST", "/api/parts", {**GOOD, "number": "AP X"}, 422, "string should match pattern"),
    ("POST", "/api/parts", {**GOOD, "number": "AP-X", "price_cents": -5}, 422,
     "greater than or equal to 0"),
    ("POST", "/api/parts", {**GOOD, "number": "AP-X", "model_ids": []}, 422,
     "at least 1 item"),
    ("POST", "/api/parts", {**GOOD, "number": "AP-PREF-10"}, 409, "in the catalogue already"),
    ("PUT", "/api/parts/NOT-A-PART", GOOD, 404, "no part NOT-A-PART"),
    ("PATCH", "/api/parts/AP-PREF-10", {"name": None}, 422, "must have a value"),
    ("PATCH", "/api/parts/AP-PREF-10", {"price": 12}, 422, "extra inputs are not permitted"),
])
def test_what_the_catalogue_cannot_take_is_refused_clearly(
        portal: Portal, method: str, path: str, body: dict[str, Any], status: int,
        words: str) -> None:
    client = TestClient(portal.app)
    admin = portal.accounts["admin"].headers
    before = client.get("/api/parts", headers=admin).json()
    answer = client.request(method, path, headers=admin, json=body)
    assert answer.status_code == status, answer.text
    assert words.lower() in answer.text.lower(), answer.text
    assert client.get("/api/parts", headers=admin).json() == before


def test_a_settlement_prices_the_part_as_edited(portal: Portal) -> None:
    client = TestClient(portal.app)
    own = portal.accounts["engineer_own"].headers
    edited = client.patch("/api/parts/AP-PREF-10", headers=portal.accounts["admin"].headers,
                          json={"name": "Sediment pre-filter 10in (2027)", "price_cents": 1999})
    assert edited.status_code == 200, edited.text
    order_id = _purifier_job(portal, "chargeable")  # the van holds two pre-filters
    _sign(client, own, order_id)
    settled = client.post(f"/api/work-orders/{order_id}/settle", headers=own, json={
        "parts": [{"part": "AP-PREF-10", "qty": 2}], "labour_minutes": 0})
    assert settled.status_code == 200, settled.text
    assert [(line["code"], line["total_cents"]) for line in settled.json()["lines"]] == [
        ("AP-PREF-10", 3998)]
    report = client.get(f"/api/work-orders/{order_id}/service-report.pdf", headers=own)
    assert "Sediment pre-filter 10in (2027)" in _pdf_text(report.content)


def test_a_need_may_name_a_rule_added_through_the_rules_api(portal: Portal) -> None:
    client = TestClient(portal.app)
    admin = portal.accounts["admin"].headers
    url = f"/api/models/{PURIFIER}/rules"
    rules = client.get(url, headers=admin).json()["rules"]
    added = {**next(r for r in rules if r["id"] == "tds-high"), "id": "tds-very-high"}
    assert client.put(url, headers=admin, json=[*rules, added]).status_code == 200
    made = client.post("/api/parts", headers=admin, json={
        "number": "AP-MEM-100G", "name": "RO membrane 100G", "price_cents": 12900,
        "model_ids": [PURIFIER],
        "needs": [{"model_id": PURIFIER, "need": "rule:tds-very-high", "qty": 1}]})
    assert made.status_code == 201, made.text
    needs = _needs(client.get("/api/parts", headers=admin).json(), PURIFIER)
    assert needs["rule:tds-very-high"] == [{"part": "AP-MEM-100G", "qty": 1}]
