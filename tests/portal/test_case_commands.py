"""A case's detail tells its remote diagnosis: the commands sent to its device while it
was open, and those sent from the alert that opened it, each with its steps — and no
other device's, and nothing from before or after the case."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from asset_registry.catalog import load_models
from commands import service
from commands.service import Caller
from fieldpulse.fleet_import import import_fleet
from fieldpulse.parts import open_database
from fieldpulse.settings import Settings
from foundations.database import session_scope
from portal.queries.cases import case_detail
from rules.tables import Alert
from service.tables import Case, WorkOrder, WorkOrderEvent
from simulators.fleet import Fleet

MODELS = load_models()
T0 = 1_800_000_000_000
MINUTE = 60_000


def _engine(tmp_path: Path, fleet: Fleet) -> Engine:
    engine = open_database(Settings(data_dir=tmp_path / "data"))
    import_fleet(engine, fleet)
    return engine


def _read_now(engine: Engine, device_id: str, model_id: str, at: int,
              alert_id: int | None = None) -> str:
    with session_scope(engine) as session:
        metric = sorted(MODELS[model_id].attributes)[0]
        return service.create_command(session, MODELS, Caller("disp", "dispatcher"),
                                      device_id, "read_now", {"metrics": [metric]}, 600, at,
                                      alert_id).id


def test_a_cases_detail_lists_the_commands_of_its_story(tmp_path: Path,
                                                        small_fleet: Fleet) -> None:
    engine = _engine(tmp_path, small_fleet)
    device, other = small_fleet.devices[0], small_fleet.devices[1]
    with session_scope(engine) as session:
        alert = Alert(device_id=device.id, rule_id="r", metric="m", severity="high",
                      message="high", raised_at=T0, raised_value=1.0)
        session.add(alert)
        session.flush()
        alert_id = alert.id
    from_alert = _read_now(engine, device.id, device.model_id, T0 + MINUTE, alert_id)
    before = _read_now(engine, device.id, device.model_id, T0 + 2 * MINUTE)
    with session_scope(engine) as session:
        case = Case(device_id=device.id, source="alert", alert_id=alert_id, title="high",
                    created_at=T0 + 3 * MINUTE)
        session.add(case)
        session.flush()
        assert case.id is not None
        case_id = case.id
        order = WorkOrder(case_id=case_id, device_id=device.id, skill="s", duration_min=30,
                          priority=3, created_at=T0 + 3 * MINUTE, updated_at=T0 + 3 * MINUTE)
        session.add(order)
        session.flush()
        order_id = order.id
    during = _read_now(engine, device.id, device.model_id, T0 + 4 * MINUTE)
    elsewhere = _read_now(engine, other.id, other.model_id, T0 + 4 * MINUTE)

    with Session(engine) as session:
        detail = case_detail(session, case_id, T0 + 5 * MINUTE)
    assert detail is not None
    assert [c.id for c in detail.commands] == [from_alert, during]
    assert {before, elsewhere}.isdisjoint(c.id for c in detail.commands)
    assert [e.status for e in detail.commands[1].history] == ["queued"]

    # Closed: a command after its last step is no longer part of its story.
    with session_scope(engine) as session:
        stored = session.get(Case, case_id)
        assert stored is not None and order_id is not None
        stored.status = "closed"
        session.add(stored)
        session.add(WorkOrderEvent(work_order_id=order_id, status="done",
                                   at=T0 + 6 * MINUTE))
    after = _read_now(engine, device.id, device.model_id, T0 + 7 * MINUTE)
    with Session(engine) as session:
        closed = case_detail(session, case_id, T0 + 8 * MINUTE)
    assert closed is not None
    assert [c.id for c in closed.commands] == [from_alert, during]
    assert after not in {c.id for c in closed.commands}
