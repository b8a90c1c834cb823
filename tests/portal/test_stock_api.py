"""The parts catalogue and stock over HTTP: goods in at a warehouse, a van restocked,
quantities per location, the ledger, a low-stock threshold raising a replenishment
request, and clear refusals of what the ledger does not allow."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from portal_app import Portal, build_portal

from simulators.fleet import generate_fleet


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return build_portal(tmp_path_factory.mktemp("stock"), generate_fleet(seed=3, sites=3))


def test_stock_moves_through_the_ledger(portal: Portal) -> None:
    client = TestClient(portal.app)
    staff = portal.accounts["dispatcher"].headers
    own = portal.accounts["engineer_own"].headers
    van = f"van-{portal.engineer_id('own')}"

    catalogue = client.get("/api/parts", headers=own).json()
    membrane = next(p for p in catalogue["parts"] if p["number"] == "AP-MEM-75G")
    assert membrane == {"number": "AP-MEM-75G", "name": "RO membrane 75G",
                        "price_cents": 8900, "consumable": None,
                        "model_ids": ["aquapure-ro500"]}
    purifier = next(m for m in catalogue["models"] if m["model_id"] == "aquapure-ro500")
    assert purifier["needs"]["rule:tds-high"] == [{"part": "AP-MEM-75G", "qty": 1}]

    made = client.post("/api/stock/locations", headers=staff, json={
        "id": "wh-north", "name": "North", "lat": 48.2, "lon": 11.6})
    assert made.status_code == 201, made.text

    def post(**body: object) -> int:
        answer = client.post("/api/stock/movements", headers=staff, json=body)
        return answer.status_code

    assert post(kind="receipt", part="AP-MEM-75G", qty=5, to_location="wh-north") == 201
    assert post(kind="transfer", part="AP-MEM-75G", qty=2, from_location="wh-north",
                to_location=van) == 201
    levels = {(r["location_id"], r["part_number"]): (r["on_hand"], r["available"])
              for r in client.get("/api/stock", headers=staff).json()}
    assert levels == {("wh-north", "AP-MEM-75G"): (3, 3), (van, "AP-MEM-75G"): (2, 2)}
    # The engineer sees their van; not the warehouse, nor someone else's van.
    assert [r["on_hand"] for r in client.get(f"/api/stock?location={van}",
                                             headers=own).json()] == [2]
    assert client.get("/api/stock?location=wh-north", headers=own).status_code == 403

    ledger = client.get("/api/stock/movements?part=AP-MEM-75G", headers=staff).json()
    assert [(m["kind"], m["qty"], m["from_location"], m["to_location"]) for m in ledger] == [
        ("transfer", 2, "wh-north", van), ("receipt", 5, None, "wh-north")]

    threshold = client.put("/api/stock/thresholds", headers=staff, json={
        "location_id": van, "part": "AP-MEM-75G", "min_qty": 3, "reorder_qty": 4})
    assert threshold.status_code == 200 and threshold.json()["low"] is True
    requests = client.get("/api/stock/replenishment?status=open", headers=staff).json()
    assert [(r["location_id"], r["part_number"], r["qty"]) for r in requests] == [
        (van, "AP-MEM-75G", 4)]
    assert [r["part_number"] for r in client.get("/api/stock?low=true",
                                                 headers=staff).json()] == ["AP-MEM-75G"]
    assert post(kind="transfer", part="AP-MEM-75G", qty=1, from_location="wh-north",
                to_location=van) == 201
    assert client.get("/api/stock/replenishment?status=open", headers=staff).json() == []


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"kind": "transfer", "part": "AP-PREF-10", "qty": 9, "from_location": "wh-empty",
      "to_location": "wh-empty2"}, 409, "free"),
    ({"kind": "receipt", "part": "NOT-A-PART", "qty": 1, "to_location": "wh-empty"}, 409,
     "not in the parts catalogue"),
    ({"kind": "receipt", "part": "AP-PREF-10", "qty": 1, "to_location": "nowhere"}, 409,
     "no stock location 'nowhere'"),
    ({"kind": "receipt", "part": "AP-PREF-10", "qty": 0, "to_location": "wh-empty"}, 422,
     "greater than or equal to 1"),
    ({"kind": "consume", "part": "AP-PREF-10", "qty": 1, "from_location": "wh-empty"}, 422,
     "receipt"),
    ({"kind": "receipt", "part": "AP-PREF-10", "qty": 1, "to_location": "wh-empty",
      "price": 3}, 422, "Extra inputs"),
])
def test_a_refused_movement_says_why(portal: Portal, body: dict[str, object], status: int,
                                     words: str) -> None:
    client = TestClient(portal.app)
    staff = portal.accounts["admin"].headers
    for place in ("wh-empty", "wh-empty2"):
        client.post("/api/stock/locations", headers=staff, json={
            "id": place, "name": place, "lat": 48.0, "lon": 11.0})
    answer = client.post("/api/stock/movements", headers=staff, json=body)
    assert answer.status_code == status
    assert words in answer.text
    assert client.get("/api/stock?location=wh-empty", headers=staff).json() == []
    assert client.get("/api/stock?location=nowhere", headers=staff).status_code == 404
