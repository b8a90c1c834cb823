"""The console's device panel: a metric's recent history, downsampled for a chart."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from asset_registry.tables import Device
from ingest.telemetry_store import StoreError
from portal.auth.dependencies import require_role
from portal.context import ContextDep, SessionDep

router = APIRouter(tags=["devices"], dependencies=[Depends(require_role("dispatcher", "admin"))])

# About this many buckets per chart, whatever the span: enough for a panel's width.
POINTS = 288
MINUTE_MS = 60_000


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


def step_for(hours: int) -> int:
    """Whole minutes, so buckets line up with the store's aligned boundaries."""
    return max(MINUTE_MS, hours * 3_600_000 // POINTS // MINUTE_MS * MINUTE_MS)


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
    end = int(time.time() * 1000)
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
