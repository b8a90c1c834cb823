"""Reads for the case API and the customer's case history: cases with their SLA
clocks (as of a time) and work orders."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from sqlmodel import Session, col, select

from asset_registry.tables import Device, Site
from portal.schemas import WorkOrderPublic
from service import sla
from service.sla_monitor import case_events, clocks_of
from service.tables import Case, WorkOrder, WorkOrderEvent


class SlaClockPublic(BaseModel):
    name: str  # response (engineer on site) | resolution (case closed)
    due: int
    warn_at: int
    met_at: int | None
    state: str  # ok | warning | breached | met
    warned_at: int | None
    breached_at: int | None


class CasePublic(BaseModel):
    id: int
    device_id: str
    customer_id: str
    source: str
    alert_id: int | None
    title: str
    status: str
    created_at: int
    sla_level: str
    sla_state: str  # the worst of its clocks
    clocks: list[SlaClockPublic]


class WorkOrderEventPublic(BaseModel):
    status: str
    at: int
    note: str


class CaseWorkOrder(WorkOrderPublic):
    events: list[WorkOrderEventPublic]


class CaseDetail(CasePublic):
    description: str
    contact: str
    work_orders: list[CaseWorkOrder]


@dataclass(frozen=True, slots=True)
class CaseFilter:
    status: str | None = None
    device_id: str | None = None
    customer_id: str | None = None
    sla_state: str | None = None
    limit: int = 200


def _public(case: Case, customer_id: str, events: list[sla.Event], now: int) -> CasePublic:
    clocks = clocks_of(case, events).all()
    return CasePublic(
        id=case.id or 0, device_id=case.device_id, customer_id=customer_id, source=case.source,
        alert_id=case.alert_id, title=case.title, status=case.status,
        created_at=case.created_at, sla_level=case.sla_level,
        sla_state=sla.worst(c.state(now) for c in clocks),
        clocks=[SlaClockPublic(name=c.name, due=c.due, warn_at=c.warn_at, met_at=c.met_at,
                               state=c.state(now),
                               warned_at=getattr(case, f"{c.name}_warned_at"),
                               breached_at=getattr(case, f"{c.name}_breached_at"))
                for c in clocks])


def list_cases(session: Session, where: CaseFilter, now: int) -> list[CasePublic]:
    """Newest first."""
    query = (select(Case, Site.customer_id).join(Device, col(Device.id) == Case.device_id)
             .join(Site, col(Site.id) == Device.site_id).order_by(col(Case.id).desc()))
    if where.status:
        query = query.where(Case.status == where.status)
    if where.device_id:
        query = query.where(Case.device_id == where.device_id)
    if where.customer_id:
        query = query.where(Site.customer_id == where.customer_id)
    if where.sla_state is None:
        query = query.limit(where.limit)
    rows = session.exec(query).all()
    events = case_events(session, [c.id for c, _ in rows if c.id is not None])
    out = []
    for case, customer_id in rows:
        public = _public(case, customer_id, events.get(case.id or 0, []), now)
        if where.sla_state is None or public.sla_state == where.sla_state:
            out.append(public)
        if len(out) >= where.limit:
            break
    return out


def case_detail(session: Session, case_id: int, now: int) -> CaseDetail | None:
    row = session.exec(select(Case, Site.customer_id)
                       .join(Device, col(Device.id) == Case.device_id)
                       .join(Site, col(Site.id) == Device.site_id)
                       .where(Case.id == case_id)).first()
    if row is None:
        return None
    case, customer_id = row
    orders = session.exec(select(WorkOrder).where(WorkOrder.case_id == case_id)
                          .order_by(col(WorkOrder.id))).all()
    timeline = session.exec(select(WorkOrderEvent)
                            .where(col(WorkOrderEvent.work_order_id).in_([o.id for o in orders]))
                            .order_by(col(WorkOrderEvent.id))).all()
    events = [sla.Event(e.status, e.at) for e in sorted(timeline, key=lambda e: e.at)]
    public = _public(case, customer_id, events, now)
    return CaseDetail(
        **public.model_dump(), description=case.description, contact=case.contact,
        work_orders=[CaseWorkOrder(
            **WorkOrderPublic.model_validate(o, from_attributes=True).model_dump(),
            events=[WorkOrderEventPublic(status=e.status, at=e.at, note=e.note)
                    for e in timeline if e.work_order_id == o.id])
            for o in orders])


def device_cases(session: Session, device_id: str
                 ) -> list[tuple[Case, list[tuple[WorkOrder, list[WorkOrderEvent]]]]]:
    """A device's cases, newest first, each with its work orders and their timelines."""
    cases = session.exec(select(Case).where(Case.device_id == device_id)
                         .order_by(col(Case.id).desc())).all()
    orders = session.exec(select(WorkOrder).where(WorkOrder.device_id == device_id)
                          .order_by(col(WorkOrder.id))).all()
    events = session.exec(select(WorkOrderEvent)
                          .where(col(WorkOrderEvent.work_order_id).in_([o.id for o in orders]))
                          .order_by(col(WorkOrderEvent.id))).all()
    by_order: dict[int, list[WorkOrderEvent]] = {}
    for e in events:
        by_order.setdefault(e.work_order_id, []).append(e)
    return [(case, [(o, by_order.get(o.id or 0, [])) for o in orders if o.case_id == case.id])
            for case in cases]
