"""The console's live feed: new alerts, work-order steps, plans and online flips."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from asset_registry.catalog import load_models
from asset_registry.tables import Device
from dispatch.tables import DispatchPlan
from fieldpulse.fleet_import import import_fleet
from fieldpulse.settings import Settings
from fieldpulse.system import open_database
from ingest.checks import AcceptedReading
from notifications.alert_notices import record_alert_notice
from portal.live_feed import LiveFeed
from rules.service import RulesService
from service.cases import open_case
from service.tables import WorkOrderEvent
from simulators.fleet import generate_fleet
from support import evaluate

FLEET = generate_fleet(seed=7, sites=3)
PURIFIER = next(d for d in FLEET.devices if d.model_id == "aquapure-ro500")
NORMAL = {"flow_lpm": 12.0, "tds_ppm": 25.0, "inlet_pressure_bar": 3.2, "filter_hours": 1000.0}
T0 = 1_800_000_000_000


def readings(tds: float, start: int) -> list[AcceptedReading]:
    return [AcceptedReading(PURIFIER.id, PURIFIER.model_id, start, {**NORMAL, "tds_ppm": tds})]


def test_a_client_sees_what_happens_after_it_connects_once(tmp_path: Path) -> None:
    engine = open_database(Settings(data_dir=tmp_path))
    import_fleet(engine, FLEET)
    rules = RulesService(engine, load_models(), lambda _s, _r: 0,
                         record_notice=record_alert_notice, clock=lambda: T0)
    evaluate(rules, readings(200, T0))  # history: before the client connects
    feed = LiveFeed(engine)
    cursor = feed.start()
    assert feed.poll(cursor)[0] == []

    evaluate(rules, readings(20, T0 + 60_000))  # the alert clears
    with Session(engine, expire_on_commit=False) as s:
        _, order = open_case(s, device_id=PURIFIER.id, source="customer", title="Leak",
                             skill="plumbing", duration_min=60, priority=3, at=T0)
        s.add(WorkOrderEvent(work_order_id=order.id, status="on_the_way", at=T0 + 1))
        s.add(DispatchPlan(created_at=T0 + 2, assigned=1, unassigned=0, objective=10))
        device = s.get(Device, PURIFIER.id)
        device.online = not device.online
        s.add(device)
        s.commit()

    events, cursor = feed.poll(cursor)
    kinds = [e.kind for e in events]
    assert kinds.count("plan") == 1 and kinds.count("device") == 1
    cleared = [e.data for e in events if e.kind == "alert"]
    assert [a["action"] for a in cleared] == ["cleared"]
    assert cleared[0]["device_id"] == PURIFIER.id and cleared[0]["severity"]
    steps = [e.data["status"] for e in events if e.kind == "work_order"]
    assert "on_the_way" in steps
    assert all(e.data["work_order_id"] == order.id for e in events if e.kind == "work_order")
    assert feed.poll(cursor)[0] == []  # each change once


def test_a_reconnecting_client_resumes_where_it_left_off() -> None:
    from portal.live_feed import Cursor
    from portal.routers.live_events import event_id, resume_from

    present = Cursor(40, 12, 3, {"d1": True})
    assert resume_from(event_id(Cursor(35, 12, 2)), present) == Cursor(35, 12, 2, {"d1": True})
    assert resume_from(None, present) is present
    assert resume_from("garbage", present) is present
    # An id from the future (another database, a reset) cannot skip events.
    assert resume_from("a99-w99-p99", present) == Cursor(40, 12, 3, {"d1": True})
