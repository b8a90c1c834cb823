"""The outbox: every change of a case, work order or alert, in the change's transaction."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from asset_registry.catalog import load_models
from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from ingest.checks import AcceptedReading
from integrations.domain_events.tables import OutboxEvent
from notifications.alert_notices import record_alert_notice
from rules.actions import WorkOrderRequest
from rules.service import RulesService
from service.cases import open_case
from service.tables import Case, WorkOrder
from service.work_orders import set_status
from simulators.fleet import generate_fleet
from support import evaluate

FLEET = generate_fleet(seed=7, sites=3)
PURIFIER = next(d for d in FLEET.devices if d.model_id == "aquapure-ro500")
NORMAL = {"flow_lpm": 12.0, "tds_ppm": 25.0, "inlet_pressure_bar": 3.2, "filter_hours": 1000.0}
T0 = 1_800_000_000_000


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    # The tables as declared (test_schema.py holds the migrations to them).
    upgrade(engine)
    import_fleet(engine, FLEET)
    return engine


def events(engine: Engine) -> list[OutboxEvent]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id))))


def _open(session: Session) -> tuple[Case, WorkOrder]:
    return open_case(session, device_id=PURIFIER.id, source="customer", title="leak",
                     skill="water-treatment", duration_min=30, priority=3)


def test_a_change_and_its_events_commit_together(engine: Engine) -> None:
    with session_scope(engine) as session:
        case, order = _open(session)
    got = events(engine)
    assert [(e.event_type, e.record_id, e.seq) for e in got] == [
        ("case.created", str(case.id), 1), ("work_order.created", str(order.id), 1)]
    state = json.loads(got[1].payload)
    assert state["id"] == order.id and state["status"] == "new" and state["case_id"] == case.id


def test_a_rolled_back_change_leaves_no_event(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        _open(session)  # flushed, so the hook has written its rows in this transaction
        raise RuntimeError("the change fails after the flush")
    assert events(engine) == []
    with Session(engine) as session:
        assert session.exec(select(Case)).all() == []


def test_dispatch_status_changes_are_numbered_per_record(engine: Engine) -> None:
    with session_scope(engine) as session:
        _, order = _open(session)
    for status in ("assigned", "accepted", "done"):
        with session_scope(engine) as session:
            current = session.get(WorkOrder, order.id)
            assert current is not None
            if status == "assigned":
                current.engineer_id = FLEET.engineers[0].id
            set_status(session, current, status)
    mine = [e for e in events(engine) if e.record_type == "work_order"]
    assert [e.seq for e in mine] == [1, 2, 3, 4]
    assert [json.loads(e.payload)["status"] for e in mine] == ["new", "assigned", "accepted",
                                                               "done"]
    assert "status" in json.loads(mine[-1].changed)
    # "done" closes the case: an event of the case, in the same transaction.
    assert [(e.event_type, json.loads(e.payload)["status"]) for e in events(engine)
            if e.record_type == "case"] == [("case.created", "open"), ("case.updated", "closed")]


def test_plan_bookkeeping_alone_is_no_event_but_rides_with_the_next_change(
        engine: Engine) -> None:
    with session_scope(engine) as session:
        _, order = _open(session)
    with session_scope(engine) as session:
        current = session.get(WorkOrder, order.id)
        assert current is not None
        # What every replan does to every open order.
        current.updated_at, current.eta, current.route_seq = current.updated_at + 1, T0, 2
        session.add(current)
    assert len(events(engine)) == 2
    with session_scope(engine) as session:
        current = session.get(WorkOrder, order.id)
        assert current is not None
        current.priority = 5
        session.add(current)
    last = events(engine)[-1]
    assert (last.event_type, json.loads(last.changed)) == ("work_order.updated", ["priority"])
    assert json.loads(last.payload)["eta"] == T0


def test_rules_code_paths_record_alert_events(engine: Engine) -> None:
    def open_work_order(session: Session, req: WorkOrderRequest) -> int:
        case, _ = open_case(session, device_id=req.device_id, source="alert",
                            alert_id=req.alert_id, title=req.title, skill=req.skill,
                            duration_min=req.duration_min, priority=req.priority)
        assert case.id is not None
        return case.id

    rules = RulesService(engine, load_models(), open_work_order,
                         record_notice=record_alert_notice, clock=lambda: T0)
    evaluate(rules, [AcceptedReading(PURIFIER.id, PURIFIER.model_id, T0,
                                       {**NORMAL, "tds_ppm": 200.0})])
    raised = [e for e in events(engine) if e.record_type == "alert"]
    assert raised and raised[0].event_type == "alert.raised"
    alert_id = int(raised[0].record_id)
    rules.acknowledge(alert_id, by="dana")
    trail = [(e.event_type, e.seq, json.loads(e.payload)["state"]) for e in events(engine)
             if e.record_type == "alert" and e.record_id == str(alert_id)]
    assert trail[0] == ("alert.raised", 1, "active")
    assert trail[-1] == ("alert.updated", len(trail), "acknowledged")


def test_concurrent_writers_of_one_record_number_its_events_without_gaps(
        engine: Engine) -> None:
    with session_scope(engine) as session:
        _, order = _open(session)

    def bump(times: int) -> None:
        for _ in range(times):
            with session_scope(engine) as session:
                current = session.get(WorkOrder, order.id)
                assert current is not None
                current.duration_min += 1  # read, then write: writers really collide
                session.add(current)

    threads = [threading.Thread(target=bump, args=(10,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mine = [e for e in events(engine) if e.record_type == "work_order"]
    assert sorted(e.seq for e in mine) == list(range(1, 42))
    # In id order too: a receiver ordering by either sees the same history.
    assert [e.seq for e in mine] == list(range(1, 42))
