"""The console's key figures (`GET /api/kpis`) on a known history: exact figures for
7, 30 and 90 days; staff only."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from kpi_world import EXPECTED, seed_history
from portal_app import Portal


def _two_models(portal: Portal) -> tuple[str, str, str, str]:
    devices = portal.fleet.devices
    x = devices[0]
    y = next(d for d in devices if d.model_id != x.model_id)
    return x.id, x.model_id, y.id, y.model_id


@pytest.mark.parametrize("days", [7, 30, 90])
def test_figures_of_a_known_history(portal: Portal, client: TestClient, days: int) -> None:
    x, model_x, y, model_y = _two_models(portal)
    seed_history(portal.engine, int(time.time() * 1000), x, y)
    answer = client.get(f"/api/kpis?days={days}", headers=portal.accounts["dispatcher"].headers)
    assert answer.status_code == 200, answer.text
    k = answer.json()
    want = EXPECTED[days]
    assert k["days"] == days
    assert (k["sla_response"]["counted"], k["sla_response"]["met"]) == want["sla_response"]
    assert (k["sla_resolution"]["counted"], k["sla_resolution"]["met"]) == want["sla_resolution"]
    ftf = k["first_time_fix"]
    assert (ftf["cases"], ftf["first_time"]) == want["ftf"]
    assert ftf["rate"] == pytest.approx(want["ftf"][1] / want["ftf"][0])
    assert k["repairs"] == want["repairs"]
    assert k["mean_time_to_repair_min"] == pytest.approx(want["mttr_min"])
    assert (k["ratings"]["count"], k["ratings"]["mean"]) == want["ratings"]
    alerts = [(m["model_id"], m["alerts"]) for m in k["alerts_by_model"]]
    assert alerts == {7: [(model_x, 1)],
                      30: sorted([(model_x, 1), (model_y, 1)]),
                      90: [(model_y, 2), (model_x, 1)]}[days]


def test_ninety_days_in_detail(portal: Portal, client: TestClient) -> None:
    x, _, y, _ = _two_models(portal)
    seed_history(portal.engine, int(time.time() * 1000), x, y)
    k = client.get("/api/kpis?days=90", headers=portal.accounts["admin"].headers).json()
    assert k["sla_response"]["rate"] == 0.5
    assert k["sla_resolution"]["rate"] == pytest.approx(2 / 3)
    assert k["ratings"]["by_stars"] == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1}
    assert all(m["model_name"] and m["model_name"] != m["model_id"]
               for m in k["alerts_by_model"])


def test_nothing_yet_is_no_figure_rather_than_zero(portal: Portal, client: TestClient) -> None:
    k = client.get("/api/kpis", headers=portal.accounts["dispatcher"].headers).json()
    assert k["days"] == 30
    assert k["sla_response"] == {"counted": 0, "met": 0, "rate": None}
    assert k["mean_time_to_repair_min"] is None and k["ratings"]["mean"] is None
    assert k["alerts_by_model"] == []


def test_only_staff_see_the_figures(portal: Portal, client: TestClient) -> None:
    assert client.get("/api/kpis").status_code == 401
    for engineer in ("engineer_own", "engineer_other"):
        assert client.get("/api/kpis", headers=portal.accounts[engineer].headers
                          ).status_code == 403
    assert client.get("/api/kpis?days=0", headers=portal.accounts["dispatcher"].headers
                      ).status_code == 422
