"""What the portal is given by the assembly: it reads no global settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from asset_registry.catalog import DeviceModel
from rules.service import RulesService


@dataclass
class PortalContext:
    engine: Engine
    models: Mapping[str, DeviceModel]
    tile_url: str = ""
    # Times on the pages are shown in the sites' local time.
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    # Called after a case is opened here, so the dispatcher plans it promptly.
    request_replan: Callable[[], None] = lambda: None
    broker_connected: Callable[[], bool] = lambda: False
    ingest_stats: Callable[[], dict] = field(default=lambda: {})
    # Alert actions and rule editing go through the rules service.
    rules: RulesService | None = None
    # Prometheus text exposition for GET /metrics (portal/metrics.py).
    metrics: Callable[[], bytes] = field(default=lambda: b"")


def get_context(request: Request) -> PortalContext:
    return request.app.state.ctx


def get_session(request: Request):
    with Session(request.app.state.ctx.engine, expire_on_commit=False) as session:
        yield session


ContextDep = Annotated[PortalContext, Depends(get_context)]
SessionDep = Annotated[Session, Depends(get_session)]
