"""Devices: the console's map (a cached snapshot, `portal.device_list_cache`), one
device's detail, and the device panel's chart: a metric's recent history, downsampled.

A device's QR code is `portal/routers/qr.py`'s."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from asset_registry.tables import Device
from foundations.clock import HOUR_MS, MINUTE_MS, now_ms
from ingest.telemetry_store import StoreError
from portal.auth.dependencies import GuardedRoute, staff_only
from portal.context import ContextDep, PortalContext, SessionDep
from portal.device_list_cache import DeviceListCache, Snapshot, device_list_cache, response_for
from portal.queries.devices import DeviceFilter, device_detail
from portal.queries.gaps import device_gaps
from portal.read_cache import CacheSpec, cached_body
from portal.schemas.devices import BucketPublic, DeviceDetail, DevicePublic, GapPublic, SeriesPublic

router = APIRouter(route_class=GuardedRoute, tags=["devices"], dependencies=[Depends(staff_only)])

# About this many buckets per chart, whatever the span: enough for a panel's width.
POINTS = 288


@router.get("/api/devices", response_model=list[DevicePublic])
async def devices(request: Request, ctx: ContextDep,
            severity: str | None = Query(None, max_length=20, description="only devices "
                                         "whose worst open alert has this severity ('ok': "
                                         "none open)"),
            model: str | None = Query(None, max_length=100, description="a device model id"),
            online: bool | None = Query(None, description="online (true) or offline (false)"),
            customer: str | None = Query(None, max_length=100, description="a customer id"),
            q: str | None = Query(None, max_length=100, description="part of the serial or "
                                  "of the customer's name (case-insensitive)"),
            ) -> Response:
    """Every device (or those matching the filters) in id order. Online state and
    open alerts are current; other columns are at most 1 s old. Sends a strong
    ETag; `If-None-Match` with it gets 304 while the list is unchanged."""
    where = DeviceFilter(severity=severity, model_id=model, online=online,
                         customer_id=customer, search=q.strip() if q else None)
    cache = device_list_cache(request)
    # On the event loop when nothing can have changed (no thread, no database);
    # otherwise the version is read (and the snapshot maybe rebuilt) on a thread.
    snap = cache.current()
    if snap is None:
        snap = await run_in_threadpool(_snapshot, cache, ctx)
    view = snap.views.get(where)
    if view is None:  # a new filter: made once per snapshot, on a thread
        view = await run_in_threadpool(snap.view, where)
    return response_for(request, view)


def _snapshot(cache: DeviceListCache, ctx: PortalContext) -> Snapshot:
    with Session(ctx.engine) as session:
        return cache.snapshot(session, ctx.models)


@router.get("/api/devices/{device_id}", response_model=DeviceDetail)
async def device(device_id: str, request: Request, ctx: ContextDep) -> Response:
    """One device with its open alerts and latest readings. Served from memory while
    nothing it shows changed (`portal.read_cache`); a strong ETag."""
    spec = CacheSpec(DETAIL_TABLES, ("alert", "device"),
                     lambda session, key: _detail(session, key, ctx))
    body = await cached_body(request, "device_detail", spec, device_id)
    if body is None:
        raise HTTPException(404, f"no device '{device_id}'")
    return response_for(request, body)


# What a device's detail reads; `latest_value` moves with every reading ingested here.
DETAIL_TABLES = ("device", "site", "customer", "alert", "latest_value")


def _detail(session: Session, device_id: str, ctx: PortalContext) -> dict[str, object] | None:
    detail = device_detail(session, device_id, ctx.models)
    return None if detail is None else detail.model_dump(mode="json")


@router.get("/api/devices/{device_id}/gaps")
def gaps(device_id: str, session: SessionDep) -> list[GapPublic]:
    """Readings the device's gateway dropped before the cloud had them (evicted from its
    full outbox, or lost), newest first: where the device's charts have no data."""
    found = device_gaps(session, device_id)
    if found is None:
        raise HTTPException(404, f"no device '{device_id}'")
    return found


def step_for(hours: int) -> int:
    """Whole minutes, so buckets line up with the store's aligned boundaries."""
    return max(MINUTE_MS, hours * HOUR_MS // POINTS // MINUTE_MS * MINUTE_MS)


@router.get("/api/devices/{device_id}/series")
async def series(device_id: str, ctx: ContextDep, session: SessionDep,
                 metric: Annotated[str, Query(min_length=1, max_length=100)],
                 hours: Annotated[int, Query(ge=1, le=24 * 7)] = 24) -> SeriesPublic:
    """min/max/mean of `metric` per bucket over the last `hours` (about 288 buckets)."""
    device = session.get(Device, device_id)
    if device is None:
        raise HTTPException(404, f"no device '{device_id}'")
    model = ctx.models.get(device.model_id)
    attribute = model.attributes.get(metric) if model else None
    if attribute is None:
        known = ", ".join(sorted(model.attributes)) if model else ""
        raise HTTPException(404, f"device '{device_id}' has no metric '{metric}' "
                            f"(it has: {known})")
    if ctx.telemetry is None:
        raise HTTPException(503, "the telemetry store is not available in this process")
    step = step_for(hours)
    end = now_ms()
    start = end - hours * 3_600_000
    start -= start % step
    try:
        buckets = await run_in_threadpool(ctx.telemetry.buckets, device_id, metric, start,
                                          end + 1, step)
    except StoreError as err:
        raise HTTPException(503, f"the telemetry store did not answer: {err}") from None
    return SeriesPublic(device_id=device_id, metric=metric, label=attribute.label,
                        unit=attribute.unit, start=start, end=end, step_ms=step,
                        buckets=[BucketPublic(start=b.start, n=b.n, min=b.min, max=b.max,
                                              mean=b.mean) for b in buckets])
