"""Jinja templates of the pages, rendered with the CSRF token their forms send back,
in the reader's language (`portal.i18n`: which one, and the gettext callables)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.responses import Response

from foundations.i18n import Formats
from portal import i18n
from portal.auth.accounts import Principal
from portal.auth.dependencies import CSRF_COOKIE

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
# `{% trans %}` and `_()`; the callables come with each page's context (`i18n.page_context`),
# never installed on the shared environment, so concurrent requests keep their languages.
templates.env.add_extension("jinja2.ext.i18n")
templates.env.newstyle_gettext = True  # type: ignore[attr-defined]
templates.env.policies["ext.i18n.trimmed"] = True


@pass_context
def _clock(ctx: Context, ms: int | None, tz: ZoneInfo | None = None) -> str:
    """A time as people on site read it: weekday and local time, in the page's language."""
    return Formats(ctx.get("locale", "en"), tz).clock(ms)


templates.env.filters["clock"] = _clock


@pass_context
def _datetime(ctx: Context, ms: int | None, tz: ZoneInfo | None = None) -> str:
    """A full local date and time (the audit log)."""
    return Formats(ctx.get("locale", "en"), tz).datetime(ms)


templates.env.filters["datetime"] = _datetime


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def render(request: Request, name: str, context: dict[str, Any],
           principal: Principal | None = None, status_code: int = 200,
           language: str | None = None) -> Response:
    """A page; its forms carry the session's CSRF token, or else a double-submit cookie's.
    Its language: `i18n.page_locale` (`language` is the customer record's, if any)."""
    new_cookie = None
    csrf = principal.csrf_token if principal is not None else None
    if csrf is None:
        csrf = request.cookies.get(CSRF_COOKIE)
        if not csrf:
            csrf = new_cookie = secrets.token_urlsafe(32)
    locale = i18n.page_locale(request, principal, language)
    response = templates.TemplateResponse(
        request, name, {**i18n.page_context(locale, context.get("tz")), **context,
                        "csrf_token": csrf, "user": principal},
        status_code=status_code)
    i18n.remember_choice(request, response)
    if new_cookie:
        response.set_cookie(CSRF_COOKIE, new_cookie, httponly=True, samesite="lax",
                            secure=is_https(request))
    return response
