"""`GET /api/plans/board`: each engineer's jobs from the plan in force as blocks (ETA
for the job's duration, the drive before it from home or the previous stop), and the
unplanned jobs with the plan's reason."""

from __future__ import annotations

from fastapi.testclient import TestClient
from portal_app import Portal

from asset_registry.tables import Device, Site
from dispatch.problem import Location
from dispatch.travel import great_circle_seconds
from foundations.database import session_scope
from service.tables import Engineer, WorkOrder

AT = 1_800_000_000_000  # ms epoch, a whole hour


def _plan(portal: Portal, order_id: int, engineer: str | None, eta: int | None,
          seq: int | None = None, reason: str | None = None) -> None:
    with session_scope(portal.engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        order.engineer_id, order.eta, order.route_seq = engineer, eta, seq
        order.status = "assigned" if engineer else "new"
        order.unassigned_reason, order.duration_min = reason, 45
        s.add(order)


def test_blocks_drives_and_reasons(portal: Portal, client: TestClient) -> None:
    own = portal.engineer_id("own")
    a, b = portal.device("A").id, portal.device("B").id
    first, second = portal.new_job(a, own), portal.new_job(b, own)
    waiting = portal.new_job(b, own)
    _plan(portal, first, own, AT + 3_600_000, 0)
    _plan(portal, second, own, AT + 3 * 3_600_000, 1)
    _plan(portal, waiting, None, None, reason="no qualified engineer free")
    with session_scope(portal.engine) as s:
        engineer = s.get(Engineer, own)
        assert engineer is not None
        home = Location(engineer.home_lat, engineer.home_lon)
        site_a, site_b = (s.get(Site, s.get(Device, d).site_id) for d in (a, b))  # type: ignore[union-attr]
        assert site_a is not None and site_b is not None
        drive_1 = great_circle_seconds(home, Location(site_a.lat, site_a.lon))
        drive_2 = great_circle_seconds(Location(site_a.lat, site_a.lon),
                                       Location(site_b.lat, site_b.lon))
    board = client.get("/api/plans/board", headers=portal.accounts["dispatcher"].headers).json()
    row = next(r for r in board["rows"] if r["engineer_id"] == own)
    assert [(x["work_order_id"], x["start"], x["end"]) for x in row["blocks"]] == [
        (first, AT + 3_600_000, AT + 3_600_000 + 45 * 60_000),
        (second, AT + 3 * 3_600_000, AT + 3 * 3_600_000 + 45 * 60_000)]
    assert [x["drive_from"] for x in row["blocks"]] == [
        AT + 3_600_000 - drive_1 * 1000, AT + 3 * 3_600_000 - drive_2 * 1000]
    assert all(x["movable"] and not x["pinned"] for x in row["blocks"])
    assert [(u["work_order_id"], u["reason"]) for u in board["unassigned"]] == [
        (waiting, "no qualified engineer free")]
    assert len(board["rows"]) == len(portal.fleet.engineers)
    assert board["day_start"] % 3_600_000 == 0 and board["day_end"] % 3_600_000 == 0
    assert board["day_start"] <= row["blocks"][0]["drive_from"]
    assert board["day_end"] >= row["blocks"][-1]["end"]
