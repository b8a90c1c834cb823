"""Cases for the case API and the customer's case history: with their SLA clocks (as
of a time) and work orders."""

from __future__ import annotations

from sqlmodel import Session, col, select

from asset_registry.tables import Device, Site
from commands.service import case_commands
from portal.queries.commands import command_public
from portal.schemas.cases import (
    CaseDetail,
    CaseFilePublic,
    CasePublic,
    CaseRecord,
    CaseWithOrders,
    CaseWorkOrder,
    SlaClockPublic,
    WorkOrderEventPublic,
)
from portal.schemas.work_orders import WorkOrderPublic
from service import sla
from service.cases import case_orders
from service.sla_monitor import case_events, clocks_of
from service.tables import Case, CaseAttachment, WorkOrder, WorkOrderEvent

# A device's case with its work orders, each with its timeline.
CaseHistory = tuple[Case, list[tuple[WorkOrder, list[WorkOrderEvent]]]]


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


def list_cases(session: Session, now: int, *, status: str | None = None,
               device_id: str | None = None, customer_id: str | None = None,
               sla_state: str | None = None, limit: int = 200) -> list[CasePublic]:
    """Newest first; the filters (None: any) combine; `sla_state` is the worst clock's
    state as of `now`."""
    query = (select(Case, Site.customer_id).join(Device, col(Device.id) == Case.device_id)
             .join(Site, col(Site.id) == Device.site_id).order_by(col(Case.id).desc()))
    if status:
        query = query.where(Case.status == status)
    if device_id:
        query = query.where(Case.device_id == device_id)
    if customer_id:
        query = query.where(Site.customer_id == customer_id)
    if sla_state is None:
        query = query.limit(limit)
    rows = session.exec(query).all()
    events = case_events(session, [c.id for c, _ in rows if c.id is not None])
    out = []
    for case, case_customer in rows:
        public = _public(case, case_customer, events.get(case.id or 0, []), now)
        if sla_state is None or public.sla_state == sla_state:
            out.append(public)
        if len(out) >= limit:
            break
    return out


def _timelines(session: Session, orders: list[WorkOrder]) -> list[WorkOrderEvent]:
    return list(session.exec(select(WorkOrderEvent)
                             .where(col(WorkOrderEvent.work_order_id).in_([o.id for o in orders]))
                             .order_by(col(WorkOrderEvent.id))))


def case_detail(session: Session, case_id: int, now: int) -> CaseDetail | None:
    row = session.exec(select(Case, Site.customer_id)
                       .join(Device, col(Device.id) == Case.device_id)
                       .join(Site, col(Site.id) == Device.site_id)
                       .where(Case.id == case_id)).first()
    if row is None:
        return None
    case, customer_id = row
    orders = case_orders(session, case)
    timeline = _timelines(session, orders)
    events = [sla.Event(e.status, e.at) for e in sorted(timeline, key=lambda e: e.at)]
    public = _public(case, customer_id, events, now)
    # A closed case's story ends with its last step.
    closed_at = max((e.at for e in events), default=None) if case.status == "closed" else None
    commands = case_commands(session, case.device_id, case.created_at, closed_at,
                             case.alert_id)
    return CaseDetail(
        **public.model_dump(), description=case.description, contact=case.contact,
        commands=[command_public(session, c) for c in commands],
        files=[CaseFilePublic(name=a.file_name, content_type=a.content_type,
                              uploaded_at=a.uploaded_at,
                              url=f"/api/cases/{case_id}/files/{a.file_name}")
               for a in session.exec(select(CaseAttachment)
                                     .where(CaseAttachment.case_id == case_id)
                                     .order_by(col(CaseAttachment.id)))],
        work_orders=[CaseWorkOrder(
            **WorkOrderPublic.model_validate(o, from_attributes=True).model_dump(),
            events=[WorkOrderEventPublic(status=e.status, at=e.at, note=e.note)
                    for e in timeline if e.work_order_id == o.id])
            for o in orders])


def case_with_orders(session: Session, case: Case) -> CaseWithOrders:
    """The case as the intake API answers it: the row and its work orders."""
    return CaseWithOrders(
        case=CaseRecord.model_validate(case, from_attributes=True),
        work_orders=[WorkOrderPublic.model_validate(o, from_attributes=True)
                     for o in case_orders(session, case)])


def device_cases(session: Session, device_id: str) -> list[CaseHistory]:
    """A device's cases, newest first, each with its work orders and their timelines."""
    cases = session.exec(select(Case).where(Case.device_id == device_id)
                         .order_by(col(Case.id).desc())).all()
    orders = list(session.exec(select(WorkOrder).where(WorkOrder.device_id == device_id)
                               .order_by(col(WorkOrder.id))))
    by_order: dict[int, list[WorkOrderEvent]] = {}
    for e in _timelines(session, orders):
        by_order.setdefault(e.work_order_id, []).append(e)
    return [(case, [(o, by_order.get(o.id or 0, [])) for o in orders if o.case_id == case.id])
            for case in cases]
