"""The dispatcher's I/O: cases and work orders in the database, plans from the solver."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from asset_registry.database import session_scope
from asset_registry.tables import Device, Site
from dispatch.problem import Engineer as SolverEngineer
from dispatch.problem import Job, Location, Problem
from dispatch.shifts import next_shift_window
from dispatch.solver import solve
from dispatch.tables import (
    OPEN_STATUSES,
    WORK_ORDER_STATUSES,
    Case,
    DispatchPlan,
    Engineer,
    WorkOrder,
    WorkOrderEvent,
)

log = logging.getLogger("fieldpulse.dispatch")

HORIZON_S = 48 * 3600


def now_ms() -> int:
    return int(time.time() * 1000)


def open_case(
    session: Session, *, device_id: str, source: str, title: str, skill: str,
    duration_min: int, priority: int, description: str = "", contact: str = "",
    alert_id: int | None = None, at: int | None = None,
) -> tuple[Case, WorkOrder]:
    """Open a service case with one work order, ready for the next plan."""
    at = now_ms() if at is None else at
    case = Case(device_id=device_id, source=source, alert_id=alert_id, title=title,
                description=description, contact=contact, created_at=at)
    session.add(case)
    session.flush()
    order = WorkOrder(case_id=case.id, device_id=device_id, skill=skill,
                      duration_min=duration_min, priority=priority, created_at=at, updated_at=at)
    session.add(order)
    session.flush()
    session.add(WorkOrderEvent(work_order_id=order.id, status="new", at=at, note=title))
    log.info("case %s opened (%s) with work order %s for %s", case.id, source, order.id, device_id)
    return case, order


class StatusError(ValueError):
    pass


def set_status(session: Session, order: WorkOrder, status: str, note: str = "") -> None:
    """Move a work order forward in its life cycle; going backwards is refused."""
    if status not in WORK_ORDER_STATUSES:
        raise StatusError(f"unknown status '{status}' (one of {WORK_ORDER_STATUSES})")
    if WORK_ORDER_STATUSES.index(status) <= WORK_ORDER_STATUSES.index(order.status):
        raise StatusError(f"work order {order.id} is already '{order.status}'")
    order.status, order.updated_at = status, now_ms()
    session.add(order)
    session.add(WorkOrderEvent(work_order_id=order.id, status=status, at=order.updated_at,
                               note=note))
    if status == "done":
        case = session.get(Case, order.case_id)
        if case is not None:
            case.status = "closed"
            session.add(case)


@dataclass(frozen=True, slots=True)
class PlanSummary:
    plan_id: int
    assigned: int
    unassigned: int


def replan(engine: Engine, tz: ZoneInfo, time_limit_s: float = 2.0,
           at_ms: int | None = None) -> PlanSummary:
    """Plan every open work order onto engineers and store the result."""
    at_ms = now_ms() if at_ms is None else at_ms
    now = datetime.fromtimestamp(at_ms / 1000, tz)
    with Session(engine) as session:
        engineers = session.exec(select(Engineer).order_by(Engineer.id)).all()
        rows = session.exec(
            select(WorkOrder, Site.lat, Site.lon)
            .join(Device, Device.id == WorkOrder.device_id)
            .join(Site, Site.id == Device.site_id)
            .where(col(WorkOrder.status).in_(OPEN_STATUSES))
            .order_by(WorkOrder.id)
        ).all()
    problem = Problem(
        engineers=tuple(
            SolverEngineer(
                id=e.id, skills=e.skill_set(),
                start=Location(e.home_lat, e.home_lon), end=Location(e.home_lat, e.home_lon),
                shift_start=window[0], shift_end=window[1],
            )
            for e in engineers
            for window in [next_shift_window(e.shift_start, e.shift_end, now)]
        ),
        jobs=tuple(
            Job(id=str(wo.id), location=Location(lat, lon), skill=wo.skill,
                duration=wo.duration_min * 60, priority=wo.priority)
            for wo, lat, lon in rows
        ),
        horizon=HORIZON_S,
    )
    plan = solve(problem, time_limit_s=time_limit_s)
    assignment = {
        stop.job_id: (route.engineer_id, seq, at_ms + stop.arrival * 1000)
        for route in plan.routes
        for seq, stop in enumerate(route.stops)
    }
    reasons = {u.job_id: u.reason for u in plan.unassigned}
    with session_scope(engine) as session:
        for wo, _lat, _lon in rows:
            order = session.get(WorkOrder, wo.id)
            if order is None or order.status not in OPEN_STATUSES:
                continue  # moved on (e.g. engineer started it) while we solved
            engineer_id, seq, eta = assignment.get(str(wo.id), (None, None, None))
            if engineer_id != order.engineer_id:
                status = "assigned" if engineer_id else "new"
                note = f"assigned to {engineer_id}" if engineer_id else reasons.get(str(wo.id), "")
                session.add(WorkOrderEvent(work_order_id=order.id, status=status, at=at_ms,
                                           note=note))
                order.status = status
            order.engineer_id, order.route_seq, order.eta = engineer_id, seq, eta
            order.unassigned_reason = reasons.get(str(wo.id))
            order.updated_at = at_ms
            session.add(order)
        record = DispatchPlan(created_at=at_ms, assigned=len(assignment),
                              unassigned=len(plan.unassigned), objective=plan.objective)
        session.add(record)
        session.flush()
        summary = PlanSummary(record.id, len(assignment), len(plan.unassigned))
    log.info("plan %s: %s assigned, %s unassigned", summary.plan_id, summary.assigned,
             summary.unassigned)
    return summary


class Dispatcher:
    """Replans in the background when asked (new work), and periodically."""

    def __init__(self, engine: Engine, tz: ZoneInfo, period_s: float = 60.0,
                 debounce_s: float = 1.0, time_limit_s: float = 2.0) -> None:
        self._engine, self._tz = engine, tz
        self._period_s, self._debounce_s, self._time_limit_s = period_s, debounce_s, time_limit_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)
        self.last: PlanSummary | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def request(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._period_s)
            if self._stop.is_set():
                return
            # Let a burst of new work orders settle into one plan.
            time.sleep(self._debounce_s)
            self._wake.clear()
            try:
                self.last = replan(self._engine, self._tz, self._time_limit_s)
            except Exception:
                log.exception("dispatch plan failed; will retry")
