"""Read queries behind the API and the pages; the handlers stay free of SQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, func, select

from asset_registry.catalog import DeviceModel, severity_rank
from asset_registry.tables import Customer, Device, Site
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
from rules.tables import OPEN_STATES, Alert, AlertEvent
from service.tables import Case, Engineer, WorkOrder, WorkOrderEvent


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


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    """What the console's map narrows to; None means "any"."""

    severity: str | None = None  # worst open alert; "ok": none open
    model_id: str | None = None
    online: bool | None = None
    customer_id: str | None = None
    search: str | None = None  # part of the serial or of the customer's name

    def matches(self, device: Mapping[str, Any]) -> bool:
        """Whether a `device_map` row passes. Filtering happens in memory, so that
        the cached full list (portal.device_api) serves every filter the same way."""
        if self.severity and device["worst_severity"] != (
                None if self.severity == "ok" else self.severity):
            return False
        if self.model_id and device["model_id"] != self.model_id:
            return False
        if self.online is not None and device["online"] != self.online:
            return False
        if self.customer_id and device["customer_id"] != self.customer_id:
            return False
        if self.search:
            # Case-insensitive substring; '%' and '_' are plain characters here.
            term = self.search.lower()
            return term in device["serial"].lower() or term in device["customer_name"].lower()
        return True


# The map's columns, read as plain rows: building 10,000 ORM entities costs
# seconds, these tuples a small fraction of that.
_MAP_COLUMNS = (Device.id, Device.serial, Device.model_id, Customer.id, Customer.name,
                Site.id, Site.name, Site.lat, Site.lon, Device.gateway_id, Device.online,
                Device.last_seen)
_MAP_KEYS = ("id", "serial", "model_id", "customer_id", "customer_name", "site_id",
             "site_name", "lat", "lon", "gateway_id", "online", "last_seen")


def device_map(session: Session, models: Mapping[str, DeviceModel],
               where: DeviceFilter | None = None) -> list[dict]:
    """Every device matching `where` in id order, shaped as `DevicePublic` (plain
    dicts, for the console's map of up to tens of thousands of devices)."""
    query = (select(*_MAP_COLUMNS).join(Site, Site.id == Device.site_id)
             .join(Customer, Customer.id == Site.customer_id).order_by(Device.id))
    worst: dict[str, tuple[int, str]] = {}
    counts: dict[str, int] = defaultdict(int)
    for device_id, sev in session.exec(select(Alert.device_id, Alert.severity)
                                       .where(col(Alert.state).in_(OPEN_STATES))):
        counts[device_id] += 1
        rank = severity_rank(sev)
        if device_id not in worst or rank > worst[device_id][0]:
            worst[device_id] = (rank, sev)
    names = {m.id: m.name for m in models.values()}
    out = []
    for row in session.exec(query):
        device = dict(zip(_MAP_KEYS, row, strict=True))
        found = worst.get(device["id"])
        device["model_name"] = names.get(device["model_id"], device["model_id"])
        device["worst_severity"] = found[1] if found else None
        device["open_alerts"] = counts.get(device["id"], 0)
        out.append(device)
    return out if where is None else [d for d in out if where.matches(d)]


def device_map_version(session: Session) -> tuple[int, tuple[str, ...],
                                                  tuple[tuple[int, str], ...]]:
    """What the console reacts to at once, cheaply: how many devices, which are
    offline, and which alerts are open with what severity. Equal versions mean
    equal online states and equal worst severities/alert counts on the map (the
    live feed's `device` and `alert` events); other columns may still differ."""
    devices = session.exec(select(func.count()).select_from(Device)).one()
    # Sorted here: ORDER BY would walk the id index, a third slower than a table scan.
    offline = sorted(session.exec(select(Device.id).where(col(Device.online).is_(False))))
    open_alerts = session.exec(select(Alert.id, Alert.severity)
                               .where(col(Alert.state).in_(OPEN_STATES))
                               .order_by(col(Alert.id))).all()
    return devices, tuple(offline), tuple((i, sev) for i, sev in open_alerts)


def list_devices(session: Session, models: Mapping[str, DeviceModel],
                 severity: str | None = None, where: DeviceFilter | None = None
                 ) -> list[DevicePublic]:
    return [DevicePublic.model_validate(d) for d in
            device_map(session, models, where or DeviceFilter(severity=severity))]


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


# The inbox's columns, read as plain rows: about half the time of loading ORM entities.
_ALERT_KEYS = tuple(f for f in AlertPublic.model_fields if f != "assigned_to")
_ALERT_COLUMNS = tuple(getattr(Alert, f) for f in _ALERT_KEYS)


def list_alerts(session: Session, state: str | None = None, device_id: str | None = None,
                limit: int = 500) -> list[AlertPublic]:
    query = select(*_ALERT_COLUMNS).order_by(col(Alert.id).desc()).limit(limit)
    if state == "open":
        query = query.where(col(Alert.state).in_(OPEN_STATES))
    elif state:
        query = query.where(Alert.state == state)
    if device_id:
        query = query.where(Alert.device_id == device_id)
    alerts = [AlertPublic.model_validate(dict(zip(_ALERT_KEYS, row, strict=True)))
              for row in session.exec(query)]
    assigned = _assignees(session, [a.id for a in alerts])
    for alert in alerts:
        alert.assigned_to = assigned.get(alert.id)
    return alerts


def _assignees(session: Session, alert_ids: list[int]) -> dict[int, str]:
    """Alert id -> whom it was last assigned to (portal.alert_inbox_api)."""
    if not alert_ids:
        return {}
    rows = session.exec(select(AlertEvent.alert_id, AlertEvent.note)
                        .where(AlertEvent.action == "assigned",
                               col(AlertEvent.alert_id).in_(alert_ids))
                        .order_by(col(AlertEvent.id))).all()
    return dict(rows)  # later rows win: the latest assignment


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
