"""Devices: the console's map (read as plain rows, for tens of thousands), one device's
detail and latest readings, and a device by its QR token."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, func, select

from asset_registry.catalog import DeviceModel, severity_rank
from asset_registry.tables import Customer, Device, Site
from ingest.tables import LatestValue
from portal.schemas.devices import DeviceDetail, LatestValuePublic
from rules.tables import OPEN_STATES, Alert

# A row of `device_map`: `DevicePublic`'s fields as a plain dict.
DeviceRow = dict[str, Any]


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
        the cached full list (portal.device_list_cache) serves every filter the same way."""
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
_MAP_COLUMNS: tuple[Any, ...] = (
    Device.id, Device.serial, Device.model_id, Customer.id, Customer.name, Site.id,
    Site.name, Site.lat, Site.lon, Device.gateway_id, Device.online, Device.last_seen)
_MAP_KEYS = ("id", "serial", "model_id", "customer_id", "customer_name", "site_id",
             "site_name", "lat", "lon", "gateway_id", "online", "last_seen")
# A map version: the device count, the offline devices, the open alerts' (id, severity).
MapVersion = tuple[int, tuple[str, ...], tuple[tuple[int, str], ...]]


def device_map(session: Session, models: Mapping[str, DeviceModel],
               where: DeviceFilter | None = None) -> list[DeviceRow]:
    """Every device matching `where` in id order, shaped as `DevicePublic` (plain
    dicts, for the console's map of up to tens of thousands of devices)."""
    query = (select(*_MAP_COLUMNS).join(Site, col(Site.id) == Device.site_id)
             .join(Customer, col(Customer.id) == Site.customer_id).order_by(col(Device.id)))
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


def device_map_version(session: Session) -> MapVersion:
    """What the console reacts to at once, cheaply: how many devices, which are
    offline, and which alerts are open with what severity. Equal versions mean
    equal online states and equal worst severities/alert counts on the map (the
    live feed's `device` and `alert` events); other columns may still differ."""
    devices = count_devices(session)
    # Sorted here: ORDER BY would walk the id index, a third slower than a table scan.
    offline = sorted(session.exec(select(Device.id).where(col(Device.online).is_(False))))
    open_alerts = session.exec(select(col(Alert.id), Alert.severity)
                               .where(col(Alert.state).in_(OPEN_STATES))
                               .order_by(col(Alert.id))).all()
    return devices, tuple(offline), tuple((i, sev) for i, sev in open_alerts if i is not None)


def count_devices(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Device)).one()


def latest_values(session: Session, device: Device, models: Mapping[str, DeviceModel]
                  ) -> list[LatestValuePublic]:
    model = models.get(device.model_id)
    out = []
    for row in session.exec(select(LatestValue).where(LatestValue.device_id == device.id)
                            .order_by(col(LatestValue.metric))):
        attribute = model.attributes.get(row.metric) if model else None
        out.append(LatestValuePublic(
            metric=row.metric, label=attribute.label if attribute else row.metric,
            unit=attribute.unit if attribute else "", value=row.value, ts=row.ts,
        ))
    return out


def device_detail(session: Session, device_id: str, models: Mapping[str, DeviceModel]
                  ) -> DeviceDetail | None:
    row = session.exec(select(Device, Site, Customer)
                       .join(Site, col(Site.id) == Device.site_id)
                       .join(Customer, col(Customer.id) == Site.customer_id)
                       .where(Device.id == device_id)).first()
    if row is None:
        return None
    device, site, customer = row
    alerts = session.exec(select(Alert).where(Alert.device_id == device_id,
                                              col(Alert.state).in_(OPEN_STATES))).all()
    worst = max((a.severity for a in alerts), key=severity_rank, default=None)
    model = models.get(device.model_id)
    return DeviceDetail(
        id=device.id, serial=device.serial, model_id=device.model_id,
        model_name=model.name if model else device.model_id,
        customer_id=customer.id, customer_name=customer.name, site_id=site.id,
        site_name=site.name, lat=site.lat, lon=site.lon, gateway_id=device.gateway_id,
        online=device.online, last_seen=device.last_seen, worst_severity=worst,
        open_alerts=len(alerts), latest=latest_values(session, device, models),
    )


def device_by_token(session: Session, token: str) -> Device | None:
    return session.exec(select(Device).where(Device.qr_token == token)).first()


def devices_by_serial(session: Session, device_ids: list[str] | None) -> list[Device]:
    """The devices named (None or empty: all), in serial order (label sheets)."""
    query = select(Device).order_by(col(Device.serial))
    if device_ids:
        query = query.where(col(Device.id).in_(device_ids))
    return list(session.exec(query))

