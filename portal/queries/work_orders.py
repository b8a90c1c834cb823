"""Work orders: the list, a device's orders with their timelines, a case's photos, and
what is on the engineers' routes today."""

from __future__ import annotations

from sqlmodel import Session, col, select

from asset_registry.tables import Device, Site
from portal.schemas.work_orders import WorkOrderPublic
from service.tables import Case, CaseAttachment, WorkOrder, WorkOrderEvent

# Statuses still on an engineer's route today (done jobs drop off the map).
ROUTED = ("assigned", "accepted", "en_route", "on_site")


def list_work_orders(session: Session, engineer_id: str | None = None,
                     device_id: str | None = None, status: str | None = None
                     ) -> list[WorkOrderPublic]:
    query = select(WorkOrder).order_by(col(WorkOrder.id))
    if engineer_id:
        query = query.where(WorkOrder.engineer_id == engineer_id).order_by(
            col(WorkOrder.eta), col(WorkOrder.id))
    if device_id:
        query = query.where(WorkOrder.device_id == device_id)
    if status:
        query = query.where(WorkOrder.status == status)
    return [WorkOrderPublic.model_validate(w, from_attributes=True) for w in session.exec(query)]


def device_work_orders_with_events(session: Session, device_id: str
                                   ) -> list[tuple[WorkOrder, Case, list[WorkOrderEvent]]]:
    """The device's work orders, newest first, with their cases and timelines."""
    rows = session.exec(
        select(WorkOrder, Case).join(Case, col(Case.id) == WorkOrder.case_id)
        .where(WorkOrder.device_id == device_id).order_by(col(WorkOrder.id).desc())
    ).all()
    out = []
    for order, case in rows:
        events = session.exec(select(WorkOrderEvent)
                              .where(WorkOrderEvent.work_order_id == order.id)
                              .order_by(col(WorkOrderEvent.id))).all()
        out.append((order, case, list(events)))
    return out


def case_attachments(session: Session, case_id: int) -> list[CaseAttachment]:
    """The photos the customer sent with the case's fault report."""
    return list(session.exec(select(CaseAttachment).where(CaseAttachment.case_id == case_id)
                             .order_by(col(CaseAttachment.id))))


def routed_stops(session: Session) -> list[tuple[WorkOrder, float, float]]:
    """Every open job on an engineer's route with its place, by engineer and ETA."""
    rows = session.exec(
        select(WorkOrder, Site.lat, Site.lon)
        .join(Device, col(Device.id) == WorkOrder.device_id)
        .join(Site, col(Site.id) == Device.site_id)
        .where(col(WorkOrder.status).in_(ROUTED), col(WorkOrder.engineer_id).is_not(None))
        .order_by(col(WorkOrder.engineer_id), col(WorkOrder.eta), col(WorkOrder.route_seq),
                  col(WorkOrder.id))
    ).all()
    return [(order, lat, lon) for order, lat, lon in rows]
