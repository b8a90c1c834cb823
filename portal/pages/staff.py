"""Staff pages: the start page, the dispatcher console, managing users and reading the
audit log (admins).
The console and the users page draw from the JSON API in the browser."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from portal.auth.audit import recent
from portal.auth.dependencies import AdminPage, GuardedRoute, PrincipalDep, StaffPage
from portal.auth.tables import ROLES, ApiToken
from portal.context import ContextDep, SessionDep
from portal.queries.engineers import engineers_by_name
from portal.queries.users import list_users, user_tokens
from portal.rendering import render

router = APIRouter(route_class=GuardedRoute, include_in_schema=False)


@router.get("/")
def index(request: Request, principal: PrincipalDep) -> Response:
    return render(request, "index.html", {}, principal)


@router.get("/dispatch")
def dispatch_console(request: Request, ctx: ContextDep, principal: StaffPage) -> Response:
    return render(request, "dispatch.html", {"tile_url": ctx.tile_url, "tz": ctx.tz}, principal)


@router.get("/admin/users")
def admin_users(request: Request, ctx: ContextDep, session: SessionDep, principal: AdminPage
                ) -> Response:
    """Users with their roles, state and API tokens; the page's buttons call the JSON API."""
    tokens: dict[int, list[ApiToken]] = {}
    for token in user_tokens(session):
        tokens.setdefault(token.user_id, []).append(token)
    return render(request, "admin_users.html", {
        "users": list_users(session), "tokens": tokens, "engineers": engineers_by_name(session),
        "roles": ROLES, "tz": ctx.tz,
    }, principal)


@router.get("/admin/audit")
def admin_audit(request: Request, ctx: ContextDep, session: SessionDep, principal: AdminPage
                ) -> Response:
    """The latest 500 changes, newest first, in the installation's local time."""
    return render(request, "admin_audit.html", {"events": recent(session, 500), "tz": ctx.tz},
                  principal)
