"""FastAPI dependencies that decide who may call what.

API callers get 401 (no or bad credentials, with `WWW-Authenticate: Bearer`) or
403 (authenticated, wrong role); browsers asking for a page without a session
are redirected to /login. A browser session must send its CSRF token with every
state-changing request; API tokens are not sent by browsers on their own, so
requests carrying one need none.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from portal.auth.accounts import Principal, principal_for_session, principal_for_token
from portal.context import SessionDep
from service.tables import WorkOrder

SESSION_COOKIE = "fp_session"
CSRF_COOKIE = "fp_csrf"  # double-submit token for forms shown to people not logged in
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """A page needs a login: answered with a redirect to /login (see portal.app)."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def login_url(next_url: str) -> str:
    return f"/login?next={quote(next_url, safe='/')}"


# Declares the scheme in the OpenAPI schema (the "Authorize" button of /docs); the
# header itself is read below, so that a malformed one is refused, not ignored.
_bearer_scheme = HTTPBearer(auto_error=False, description="an API token (POST /api/tokens)")


def current_principal(
    request: Request, session: SessionDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)] = None,
) -> Principal | None:
    """The caller, from `Authorization: Bearer` or the session cookie; None if anonymous."""
    header = request.headers.get("authorization")
    if header:
        scheme, _sep, value = header.partition(" ")
        principal = (principal_for_token(session, value.strip())
                     if scheme.lower() == "bearer" and value.strip() else None)
        if principal is None:
            # A wrong token is an error, never a silent fall back to anonymous.
            raise HTTPException(401, "invalid or revoked API token",
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return principal
    key = request.cookies.get(SESSION_COOKIE)
    return principal_for_session(session, key) if key else None


PrincipalDep = Annotated[Principal | None, Depends(current_principal)]


async def _supplied_csrf(request: Request) -> str | None:
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    return supplied


async def check_csrf(request: Request, principal: Principal | None) -> None:
    """Refuse a state-changing request whose CSRF token is missing or wrong (403)."""
    if request.method in SAFE_METHODS or (principal is not None and principal.via == "token"):
        return
    expected = principal.csrf_token if principal else request.cookies.get(CSRF_COOKIE)
    supplied = await _supplied_csrf(request)
    if not expected or not supplied or not secrets.compare_digest(expected, supplied):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


async def public_csrf(request: Request) -> None:
    """For the public forms (customer fault report, login): a double-submit token.

    These pages never look at accounts, so a logged-in browser is treated like any other.
    """
    await check_csrf(request, None)


def require_role(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """API routes: 401 without credentials, 403 for the wrong role, CSRF for sessions."""

    async def dependency(request: Request, principal: PrincipalDep) -> Principal:
        if principal is None:
            raise HTTPException(401, "authentication required: send 'Authorization: Bearer "
                                "<API token>' or log in at /login",
                                headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in roles:
            raise HTTPException(403, f"this needs the role {' or '.join(roles)}; "
                                f"'{principal.username}' is {principal.role}")
        await check_csrf(request, principal)
        return principal

    return dependency


def page_role(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """Page routes: like require_role, but a browser without a session is sent to /login."""
    api_check = require_role(*roles)

    async def dependency(request: Request, principal: PrincipalDep) -> Principal:
        if principal is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(target)
        return await api_check(request, principal)

    return dependency


# Who may call a route: the principal as a parameter (or `Depends(...)` of the same
# callable in a router's dependencies, which FastAPI then runs once per request).
staff_only = require_role("dispatcher", "admin")
Staff = Annotated[Principal, Depends(staff_only)]
Admin = Annotated[Principal, Depends(require_role("admin"))]
AnyRole = Annotated[Principal, Depends(require_role("admin", "dispatcher", "engineer"))]
# The engineer's job app: engineers (their own jobs), dispatchers and admins.
JobActor = Annotated[Principal, Depends(require_role("engineer", "dispatcher", "admin"))]
StaffPage = Annotated[Principal, Depends(page_role("dispatcher", "admin"))]
AdminPage = Annotated[Principal, Depends(page_role("admin"))]
AnyRolePage = Annotated[Principal, Depends(page_role("admin", "dispatcher", "engineer"))]
JobActorPage = Annotated[Principal, Depends(page_role("engineer", "dispatcher", "admin"))]


def own_engineer(engineer_id: str, principal: Principal) -> None:
    """Engineers act on their own jobs only; dispatchers and admins on anyone's."""
    if principal.role == "engineer" and principal.engineer_id != engineer_id:
        raise HTTPException(403, f"'{principal.username}' may only see their own jobs")


def job_of(session: Session, order_id: int, principal: Principal) -> WorkOrder:
    """The work order, if the caller may act on it: 404 when there is none, 403 when it
    is not the calling engineer's."""
    order = session.get(WorkOrder, order_id)
    if order is None:
        raise HTTPException(404, f"no work order {order_id}")
    if principal.role == "engineer" and order.engineer_id != principal.engineer_id:
        raise HTTPException(403, f"work order {order_id} is not one of "
                                 f"'{principal.username}''s jobs")
    return order


def client_key(request: Request) -> str:
    # The peer address: behind a reverse proxy, run uvicorn with --proxy-headers so
    # this is the client's address and not the proxy's.
    return request.client.host if request.client else "unknown"


def _limited(limiter_name: str) -> Callable[[Request], None]:
    def dependency(request: Request) -> None:
        limiter = getattr(request.app.state.ctx, limiter_name)
        wait = limiter.take(client_key(request))
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise HTTPException(429, f"too many requests: try again in {seconds} s",
                                headers={"Retry-After": str(seconds)})

    return dependency


public_rate_limit = _limited("public_limiter")
login_rate_limit = _limited("login_limiter")
