"""Read queries behind the API and the pages; the handlers stay free of SQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlmodel import Session, col, func, select

from asset_registry.catalog import DeviceModel, severity_rank
from asset_registry.tables import Customer, Device, Site
from dispatch.tables import Case, Engineer, WorkOrder, WorkOrderEvent
from ingest.tables import DeadLetter, LatestValue
from portal.schemas import (
    AlertPublic,
    DeadLetterPublic,
    DeviceDetail,
    DevicePublic,
    EngineerPublic,
    LatestValuePublic,
    WorkOrderPublic,
)
from rules.tables import OPEN_STATES, Alert


def _open_alerts_by_device(session: Session) -> dict[str, list[Alert]]:
    by_device: dict[str, list[Alert]] = defaultdict(list)
    for alert in session.exec(select(Alert).where(col(Alert.state).in_(OPEN_STATES))):
        by_device[alert.device_id].append(alert)
    return by_device


def _device_public(device: Device, site: Site, customer: Customer, alerts: list[Alert],
                   models: Mapping[str, DeviceModel]) -> DevicePublic:
    worst = max((a.severity for a in alerts), key=severity_rank, default=None)
    model = models.get(device.model_id)
    return DevicePublic(
        id=device.id, serial=device.serial, model_id=device.model_id,
        model_name=model.name if model else device.model_id,
        customer_id=customer.id, customer_name=customer.name, site_id=site.id,
        site_name=site.name, lat=site.lat, lon=site.lon, gateway_id=device.gateway_id,
        online=device.online, last_seen=device.last_seen, worst_severity=worst,
        open_alerts=len(alerts),
    )


def _device_rows(session: Session):
    return (
        select(Device, Site, Customer)
        .join(Site, Site.id == Device.site_id)
        .join(Customer, Customer.id == Site.customer_id)
    )


def list_devices(session: Session, models: Mapping[str, DeviceModel],
                 severity: str | None = None) -> list[DevicePublic]:
    alerts = _open_alerts_by_device(session)
    devices = [
        _device_public(d, s, c, alerts.get(d.id, []), models)
        for d, s, c in session.exec(_device_rows(session).order_by(Device.id))
    ]
    if severity:
        devices = [d for d in devices if d.worst_severity == severity]
    return devices


def latest_values(session: Session, device: Device, models: Mapping[str, DeviceModel]
                  ) -> list[LatestValuePublic]:
    model = models.get(device.model_id)
    out = []
    for row in session.exec(select(LatestValue).where(LatestValue.device_id == device.id)
                            .order_by(LatestValue.metric)):
        attribute = model.attributes.get(row.metric) if model else None
        out.append(LatestValuePublic(
            metric=row.metric, label=attribute.label if attribute else row.metric,
            unit=attribute.unit if attribute else "", value=row.value, ts=row.ts,
        ))
    return out


def device_detail(session: Session, device_id: str, models: Mapping[str, DeviceModel]
                  ) -> DeviceDetail | None:
    row = session.exec(_device_rows(session).where(Device.id == device_id)).first()
    if row is None:
        return None
    device, site, customer = row
    alerts = session.exec(select(Alert).where(Alert.device_id == device_id,
                                              col(Alert.state).in_(OPEN_STATES))).all()
    public = _device_public(device, site, customer, list(alerts), models)
    return DeviceDetail(**public.model_dump(), latest=latest_values(session, device, models))


def device_by_token(session: Session, token: str) -> Device | None:
    return session.exec(select(Device).where(Device.qr_token == token)).first()


def list_alerts(session: Session, state: str | None = None, device_id: str | None = None,
                limit: int = 500) -> list[AlertPublic]:
    query = select(Alert).order_by(col(Alert.id).desc()).limit(limit)
    if state == "open":
        query = query.where(col(Alert.state).in_(OPEN_STATES))
    elif state:
        query = query.where(Alert.state == state)
    if device_id:
        query = query.where(Alert.device_id == device_id)
    return [AlertPublic.model_validate(a, from_attributes=True) for a in session.exec(query)]


def list_work_orders(session: Session, engineer_id: str | None = None,
                     device_id: str | None = None, status: str | None = None
                     ) -> list[WorkOrderPublic]:
    query = select(WorkOrder).order_by(WorkOrder.id)
    if engineer_id:
        query = query.where(WorkOrder.engineer_id == engineer_id).order_by(
            WorkOrder.eta, WorkOrder.id)
    if device_id:
        query = query.where(WorkOrder.device_id == device_id)
    if status:
        query = query.where(WorkOrder.status == status)
    return [WorkOrderPublic.model_validate(w, from_attributes=True) for w in session.exec(query)]


def engineer_jobs(session: Session, engineer_id: str) -> list[tuple[WorkOrder, Case, Device,
                                                                       Site, Customer]]:
    """The engineer's jobs in route order (by ETA), with where to go and for whom."""
    return list(session.exec(
        select(WorkOrder, Case, Device, Site, Customer)
        .join(Case, Case.id == WorkOrder.case_id)
        .join(Device, Device.id == WorkOrder.device_id)
        .join(Site, Site.id == Device.site_id)
        .join(Customer, Customer.id == Site.customer_id)
        .where(WorkOrder.engineer_id == engineer_id)
        .order_by(col(WorkOrder.status) == "done", WorkOrder.eta, WorkOrder.id)
    ).all())


def list_engineers(session: Session) -> list[EngineerPublic]:
    return [
        EngineerPublic(id=e.id, name=e.name, skills=sorted(e.skill_set()),
                       shift_start=e.shift_start, shift_end=e.shift_end)
        for e in session.exec(select(Engineer).order_by(Engineer.id))
    ]


def device_work_orders_with_events(session: Session, device_id: str
                                   ) -> list[tuple[WorkOrder, Case, list[WorkOrderEvent]]]:
    rows = session.exec(
        select(WorkOrder, Case).join(Case, Case.id == WorkOrder.case_id)
        .where(WorkOrder.device_id == device_id).order_by(col(WorkOrder.id).desc())
    ).all()
    out = []
    for order, case in rows:
        events = session.exec(select(WorkOrderEvent)
                              .where(WorkOrderEvent.work_order_id == order.id)
                              .order_by(WorkOrderEvent.id)).all()
        out.append((order, case, list(events)))
    return out


def list_dead_letters(session: Session, limit: int = 200) -> list[DeadLetterPublic]:
    rows = session.exec(select(DeadLetter).order_by(col(DeadLetter.id).desc()).limit(limit))
    return [DeadLetterPublic.model_validate(r, from_attributes=True) for r in rows]


def count_devices(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Device)).one()
