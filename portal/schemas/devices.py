"""Devices on the console's map, the device panel and its charts."""

from __future__ import annotations

from pydantic import BaseModel


class LatestValuePublic(BaseModel):
    metric: str
    label: str
    unit: str
    value: float
    ts: int


class DevicePublic(BaseModel):
    id: str
    serial: str
    model_id: str
    model_name: str
    customer_id: str
    customer_name: str
    site_id: str
    site_name: str
    lat: float
    lon: float
    gateway_id: str
    online: bool
    last_seen: int | None
    worst_severity: str | None  # of the device's open alerts; None when all is well
    open_alerts: int


class DeviceDetail(DevicePublic):
    latest: list[LatestValuePublic]


class BucketPublic(BaseModel):
    start: int  # ms epoch; the bucket covers [start, start + step_ms)
    n: int
    min: float
    max: float
    mean: float


class SeriesPublic(BaseModel):
    device_id: str
    metric: str
    label: str
    unit: str
    start: int
    end: int
    step_ms: int
    buckets: list[BucketPublic]


class GapPublic(BaseModel):
    """Readings the device's gateway dropped before the cloud had them: `evicted` from a
    full outbox, `lost` when even its memory was full. The gateway's readings, so its
    devices share the gap; times on the gateway's clock (ms), `since_ts` None when the
    gap began before the first status the cloud kept."""

    gateway_id: str
    kind: str
    readings: int
    since_ts: int | None
    until_ts: int
