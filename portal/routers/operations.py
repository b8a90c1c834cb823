"""Operating the installation: liveness (`/healthz`), Prometheus metrics, the messages
ingest rejected, and its counters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from portal.auth.dependencies import GuardedRoute, require_role
from portal.context import ContextDep, SessionDep
from portal.device_list_cache import cached_device_count
from portal.queries.operations import list_dead_letters
from portal.schemas.operations import DeadLetterPublic, Health, WorkerPublic

router = APIRouter(route_class=GuardedRoute, tags=["operations"])
ADMIN = [Depends(require_role("admin"))]


# Open: liveness probes carry no credentials, and it tells nothing about any one device.
# It reads no table: probes come every few seconds from every load balancer and
# orchestrator, and used to count the devices on each call (issue 24). The database
# probe's answer is at most `foundations.health.PROBE_MAX_AGE_S` old (plus one probe,
# run on a thread of its own: the report never waits for it), the workers' states are
# current; the device count is the device list snapshot's, when one was built. Async:
# nothing here blocks, so no thread is needed either.
@router.get("/healthz",
            responses={503: {"model": Health, "description": "a worker or a dependency is down"}})
async def healthz(ctx: ContextDep, request: Request, response: Response) -> Health:
    """Every background worker's liveness and whether the broker and the database answer:
    200 when all is well, 503 (same body) when something is down."""
    report = ctx.health()
    database = report.probes.get("database", True)
    if not report.ok:
        response.status_code = 503
    return Health(
        status="ok" if report.ok else "degraded", broker_connected=ctx.broker_connected(),
        database=database, devices=cached_device_count(request),
        workers=[WorkerPublic(name=w.name, state=w.state, restarts=w.restarts,
                              last_beat_age_s=w.last_beat_age_s, last_error=w.last_error)
                 for w in report.workers])


# Token-protected, not open on loopback: behind a reverse proxy on the same host every
# request would come from loopback. Prometheus sends an admin's API token
# (`authorization: {credentials_file: ...}` in its scrape config).
@router.get("/metrics", response_class=Response, dependencies=ADMIN,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(ctx: ContextDep) -> Response:
    return Response(ctx.metrics(), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/dead-letters", dependencies=ADMIN)
def dead_letters(session: SessionDep) -> list[DeadLetterPublic]:
    return list_dead_letters(session)


@router.get("/api/ingest/stats", dependencies=ADMIN)
def ingest_stats(ctx: ContextDep) -> dict[str, Any]:
    return dict(ctx.ingest_stats())
