"""Log in and out of the portal in a browser (a session cookie)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from portal.auth.accounts import (
    SESSION_HOURS,
    Principal,
    authenticate,
    close_session,
    open_session,
)
from portal.auth.audit import record
from portal.auth.dependencies import (
    SESSION_COOKIE,
    AnyRolePage,
    GuardedRoute,
    login_rate_limit,
    public_csrf,
    too_many,
)
from portal.context import ContextDep, SessionDep
from portal.i18n import N_
from portal.rendering import is_https, render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


def _safe_next(next_url: str, principal: Principal) -> str:
    # Only paths on this site: "//host" or "https://host" would make the login an open redirect.
    if next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        return next_url
    if principal.role == "engineer" and principal.engineer_id:
        return f"/engineer/{principal.engineer_id}"
    return "/dispatch"


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    return render(request, "login.html", {"next": next, "error": None, "lang_switch": True})


@router.post("/login", dependencies=[Depends(login_rate_limit), Depends(public_csrf)])
def login(request: Request, ctx: ContextDep, session: SessionDep,
          username: Annotated[str, Form(max_length=100)],
          password: Annotated[str, Form(max_length=200)],
          next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    # Per account as well as per address: guesses at one account from many addresses
    # are throttled too. Only failures spend; while throttled, no password is tried.
    wait = ctx.login_account_limiter.peek(username)
    if wait > 0:
        raise too_many(wait)
    user = authenticate(session, username, password)
    if user is None:
        ctx.login_account_limiter.take(username)
        record(session, "anonymous", "login.failed", f"user:{username}")
        session.commit()
        return render(request, "login.html", {"next": next,
                      "error": N_("Wrong user name or password."), "lang_switch": True},
                      status_code=401)
    key = open_session(session, user)
    record(session, f"user:{user.username}", "login", f"user:{user.username}")
    session.commit()
    assert user.id is not None
    target = _safe_next(next, Principal(user.id, user.username, user.role, user.engineer_id,
                                        "session"))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, key, max_age=SESSION_HOURS * 3600, httponly=True,
                        samesite="lax", secure=is_https(request), path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, principal: AnyRolePage) -> Response:
    close_session(session, request.cookies.get(SESSION_COOKIE, ""))
    record(session, principal.actor, "logout", principal.actor)
    session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    # What the browser kept for this user (the engineer app's outbox, cached pages)
    # goes with the session: a shared phone's next user finds none of it.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response
