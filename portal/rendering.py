"""Jinja templates of the pages, rendered with the CSRF token their forms send back."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from portal.auth.accounts import Principal
from portal.auth.dependencies import CSRF_COOKIE

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))


def _clock(ms: int | None, tz: ZoneInfo | None = None) -> str:
    """A time as people on site read it: weekday and local time."""
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%a %H:%M") if ms else "—"


templates.env.filters["clock"] = _clock


def _datetime(ms: int | None, tz: ZoneInfo | None = None) -> str:
    """A full local date and time (the audit log)."""
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M:%S") if ms else "—"


templates.env.filters["datetime"] = _datetime


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def render(request: Request, name: str, context: dict[str, Any],
           principal: Principal | None = None, status_code: int = 200) -> Response:
    """A page; its forms carry the session's CSRF token, or else a double-submit cookie's."""
    new_cookie = None
    csrf = principal.csrf_token if principal is not None else None
    if csrf is None:
        csrf = request.cookies.get(CSRF_COOKIE)
        if not csrf:
            csrf = new_cookie = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request, name, {**context, "csrf_token": csrf, "user": principal},
        status_code=status_code)
    if new_cookie:
        response.set_cookie(CSRF_COOKIE, new_cookie, httponly=True, samesite="lax",
                            secure=is_https(request))
    return response
