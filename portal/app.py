"""The portal's FastAPI application, built from what the assembly hands it."""

from __future__ import annotations

import logging
from http import HTTPStatus
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response

from portal.auth.accounts import principal_for_session
from portal.auth.dependencies import SESSION_COOKIE, LoginRequired, login_url
from portal.context import PortalContext
from portal.i18n import N_, gettext_for, page_locale
from portal.limits import BodyLimit
from portal.pages import api_docs, articles_admin, customer, engineer, guides, login, staff, visit
from portal.pages import board as board_page
from portal.pages import stock as stock_page
from portal.rendering import render
from portal.routers import (
    alerts,
    articles,
    audit,
    board,
    cases,
    commands,
    config_rollouts,
    devices,
    engineers,
    figures,
    kpis,
    live_events,
    operations,
    opportunities,
    parts,
    plans,
    qr,
    rule_sets,
    settlement,
    stock,
    users,
    webhooks,
    work_orders,
)
from portal.security_headers import SecurityHeaders

log = logging.getLogger("fieldpulse.portal")
STATIC_DIR = Path(__file__).with_name("static")
# Machine-facing paths answer errors in JSON whatever the client accepts.
NOT_PAGES = ("/api/", "/metrics", "/healthz", "/openapi.json", "/docs", "/redoc", "/static/")
PAGE_ERRORS = {
    403: (N_("You may not open this page"),
          N_("Your account does not give access to it. Log in as someone who may, or go back "
             "to the start page.")),
    404: (N_("Nothing here"), N_("This page does not exist, or is not yours to see.")),
    409: (N_("This could not be done"), N_("Nothing was changed. Go back to the page, and try "
                                           "again with what it shows now.")),
}


def create_app(ctx: PortalContext) -> FastAPI:
    app = FastAPI(
        title="FieldPulse",
        summary="Devices, alerts, work orders and engineers of a FieldPulse installation.",
        version="0.1.0",
        # /docs is ours (portal/pages/api_docs.py): Swagger UI bundled, no CDN.
        docs_url=None,
    )
    app.state.ctx = ctx
    # Scripts and styles go out gzipped to clients that take it (Leaflet: 148 KB -> ~40 KB).
    app.mount("/static", GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=1024),
              name="static")
    # Every route states who may call it (portal.auth.dependencies); the access test
    # (tests/portal/test_access_matrix.py) fails for a route it does not know.
    # The JSON API, one router per resource (portal/routers), then the HTML pages.
    # operations first: /healthz is asked most often, and Starlette tries routes in order.
    for router in (operations.router, devices.router, commands.router,
                   config_rollouts.router, alerts.router, cases.router, work_orders.router,
                   plans.router, engineers.router, users.router, audit.router,
                   webhooks.router, qr.router, rule_sets.router, opportunities.router,
                   live_events.router, stock.router, parts.router,
                   settlement.router, figures.router, stock_page.router,
                   staff.router, engineer.router, customer.router, login.router,
                   api_docs.router, articles.router, guides.router,
                   articles_admin.router):
        app.include_router(router)
    app.include_router(kpis.router)  # the console's key figures
    app.include_router(visit.router)  # the customer's visit page (/v/{token})
    app.include_router(board.router)  # the dispatch board's data
    app.include_router(board_page.router)  # and its page (/dispatch/board)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(SQLAlchemyTimeoutError, _database_unavailable)
    # Outermost first: every answer gets the security headers, 413s included; bodies
    # are limited before any route reads them (portal/limits.py).
    app.add_middleware(BodyLimit, default_bytes=ctx.max_body_bytes)
    app.add_middleware(SecurityHeaders, tile_url=ctx.tile_url)
    return app


async def _to_login(_request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_url(exc.next_url), status_code=303)


def _wants_page(request: Request) -> bool:
    """A browser asking for a page: not an API path, and HTML accepted rather than JSON."""
    accept = request.headers.get("accept", "")
    return (not request.url.path.startswith(NOT_PAGES) and "text/html" in accept
            and "application/json" not in accept)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """The database refused or timed out (down, or out of connections under load): a
    503 the client can retry, instead of a 500 with no hint."""
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path,
                str(exc).splitlines()[0])
    return JSONResponse({"detail": "the database is unavailable or busy; try again shortly"},
                        status_code=503, headers={"Retry-After": "5"})


async def _http_error(request: Request, exc: Exception) -> Response:
    """403 and 404 of pages as a short HTML page; everything else as FastAPI answers it."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code not in PAGE_ERRORS or not _wants_page(request):
        return await http_exception_handler(request, exc)
    return await run_in_threadpool(_error_page, request, exc)


def _error_page(request: Request, exc: StarletteHTTPException) -> Response:
    key = request.cookies.get(SESSION_COOKIE)
    principal = None
    if key:  # to say who is logged in, and keep the header's log-out button
        with Session(request.app.state.ctx.engine) as session:
            principal = principal_for_session(session, key)
    # In the reader's language; a detail is translated when it is a marked message.
    _ = gettext_for(page_locale(request, principal))
    heading, explanation = (_(text) for text in PAGE_ERRORS[exc.status_code])
    path = request.url.path
    # The customer's QR pages have no accounts: no login link there.
    login_link = None
    if not path.startswith("/q/"):
        # After logging in, back here, unless this was a form's POST (no page to return to).
        login_link = login_url(path + (f"?{request.url.query}" if request.url.query else "")
                               ) if request.method == "GET" else "/login"
    if principal is not None and exc.status_code == 403:
        explanation = _("You are logged in as %(user)s (%(role)s), who may not open it. "
                        "Log in as another user, or go back to the start page.") % {
            "user": principal.username, "role": principal.role}
    return render(request, "error.html", {
        "status": exc.status_code, "heading": heading, "explanation": explanation,
        "detail": _(detail) if (detail := _detail(exc)) else "", "login_link": login_link,
    }, principal, status_code=exc.status_code)


def _detail(exc: StarletteHTTPException) -> str:
    # Starlette's own 404 says just "Not Found": the heading says that already.
    plain = isinstance(exc.detail, str) and exc.detail != HTTPStatus(exc.status_code).phrase
    return exc.detail if plain else ""
