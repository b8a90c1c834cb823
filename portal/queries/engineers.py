"""Engineers: the list, their names, and one engineer's jobs with where to go."""

from __future__ import annotations

from sqlmodel import Session, col, select

from asset_registry.tables import Customer, Device, Site
from portal.schemas.engineers import EngineerPublic
from service.tables import Case, Engineer, WorkOrder

# One of an engineer's jobs: the order, its case, the device, its site and customer.
Job = tuple[WorkOrder, Case, Device, Site, Customer]


def list_engineers(session: Session) -> list[EngineerPublic]:
    return [
        EngineerPublic(id=e.id, name=e.name, skills=sorted(e.skill_set()),
                       shift_start=e.shift_start, shift_end=e.shift_end)
        for e in session.exec(select(Engineer).order_by(col(Engineer.id)))
    ]


def engineers_by_id(session: Session) -> list[Engineer]:
    return list(session.exec(select(Engineer).order_by(col(Engineer.id))))


def engineers_by_name(session: Session) -> list[Engineer]:
    return list(session.exec(select(Engineer).order_by(col(Engineer.name))))


def engineer_names(session: Session) -> dict[str, str]:
    """Engineer id -> name."""
    return {engineer_id: name for engineer_id, name
            in session.exec(select(Engineer.id, Engineer.name))}


def engineer_jobs(session: Session, engineer_id: str) -> list[Job]:
    """The engineer's jobs in route order (by ETA, done ones last), with where to go
    and for whom."""
    rows = session.exec(
        select(WorkOrder, Case, Device, Site)
        .join(Case, col(Case.id) == WorkOrder.case_id)
        .join(Device, col(Device.id) == WorkOrder.device_id)
        .join(Site, col(Site.id) == Device.site_id)
        .where(WorkOrder.engineer_id == engineer_id)
        .order_by(col(WorkOrder.status) == "done", col(WorkOrder.eta), col(WorkOrder.id))
    ).all()
    customers = {c.id: c for c in session.exec(
        select(Customer).where(col(Customer.id).in_({site.customer_id for *_, site in rows})))}
    return [(order, case, device, site, customers[site.customer_id])
            for order, case, device, site in rows]
