"""Preventive maintenance: plans in the model files, due dates by run-hours or months
(whichever first), each occurrence's work order opened once and on time, and
dispatched together with corrective work. Every time is fixed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from service_world import AT_MS, DAY_MS, HOUR_MS, TZ, service_world
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from asset_registry.catalog import CatalogError, MaintenancePlan, load_models, parse_model
from dispatch.planning import replan
from foundations.database import session_scope
from ingest.tables import LatestValue
from service.cases import open_case
from service.maintenance import Baseline, Reading, add_months, due_to_open, next_due
from service.maintenance_runner import generate_maintenance
from service.tables import Case, MaintenanceVisit, WorkOrder, WorkOrderEvent

MODELS = load_models()
FILTER = MODELS["aquapure-ro500"].maintenance[0]  # 6,000 run-hours or 12 months, 14 days ahead


def _plan(**changes: object) -> MaintenancePlan:
    base = {"id": "p", "title": "t", "skill": "s", "duration_min": 60, "lead_days": 14}
    return MaintenancePlan(**{**base, **changes})  # type: ignore[arg-type]


# -- the plans in the model files --------------------------------------------------------------

def test_every_model_declares_a_plan_and_a_bad_one_is_refused() -> None:
    assert FILTER.every_run_hours == 6000 and FILTER.run_hours_metric == "filter_hours"
    assert FILTER.every_months == 12 and FILTER.skill == "water-treatment"
    # The chiller and the pump report no run-hours counter: their plans go by months.
    for model_id in ("polarflow-ch200", "torrent-cp75"):
        (plan,) = MODELS[model_id].maintenance
        assert plan.every_months and plan.every_run_hours is None
    raw = {"id": "m", "name": "M", "category": "c", "service_skill": "s",
           "service_minutes": 30, "attributes": {}}
    with pytest.raises(CatalogError, match="run_hours_metric"):
        parse_model({**raw, "maintenance": [{"id": "x", "title": "t", "lead_days": 1,
                                             "every_run_hours": 100}]}, "m.toml")
    with pytest.raises(CatalogError, match="every_months, every_run_hours"):
        parse_model({**raw, "maintenance": [{"id": "x", "title": "t", "lead_days": 1}]},
                    "m.toml")


# -- what is due when (pure) -------------------------------------------------------------------

def test_due_by_months_or_run_hours_whichever_comes_first() -> None:
    plan = _plan(every_months=12, every_run_hours=6000, run_hours_metric="h")
    start = Baseline(at=AT_MS)
    # No counter yet: the calendar alone.
    assert next_due(plan, start, None).due_at == add_months(AT_MS, 12)  # type: ignore[union-attr]
    # 5,000 h on a counter that counts from its reset: 1,000 h to go, running around the clock.
    due = next_due(plan, start, Reading(5000, AT_MS))
    assert due is not None and (due.due_at, due.by) == (AT_MS + 1000 * HOUR_MS, "run_hours")
    assert due.open_at == due.due_at - 14 * DAY_MS
    # Measured since the last visit: 12 h a day, so 6,000 h take 500 days; the year is sooner.
    done = Baseline(at=AT_MS, run_hours=7000)
    due = next_due(plan, done, Reading(7000 + 12 * 30, AT_MS + 30 * DAY_MS))
    assert due is not None and (due.due_at, due.by) == (add_months(AT_MS, 12), "months")
    # A counter found below its value at the last visit was reset: it counts from zero.
    due = next_due(plan, done, Reading(5990, AT_MS + 2 * DAY_MS))
    assert due is not None and due.due_at == AT_MS + 2 * DAY_MS + 10 * HOUR_MS
    assert due_to_open(plan, start, Reading(100, AT_MS), AT_MS) is None
    assert add_months(int(datetime(2027, 1, 31, 12, tzinfo=TZ).timestamp() * 1000), 1) == \
        int(datetime(2027, 2, 28, 12, tzinfo=TZ).timestamp() * 1000)


# -- the generator -----------------------------------------------------------------------------

@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return service_world(tmp_path)


def _counter(engine: Engine, device_id: str, hours: float, at: int) -> None:
    with session_scope(engine) as s:
        s.merge(LatestValue(device_id=device_id, metric="filter_hours", ts=at, value=hours))


def _maintenance_cases(engine: Engine) -> list[tuple[Case, WorkOrder]]:
    """The other devices of the world report no counter: only the calendar counts there."""
    with Session(engine) as s:
        return list(s.exec(select(Case, WorkOrder)
                           .join(WorkOrder, col(WorkOrder.case_id) == Case.id)
                           .where(Case.source == "maintenance").order_by(col(Case.id))).all())


def test_a_due_plan_opens_its_work_order_on_time_and_only_once(engine: Engine) -> None:
    _counter(engine, "dev-standard", 5000, AT_MS)  # 1,000 h to go: due in 41 days 16 h
    due_at = AT_MS + 1000 * HOUR_MS
    open_at = due_at - 14 * DAY_MS
    now = [AT_MS]
    assert generate_maintenance(engine, MODELS, now[0]) == []  # tracking starts; nothing due yet
    now[0] = open_at - 1
    assert generate_maintenance(engine, MODELS, now[0]) == []
    now[0] = open_at
    (case_id,) = generate_maintenance(engine, MODELS, now[0])
    ((case, order),) = [(c, o) for c, o in _maintenance_cases(engine)
                        if c.device_id == "dev-standard"]
    assert case.id == case_id and case.title == FILTER.title
    assert (order.skill, order.duration_min, order.priority) == ("water-treatment", 60, 1)
    assert order.sla_due == due_at == case.response_due  # on site by the due date
    assert order.status == "new" and order.created_at == open_at
    # Again, and after a restart: the occurrence is open already.
    assert generate_maintenance(engine, MODELS, now[0]) == []
    # A restart (the same pass, from scratch) opens nothing twice.
    assert generate_maintenance(engine, MODELS, open_at + DAY_MS) == []
    standard = [c for c, _ in _maintenance_cases(engine) if c.device_id == "dev-standard"]
    assert len(standard) == 1


def test_the_next_occurrence_counts_from_the_completed_visit(engine: Engine) -> None:
    _counter(engine, "dev-standard", 6100, AT_MS)  # already past its mark: due now
    (case_id,) = [c for c in generate_maintenance(engine, MODELS, AT_MS)
                  if _device_of(engine, c) == "dev-standard"]
    done_at = AT_MS + 3 * DAY_MS
    with session_scope(engine) as s:
        order = s.exec(select(WorkOrder).where(WorkOrder.case_id == case_id)).one()
        order.status = "done"
        s.add(WorkOrderEvent(work_order_id=order.id or 0, status="done", at=done_at))
        case = s.get(Case, case_id)
        assert case is not None
        case.status = "closed"
    _counter(engine, "dev-standard", 6172, done_at)  # not reset by the visit
    assert generate_maintenance(engine, MODELS, done_at + HOUR_MS) == []
    with Session(engine) as s:
        visit = s.exec(select(MaintenanceVisit).where(MaintenanceVisit.case_id == case_id)).one()
    assert (visit.seq, visit.done_at, visit.done_run_hours) == (1, done_at, 6172)
    # 6,000 h from 6,172 at the visit, around the clock: 250 days later, sooner than a year.
    next_open = done_at + 6000 * HOUR_MS - 14 * DAY_MS
    assert _standard_cases(engine, next_open - 1) == 1
    assert _standard_cases(engine, next_open) == 2
    with Session(engine) as s:
        second = s.exec(select(MaintenanceVisit).where(MaintenanceVisit.seq == 2,
                                                       MaintenanceVisit.device_id
                                                       == "dev-standard")).one()
    assert second.due_at == done_at + 6000 * HOUR_MS


def _device_of(engine: Engine, case_id: int) -> str:
    with Session(engine) as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case.device_id


def _standard_cases(engine: Engine, now: int) -> int:
    generate_maintenance(engine, MODELS, now)
    return sum(1 for c, _ in _maintenance_cases(engine) if c.device_id == "dev-standard")


def test_a_calendar_plan_opens_its_lead_days_ahead(tmp_path: Path) -> None:
    engine = service_world(tmp_path, model_id="polarflow-ch200")  # every 6 months, 21 days ahead
    assert generate_maintenance(engine, MODELS, AT_MS) == []
    open_at = add_months(AT_MS, 6) - 21 * DAY_MS
    assert generate_maintenance(engine, MODELS, open_at - 1) == []
    assert len(generate_maintenance(engine, MODELS, open_at)) == 3  # one per device


# -- dispatched with corrective work -----------------------------------------------------------

def _corrective(engine: Engine, at: int) -> int:
    with session_scope(engine) as s:
        _, order = open_case(s, device_id="dev-basic", source="customer", title="Leak",
                             skill="water-treatment", duration_min=90, priority=3, at=at)
        assert order.id is not None
        return order.id


def _preventive(engine: Engine, at: int) -> int:
    _counter(engine, "dev-standard", 6100, at)  # due now
    generate_maintenance(engine, MODELS, at)
    ((_, order),) = [(c, o) for c, o in _maintenance_cases(engine)
                     if c.device_id == "dev-standard"]
    assert order.id is not None
    return order.id


def test_one_replan_assigns_preventive_and_corrective_work_together(engine: Engine) -> None:
    corrective, preventive = _corrective(engine, AT_MS), _preventive(engine, AT_MS)
    summary = replan(engine, TZ, time_limit_s=1, at_ms=AT_MS)  # 09:00: the whole day ahead
    assert (summary.assigned, summary.unassigned) == (2, 0)
    with Session(engine) as s:
        orders = [s.get(WorkOrder, i) for i in (corrective, preventive)]
    assert all(o is not None and o.engineer_id == "eve" and o.status == "assigned"
               for o in orders)


def test_corrective_work_goes_first_when_capacity_is_short(engine: Engine) -> None:
    late = int(datetime(2026, 3, 3, 15, 0, tzinfo=TZ).timestamp() * 1000)  # 2 h of shift left
    corrective, preventive = _corrective(engine, late), _preventive(engine, late)
    summary = replan(engine, TZ, time_limit_s=1, at_ms=late)  # 90 + 60 min do not fit in 2 h
    assert (summary.assigned, summary.unassigned) == (1, 1)
    with Session(engine) as s:
        fixed, planned = s.get(WorkOrder, corrective), s.get(WorkOrder, preventive)
    assert fixed is not None and fixed.engineer_id == "eve"
    assert planned is not None and planned.engineer_id is None and planned.unassigned_reason
