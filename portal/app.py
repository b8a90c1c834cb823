"""The portal's FastAPI application, built from what the assembly hands it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from portal import api, metrics, pages, rules_api
from portal.context import PortalContext

STATIC_DIR = Path(__file__).with_name("static")


def create_app(ctx: PortalContext) -> FastAPI:
    app = FastAPI(
        title="FieldPulse",
        summary="Devices, alerts, work orders and engineers of a FieldPulse installation.",
        version="0.1.0",
    )
    app.state.ctx = ctx
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)
    app.include_router(rules_api.router)
    app.include_router(metrics.router)
    app.include_router(pages.router)
    return app
