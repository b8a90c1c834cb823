"""The portal's FastAPI application, built from what the assembly hands it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from portal import (
    admin_api,
    alert_inbox_api,
    api,
    console_api,
    customer_pages,
    device_api,
    engineer_api,
    live_api,
    login,
    metrics,
    pages,
    plan_api,
    plan_review_api,
    rules_api,
)
from portal.auth.dependencies import LoginRequired, login_url
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
    # Every route states who may call it (portal.auth.dependencies); the access test
    # (tests/portal/test_access_matrix.py) fails for a route it does not know.
    app.include_router(api.router)
    app.include_router(rules_api.router)
    app.include_router(admin_api.router)
    app.include_router(console_api.router)
    app.include_router(device_api.router)
    app.include_router(alert_inbox_api.router)
    app.include_router(plan_api.router)
    app.include_router(plan_review_api.router)
    app.include_router(live_api.router)
    app.include_router(engineer_api.router)
    app.include_router(engineer_api.pages)
    app.include_router(metrics.router)
    app.include_router(login.router)
    app.include_router(pages.router)
    app.include_router(customer_pages.router)
    app.add_exception_handler(LoginRequired, _to_login)
    return app


async def _to_login(_request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_url(exc.next_url), status_code=303)
