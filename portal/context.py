"""What the portal is given by the assembly: it reads no global settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine
from sqlmodel import Session

from asset_registry.catalog import DeviceModel
from asset_registry.part_catalogue import PartEdit
from dispatch.dispatcher import Dispatcher
from dispatch.plan_store import PlanSummary
from foundations.health import HealthReport
from ingest.telemetry_store import TelemetryStore
from integrations.webhooks.targets import TargetPolicy
from portal.auth.ratelimit import RateLimiter
from rules.service import RulesService

DEFAULT_BODY_BYTES = 1024 * 1024


@dataclass
class PortalContext:
    engine: Engine
    models: Mapping[str, DeviceModel]
    tile_url: str = ""
    # How customers reach the service desk: shown to one whose QR code is not valid.
    support_contact: str = ""
    # Times on the pages are shown in the sites' local time.
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # Called after a case is opened here, so the dispatcher plans it promptly.
    request_replan: Callable[[], None] = lambda: None
    # Called after a command is queued here, so the command link sends it at once.
    on_command_queued: Callable[[], None] = lambda: None
    broker_connected: Callable[[], bool] = lambda: False
    # Every worker's liveness and the probes of the broker and the database (/healthz).
    health: Callable[[], HealthReport] = field(default=lambda: HealthReport([]))
    # Ingest's counters (GET /api/ingest/stats), as JSON.
    ingest_stats: Callable[[], Mapping[str, Any]] = field(default=lambda: {})
    # Alert actions and rule editing go through the rules service.
    rules: RulesService | None = None
    # Prometheus text exposition for GET /metrics (portal/routers/operations.py).
    metrics: Callable[[], bytes] = field(default=lambda: b"")
    # Where rotated QR codes are written, and the address they point at.
    qr_dir: Path | None = None
    # Engineers' photos and customers' signatures (None: uploads are refused).
    uploads_dir: Path | None = None
    # Plans proposed for review and accepted here (None: no dispatcher in this process).
    dispatcher: Dispatcher | None = None
    # The dispatcher's latest plans with their changes, newest last (kind, PlanSummary).
    plan_history: Callable[[], list[tuple[str, PlanSummary]]] = field(default=lambda: [])
    base_url: str = "http://127.0.0.1:8000"
    # The device panel's charts read downsampled series here (None: no charts).
    telemetry: TelemetryStore | None = None
    # Per client address: the customer's QR pages, and login attempts (password guessing).
    # The address is the peer's, or X-Forwarded-For's from a trusted proxy only
    # (portal/server.py).
    public_limiter: RateLimiter = field(
        default_factory=lambda: RateLimiter(per_second=1.0, burst=60))
    login_limiter: RateLimiter = field(
        default_factory=lambda: RateLimiter(per_second=0.2, burst=10))
    # Per account: failed logins of one user name, from wherever they come.
    login_account_limiter: RateLimiter = field(
        default_factory=lambda: RateLimiter(per_second=1 / 60, burst=10))
    # Request bodies of routes without a larger limit of their own (portal/limits.py).
    max_body_bytes: int = DEFAULT_BODY_BYTES
    # Where webhooks may be sent (integrations/webhooks/targets.py): public addresses,
    # and the networks an admin allows.
    webhook_targets: TargetPolicy = field(default_factory=TargetPolicy)
    # Called after a part is edited here (`models` already has it), so the processes'
    # other holders of the models (rule engines, maintenance) have it too.
    on_part_edited: Callable[[PartEdit], None] = lambda _edit: None


async def get_context(request: Request) -> PortalContext:
    # Async: FastAPI runs a plain `def` dependency on a thread, a hop per request for
    # a dictionary lookup (issue 24).
    ctx: PortalContext = request.app.state.ctx
    return ctx


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.ctx.engine, expire_on_commit=False) as session:
        yield session


ContextDep = Annotated[PortalContext, Depends(get_context)]
SessionDep = Annotated[Session, Depends(get_session)]


def rules_service(ctx: PortalContext) -> RulesService:
    """The rules service (alert actions, rule sets); 503 where it does not run."""
    if ctx.rules is None:
        raise HTTPException(503, "the rules service is not running in this process")
    return ctx.rules


def dispatcher(ctx: PortalContext) -> Dispatcher:
    """The dispatcher (plans proposed for review); 503 where it does not run."""
    if ctx.dispatcher is None:
        raise HTTPException(503, "the dispatcher does not run in this process")
    return ctx.dispatcher
