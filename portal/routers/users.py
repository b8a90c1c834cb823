"""Accounts and API tokens: the caller (`/api/me`), tokens made and revoked, users
managed by admins, and whom an alert can be assigned to."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from foundations import i18n
from foundations.clock import now_ms
from portal.auth.accounts import (
    AccountError,
    LastAdminError,
    Principal,
    change_role,
    create_user,
    get_user,
    issue_api_token,
    reset_password,
    set_disabled,
)
from portal.auth.audit import record
from portal.auth.dependencies import SESSION_COOKIE, Admin, AnyRole, GuardedRoute, Staff
from portal.auth.tables import ApiToken, PortalUser
from portal.context import SessionDep
from portal.queries.users import assignable_users, list_users
from portal.queries.users import user_tokens as tokens_of
from portal.schemas.common import RowId
from portal.schemas.users import (
    Assignee,
    LanguageChange,
    Me,
    PasswordReset,
    PasswordSet,
    RoleChange,
    TokenIssued,
    TokenPublic,
    TokenRequest,
    UserCreated,
    UserPublic,
    UserRequest,
)

router = APIRouter(route_class=GuardedRoute, tags=["access"])


@router.get("/api/me")
def me(principal: AnyRole) -> Me:
    return Me(username=principal.username, role=principal.role,
              engineer_id=principal.engineer_id)


@router.post("/api/tokens", status_code=201)
def create_token(body: TokenRequest, principal: AnyRole, session: SessionDep) -> TokenIssued:
    """A new API token acting as the caller, with the caller's role."""
    user = session.get(PortalUser, principal.user_id)
    assert user is not None
    token, plain = issue_api_token(session, user, body.name)
    assert token.id is not None
    record(session, principal.actor, "token.create", f"token:{token.id}", body.name)
    session.commit()
    return TokenIssued(id=token.id, name=token.name, token=plain)


@router.delete("/api/tokens/{token_id}", status_code=204)
def revoke_token(token_id: RowId, principal: AnyRole, session: SessionDep) -> Response:
    """Revoke a token: one's own, or anyone's for an admin."""
    token = session.get(ApiToken, token_id)
    # Someone else's token answers like a missing one: its existence is not theirs to learn.
    if token is None or (token.user_id != principal.user_id and principal.role != "admin"):
        raise HTTPException(404, f"no token {token_id} of yours")
    if token.revoked_at is None:
        token.revoked_at = now_ms()
        record(session, principal.actor, "token.revoke", f"token:{token_id}")
        session.commit()
    return Response(status_code=204)


def _public(user: PortalUser) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("/api/users")
def users(_: Admin, session: SessionDep) -> list[UserPublic]:
    return [_public(u) for u in list_users(session)]


@router.post("/api/users", status_code=201)
def add_user(body: UserRequest, principal: Admin, session: SessionDep) -> UserCreated:
    try:
        user, password = create_user(session, body.username, body.role,
                                     engineer_id=body.engineer_id)
    except AccountError as err:
        raise HTTPException(409 if "exists" in str(err) else 422, str(err)) from None
    record(session, principal.actor, "user.create", f"user:{user.username}", user.role)
    session.commit()
    return UserCreated(**_public(user).model_dump(), password=password)


def _user(session: SessionDep, username: str) -> PortalUser:
    user = get_user(session, username)
    if user is None:
        raise HTTPException(404, f"no user '{username}'")
    return user


def _refused(err: AccountError) -> HTTPException:
    # The last-admin guard is a conflict with the installation's state, not a bad request.
    return HTTPException(409 if isinstance(err, LastAdminError) else 422, str(err))


@router.put("/api/users/{username}/role")
def set_role(username: str, body: RoleChange, principal: Admin,
             session: SessionDep) -> UserPublic:
    """Change a user's role (and, for an engineer, whose jobs they see); it applies to
    their next request, by session or token. The last active admin keeps the role (409)."""
    user = _user(session, username)
    before = f"{user.role} {user.engineer_id or ''}".strip()
    try:
        change_role(session, user, body.role, body.engineer_id)
    except AccountError as err:
        raise _refused(err) from None
    after = f"{user.role} {user.engineer_id or ''}".strip()
    if after != before:
        record(session, principal.actor, "user.role", f"user:{username}", f"{before} -> {after}")
    session.commit()
    return _public(user)


@router.put("/api/users/{username}/language")
def set_language(username: str, body: LanguageChange, principal: Admin,
                 session: SessionDep) -> UserPublic:
    """The language of a user's pages from their next request (422: not available)."""
    user = _user(session, username)
    found = i18n.normalise(body.language) if body.language else ""
    if found is None:
        raise HTTPException(422, f"language: one of {', '.join(map(i18n.tag, i18n.available()))}")
    chosen = i18n.tag(found)
    if user.language != chosen:
        record(session, principal.actor, "user.language", f"user:{username}",
               f"{user.language or '-'} -> {chosen or '-'}")
        user.language = chosen
        session.add(user)
    session.commit()
    return _public(user)


def _set_disabled(username: str, disabled: bool, principal: Principal,
                  session: SessionDep) -> UserPublic:
    user = _user(session, username)
    if user.disabled != disabled:
        try:
            set_disabled(session, user, disabled)
        except AccountError as err:
            raise _refused(err) from None
        record(session, principal.actor, "user.disable" if disabled else "user.enable",
               f"user:{username}")
        session.commit()
    return _public(user)


@router.post("/api/users/{username}/disable")
def disable_user(username: str, principal: Admin, session: SessionDep) -> UserPublic:
    """The user can no longer log in; their sessions end and their API tokens are refused
    from the next request on. The last active admin cannot be disabled (409)."""
    return _set_disabled(username, True, principal, session)


@router.post("/api/users/{username}/enable")
def enable_user(username: str, principal: Admin, session: SessionDep) -> UserPublic:
    """Let a disabled user log in again; their unrevoked API tokens work again."""
    return _set_disabled(username, False, principal, session)


@router.post("/api/users/{username}/password")
def set_password(username: str, body: PasswordReset, request: Request, principal: Admin,
                 session: SessionDep) -> PasswordSet:
    """Set a new password (or have one generated); the user's other browser sessions end."""
    user = _user(session, username)
    # An admin resetting their own password stays logged in in this browser.
    keep = (request.cookies.get(SESSION_COOKIE)
            if principal.via == "session" and principal.user_id == user.id else None)
    password = reset_password(session, user, body.password, keep_key=keep)
    record(session, principal.actor, "user.password_reset", f"user:{username}")
    session.commit()
    return PasswordSet(username=username, password=None if body.password else password)


@router.get("/api/users/{username}/tokens")
def user_tokens(username: str, _: Admin, session: SessionDep) -> list[TokenPublic]:
    """The user's API tokens, newest first (revoke one with DELETE /api/tokens/{id})."""
    user = _user(session, username)
    assert user.id is not None
    return [TokenPublic.model_validate(t, from_attributes=True)
            for t in tokens_of(session, user.id)]


@router.get("/api/assignees", tags=["alerts"])
def assignees(_: Staff, session: SessionDep) -> list[Assignee]:
    """Who an alert can be assigned to (the inbox's picker): active dispatchers and admins.

    Its own route rather than GET /api/users: a dispatcher needs names, not every
    account's role, engineer link and state."""
    # Accounts have no separate display name yet: the login name, with the role.
    return [Assignee(username=u.username, display_name=f"{u.username} ({u.role})",
                     role=u.role) for u in assignable_users(session)]
