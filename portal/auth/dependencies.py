"""FastAPI dependencies that decide who may call what.

API callers get 401 (no or bad credentials, with `WWW-Authenticate: Bearer`) or
403 (authenticated, wrong role); browsers asking for a page without a session
are redirected to /login. A browser session must send its CSRF token with every
state-changing request; API tokens are not sent by browsers on their own, so
requests carrying one need none.

FastAPI reads a request's body before it resolves dependencies, so these checks
would come after a body was parsed or spooled to disk. `GuardedRoute` (every
router's route class) runs first what needs no body: rate limits, who is calling
and with which role, the CSRF token when it comes in a header or is missing
altogether, the customer's QR token. The dependencies then run as declared and
find that work done (`request.state`); a form's CSRF field is checked once the
(size-limited, `portal.limits`) form is read.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from portal.auth import principal_cache
from portal.auth.accounts import Principal, principal_for_session, principal_for_token
from portal.auth.passwords import digest
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


def principal_of(request: Request, session: Session) -> Principal | None:
    """The caller, from `Authorization: Bearer` or the session cookie; None if anonymous.
    A revoked token, an ended session or a disabled user is None: at once for changes
    made in this process, within `principal_cache.TTL_S` for other processes'."""
    header = request.headers.get("authorization")
    if header:
        scheme, _sep, value = header.partition(" ")
        principal = (_cached(session, "token", value.strip(), principal_for_token)
                     if scheme.lower() == "bearer" and value.strip() else None)
        if principal is None:
            # A wrong token is an error, never a silent fall back to anonymous.
            raise HTTPException(401, "invalid or revoked API token",
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return principal
    key = request.cookies.get(SESSION_COOKIE)
    return _cached(session, "session", key, principal_for_session) if key else None


def _cached(session: Session, via: str, credential: str,
            look_up: Callable[[Session, str], Principal | None]) -> Principal | None:
    """`look_up(session, credential)`, answered from `principal_cache.CACHE` when it
    was found there within the last second and nothing about accounts changed since."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    key = principal_cache.cache_key(engine, via, digest(credential))
    principal = principal_cache.CACHE.get(key)
    if principal is not None:
        return principal
    generation = principal_cache.CACHE.generation
    principal = look_up(session, credential)
    if principal is not None:
        principal_cache.CACHE.put(key, principal, generation)
    return principal


_PRINCIPAL = "fp_principal"  # request.state: the caller, once looked up


async def current_principal(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)] = None,
) -> Principal | None:
    """The caller (`principal_of`), looked up once per request: from the principal
    cache on the event loop when it is there, else on a thread with a session of its
    own (a route that reads nothing else then opens no session at all)."""
    if not hasattr(request.state, _PRINCIPAL):
        principal = _cached_only(request)
        if principal is None:
            principal = await run_in_threadpool(_principal_before_body, request)
        setattr(request.state, _PRINCIPAL, principal)
    found: Principal | None = getattr(request.state, _PRINCIPAL)
    return found


def _credential(request: Request) -> tuple[str, str] | None:
    """("token" | "session", the credential) the request carries, if any."""
    header = request.headers.get("authorization")
    if header:
        scheme, _sep, value = header.partition(" ")
        return ("token", value.strip()) if scheme.lower() == "bearer" and value.strip() \
            else None
    key = request.cookies.get(SESSION_COOKIE)
    return ("session", key) if key else None


def _cached_only(request: Request) -> Principal | None:
    """The caller if the principal cache knows their credential (no database); past
    half the entry's life, one request refreshes it on a thread in the background."""
    credential = _credential(request)
    if credential is None:
        return None
    engine = request.app.state.ctx.engine
    key = principal_cache.cache_key(engine, credential[0], digest(credential[1]))
    principal = principal_cache.CACHE.get(key)
    if principal is not None and principal_cache.CACHE.due(key):
        task = asyncio.get_running_loop().create_task(
            run_in_threadpool(_refresh, engine, key, *credential))
        _refreshes.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(_refreshes.discard)
    return principal


_refreshes: set[asyncio.Task[None]] = set()


def _refresh(engine: Engine, key: tuple[int, str, str], via: str, credential: str) -> None:
    generation = principal_cache.CACHE.generation
    look_up = principal_for_token if via == "token" else principal_for_session
    try:
        with Session(engine) as session:
            principal = look_up(session, credential)
    except Exception:  # the database is busy: the entry expires, the next request looks
        principal_cache.CACHE.refreshed(key, None, generation)
        raise
    principal_cache.CACHE.refreshed(key, principal, generation)


def _principal_before_body(request: Request) -> Principal | None:
    with Session(request.app.state.ctx.engine) as session:
        return principal_of(request, session)


def still_allowed(engine: Engine, request: Request, roles: tuple[str, ...]) -> bool:
    """Whether the request's credential still belongs to an active user of one of
    `roles` (for long answers such as the live stream, checked again while they run)."""
    with Session(engine) as session:
        try:
            principal = principal_of(request, session)
        except HTTPException:
            return False
    return principal is not None and principal.role in roles


async def allowed_now(request: Request, roles: tuple[str, ...]) -> bool:
    """`still_allowed` for a stream on the event loop: from the principal cache when it
    knows the credential (forgotten at once on a change in this process, within its
    TTL on another's), else looked up on a thread."""
    try:
        principal = _cached_only(request)
    except HTTPException:
        return False
    if principal is None:
        return await run_in_threadpool(still_allowed, request.app.state.ctx.engine,
                                       request, roles)
    return principal.role in roles


PrincipalDep = Annotated[Principal | None, Depends(current_principal)]


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data"))


def _expected_csrf(request: Request, principal: Principal | None) -> str | None:
    """The token a state-changing request must send; "" when it needs none."""
    if request.method in SAFE_METHODS or (principal is not None and principal.via == "token"):
        return ""
    return principal.csrf_token if principal else request.cookies.get(CSRF_COOKIE)


def _compare_csrf(expected: str | None, supplied: str | None) -> None:
    if not expected or not supplied or not secrets.compare_digest(expected, supplied):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


async def check_csrf(request: Request, principal: Principal | None) -> None:
    """Refuse a state-changing request whose CSRF token is missing or wrong (403)."""
    expected = _expected_csrf(request, principal)
    if expected == "":
        return
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    _compare_csrf(expected, supplied)


def check_csrf_before_body(request: Request, principal: Principal | None) -> None:
    """What of `check_csrf` needs no body: a token expected but none to compare with
    (no session token, no double-submit cookie), or one sent in the header. A form's
    field is compared once the form is read."""
    expected = _expected_csrf(request, principal)
    if expected == "":
        return
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and _is_form(request) and expected:
        return
    _compare_csrf(expected, supplied)


async def public_csrf(request: Request) -> None:
    """For the public forms (customer fault report, login): a double-submit token.

    These pages never look at accounts, so a logged-in browser is treated like any other.
    """
    await check_csrf(request, None)


async def _public_csrf_before_body(request: Request) -> None:
    check_csrf_before_body(request, None)


public_csrf.before_body = _public_csrf_before_body  # type: ignore[attr-defined]


def _authorised(request: Request, principal: Principal | None, roles: tuple[str, ...],
                page: bool) -> Principal:
    """The caller if they have one of `roles`: else 401 (a page: to /login) or 403."""
    if principal is None:
        if page:
            raise LoginRequired(request.url.path
                                + (f"?{request.url.query}" if request.url.query else ""))
        raise HTTPException(401, "authentication required: send 'Authorization: Bearer "
                            "<API token>' or log in at /login",
                            headers={"WWW-Authenticate": "Bearer"})
    if principal.role not in roles:
        raise HTTPException(403, f"this needs the role {' or '.join(roles)}; "
                            f"'{principal.username}' is {principal.role}")
    return principal


def _role_check(roles: tuple[str, ...], page: bool) -> Callable[..., Awaitable[Principal]]:
    async def dependency(request: Request, principal: PrincipalDep) -> Principal:
        _authorised(request, principal, roles, page)
        assert principal is not None
        await check_csrf(request, principal)
        return principal

    async def before_body(request: Request) -> None:
        principal = await current_principal(request)
        check_csrf_before_body(request, _authorised(request, principal, roles, page))

    dependency.before_body = before_body  # type: ignore[attr-defined]
    return dependency


def require_role(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """API routes: 401 without credentials, 403 for the wrong role, CSRF for sessions."""
    return _role_check(roles, page=False)


def page_role(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """Page routes: like require_role, but a browser without a session is sent to /login."""
    return _role_check(roles, page=True)


# Who may call a route: the principal as a parameter (or `Depends(...)` of the same
# callable in a router's dependencies, which FastAPI then runs once per request).
STAFF_ROLES = ("dispatcher", "admin")
staff_only = require_role(*STAFF_ROLES)
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
    # The peer address. `X-Forwarded-For` counts only from the proxies the operator
    # names (`trusted_proxies`): the http worker runs uvicorn with `proxy_headers`
    # for exactly those (portal/server.py); from anyone else it is ignored.
    return request.client.host if request.client else "unknown"


def too_many(wait: float) -> HTTPException:
    seconds = max(1, math.ceil(wait))
    return HTTPException(429, f"too many requests: try again in {seconds} s",
                         headers={"Retry-After": str(seconds)})


def early(guard: Callable[[Request], Awaitable[None]]) -> Callable[[Request], Awaitable[None]]:
    """`guard` as a dependency that runs before the body is read (`GuardedRoute`), and
    once per request however often it is declared (a rate limit spends one token)."""
    done = f"fp_early_{id(guard)}"

    async def dependency(request: Request) -> None:
        if not getattr(request.state, done, False):
            setattr(request.state, done, True)
            await guard(request)

    dependency.before_body = dependency  # type: ignore[attr-defined]
    return dependency


def _limited(limiter_name: str) -> Callable[[Request], Awaitable[None]]:
    async def limit(request: Request) -> None:
        wait = getattr(request.app.state.ctx, limiter_name).take(client_key(request))
        if wait > 0:
            raise too_many(wait)

    return early(limit)


public_rate_limit = _limited("public_limiter")
login_rate_limit = _limited("login_limiter")


def _calls(dependant: Dependant) -> Iterator[Any]:
    """Every dependency's callable, in the order FastAPI resolves them."""
    for sub in dependant.dependencies:
        yield from _calls(sub)
        yield sub.call


class GuardedRoute(APIRoute):
    """A route whose dependencies' `before_body` checks run before the body is read
    (and so before FastAPI parses JSON or spools a multipart form to disk)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        guards: list[Callable[[Request], Awaitable[None]]] = []
        for call in _calls(self.dependant):
            guard = getattr(call, "before_body", None)
            if guard is not None and guard not in guards:
                guards.append(guard)
        if not guards:
            return handler

        async def guarded(request: Request) -> Response:
            for guard in guards:
                await guard(request)
            return await handler(request)

        return guarded
