"""Preventive maintenance in the database: opens each due visit's case, once.

For every device whose model declares `[[maintenance]]` plans, each plan's
occurrences are rows of `maintenance_visit`. The first pass over a device
records seq 0 (the baseline: tracking starts now); a visit whose case is
closed records when it was done and the counter then, the next baseline.
When `service.maintenance.due_to_open` says the next occurrence's work order
is due, its case (source "maintenance", the plan's low priority, clocks due at
the due date) and its `maintenance_visit` row go in one transaction; the row's
unique (device, plan, seq) refuses a second one, so a restart or a second
process cannot open the same occurrence twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from asset_registry.catalog import DeviceModel, MaintenancePlan
from asset_registry.tables import Device
from foundations.database import session_scope
from ingest.tables import LatestValue
from service.cases import open_case
from service.maintenance import Baseline, DueDate, Reading, due_to_open
from service.tables import Case, MaintenanceVisit, WorkOrder, WorkOrderEvent

log = logging.getLogger("fieldpulse.service.maintenance")

SOURCE = "maintenance"


def generate_maintenance(engine: Engine, models: Mapping[str, DeviceModel], now: int
                         ) -> list[int]:
    """Open the case of every occurrence due to open by `now`; returns their ids."""
    planned = {m.id: m.maintenance for m in models.values() if m.maintenance}
    if not planned:
        return []
    with Session(engine) as session:
        devices = session.exec(select(Device.id, Device.model_id)
                               .where(col(Device.model_id).in_(planned))
                               .order_by(Device.id)).all()
    opened = []
    for device_id, model_id in devices:
        for plan in planned[model_id]:
            try:
                case_id = _advance(engine, device_id, plan, now)
            except IntegrityError:
                log.info("maintenance %s of %s: opened elsewhere", plan.id, device_id)
                continue
            if case_id is not None:
                opened.append(case_id)
    return opened


def _advance(engine: Engine, device_id: str, plan: MaintenancePlan, now: int) -> int | None:
    """One device and plan: baseline, completion, or the next occurrence's case."""
    with session_scope(engine) as session:
        last = session.exec(select(MaintenanceVisit)
                            .where(MaintenanceVisit.device_id == device_id,
                                   MaintenanceVisit.plan_id == plan.id)
                            .order_by(col(MaintenanceVisit.seq).desc())).first()
        counter = _counter(session, device_id, plan)
        if last is None:
            last = MaintenanceVisit(device_id=device_id, plan_id=plan.id, seq=0,
                                    opened_at=now, done_at=now)
            session.add(last)
        elif last.done_at is None and not _mark_done(session, last, counter, now):
            return None  # this occurrence's visit is still to come
        assert last.done_at is not None
        due = due_to_open(plan, Baseline(last.done_at, last.done_run_hours), counter, now)
        if due is None:
            return None
        return _open(session, device_id, plan, last.seq + 1, due, now)


def _counter(session: Session, device_id: str, plan: MaintenancePlan) -> Reading | None:
    if plan.run_hours_metric is None:
        return None
    latest = session.get(LatestValue, (device_id, plan.run_hours_metric))
    return None if latest is None else Reading(latest.value, latest.ts)


def _mark_done(session: Session, visit: MaintenanceVisit, counter: Reading | None,
               now: int) -> bool:
    """Record a visit whose case is closed as done (at its job's completion)."""
    case = session.get(Case, visit.case_id)
    if case is None or case.status != "closed":
        return False
    done = session.exec(select(WorkOrderEvent.at)
                        .join(WorkOrder, col(WorkOrder.id) == WorkOrderEvent.work_order_id)
                        .where(WorkOrder.case_id == case.id, WorkOrderEvent.status == "done")
                        .order_by(col(WorkOrderEvent.at).desc())).first()
    visit.done_at = done if done is not None else now
    visit.done_run_hours = counter.value if counter is not None else None
    session.add(visit)
    return True


def _open(session: Session, device_id: str, plan: MaintenancePlan, seq: int, due: DueDate,
          now: int) -> int:
    case, _order = open_case(
        session, device_id=device_id, source=SOURCE, title=plan.title,
        description=f"Plan '{plan.id}', visit {seq}: due by "
                    f"{'run-hours' if due.by == 'run_hours' else 'calendar'}.",
        skill=plan.skill, duration_min=plan.duration_min, priority=plan.priority, at=now,
        parts_needed=plan.parts,
        # Overdue already (a counter past its mark): the contract's terms from now.
        planned_for=due.due_at if due.due_at > now else None)
    session.add(MaintenanceVisit(device_id=device_id, plan_id=plan.id, seq=seq,
                                 case_id=case.id, due_at=due.due_at, opened_at=now))
    session.flush()  # the unique occurrence is checked here, before the commit
    log.info("maintenance %s visit %s of %s due %s: case %s", plan.id, seq, device_id,
             due.due_at, case.id)
    assert case.id is not None
    return case.id
