"""API for accounts, API tokens, device QR codes and the audit log."""

from __future__ import annotations

import io
import time
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import col, select

from asset_registry.qr_tokens import new_qr_token
from asset_registry.tables import Device
from portal.auth.accounts import (
    ASSIGNABLE_ROLES,
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
from portal.auth.audit import recent, record
from portal.auth.dependencies import SESSION_COOKIE, require_role
from portal.auth.tables import ROLES, ApiToken, PortalUser
from portal.context import ContextDep, SessionDep
from portal.qr_codes import customer_url, write_qr_codes
from portal.schemas import RowId

router = APIRouter(tags=["access"])
Admin = Annotated[Principal, Depends(require_role("admin"))]
AnyRole = Annotated[Principal, Depends(require_role(*ROLES))]
Staff = Annotated[Principal, Depends(require_role("dispatcher", "admin"))]


class Me(BaseModel):
    username: str
    role: str
    engineer_id: str | None


class TokenRequest(BaseModel):
    name: str = Field(default="", max_length=100, description="what the token is for")


class TokenIssued(BaseModel):
    id: int
    name: str
    token: str = Field(description="shown only now: only its hash is stored")


class UserRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    role: str = Field(pattern="^(admin|dispatcher|engineer)$")
    engineer_id: str | None = Field(default=None, max_length=100,
                                    description="required for, and only for, an engineer")


class UserPublic(BaseModel):
    username: str
    role: str
    engineer_id: str | None
    disabled: bool


class UserCreated(UserPublic):
    password: str = Field(description="generated, shown only now")


class RoleChange(BaseModel):
    role: str = Field(pattern="^(admin|dispatcher|engineer)$")
    engineer_id: str | None = Field(default=None, max_length=100,
                                    description="required for, and only for, an engineer")


class PasswordReset(BaseModel):
    password: str | None = Field(default=None, min_length=8, max_length=200,
                                 description="the new password; omit it to have one generated")


class PasswordSet(BaseModel):
    username: str
    password: str | None = Field(description="the generated password, shown only now "
                                             "(null when the admin chose it)")


class TokenPublic(BaseModel):
    id: int
    name: str
    created_at: int
    revoked_at: int | None


class Assignee(BaseModel):
    username: str
    display_name: str
    role: str


class QrCodeIssued(BaseModel):
    device_id: str
    url: str
    files: list[str] = Field(description="QR files written on the server (none without a "
                                         "QR directory)")


class AuditEventPublic(BaseModel):
    id: int
    at: int
    actor: str
    action: str
    target: str
    detail: str


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
        token.revoked_at = int(time.time() * 1000)
        record(session, principal.actor, "token.revoke", f"token:{token_id}")
        session.commit()
    return Response(status_code=204)


@router.get("/api/users")
def users(_: Admin, session: SessionDep) -> list[UserPublic]:
    rows = session.exec(select(PortalUser).order_by(PortalUser.username))
    return [UserPublic.model_validate(u, from_attributes=True) for u in rows]


@router.post("/api/users", status_code=201)
def add_user(body: UserRequest, principal: Admin, session: SessionDep) -> UserCreated:
    try:
        user, password = create_user(session, body.username, body.role,
                                     engineer_id=body.engineer_id)
    except AccountError as err:
        raise HTTPException(409 if "exists" in str(err) else 422, str(err)) from None
    record(session, principal.actor, "user.create", f"user:{user.username}", user.role)
    session.commit()
    return UserCreated(**UserPublic.model_validate(user, from_attributes=True).model_dump(),
                       password=password)


def _user(session: SessionDep, username: str) -> PortalUser:
    user = get_user(session, username)
    if user is None:
        raise HTTPException(404, f"no user '{username}'")
    return user


def _refused(err: AccountError) -> HTTPException:
    # The last-admin guard is a conflict with the installation's state, not a bad request.
    return HTTPException(409 if isinstance(err, LastAdminError) else 422, str(err))


def _public(user: PortalUser) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


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
    rows = session.exec(select(ApiToken).where(ApiToken.user_id == user.id)
                        .order_by(col(ApiToken.id).desc()))
    return [TokenPublic.model_validate(t, from_attributes=True) for t in rows]


@router.get("/api/assignees", tags=["alerts"])
def assignees(_: Staff, session: SessionDep) -> list[Assignee]:
    """Who an alert can be assigned to (the inbox's picker): active dispatchers and admins.

    Its own route rather than GET /api/users: a dispatcher needs names, not every
    account's role, engineer link and state."""
    rows = session.exec(select(PortalUser)
                        .where(col(PortalUser.role).in_(ASSIGNABLE_ROLES),
                               ~col(PortalUser.disabled))
                        .order_by(PortalUser.username))
    # Accounts have no separate display name yet: the login name, with the role.
    return [Assignee(username=u.username, display_name=f"{u.username} ({u.role})",
                     role=u.role) for u in rows]


def _device(session: SessionDep, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise HTTPException(404, f"no device '{device_id}'")
    return device


@router.post("/api/devices/{device_id}/qr-token", tags=["devices"])
def rotate_qr_token(device_id: str, principal: Admin, ctx: ContextDep,
                    session: SessionDep) -> QrCodeIssued:
    """Revoke the device's QR code and issue a new one: the old URL answers 404 from now on.

    The new code is written to the server's QR directory for printing."""
    device = _device(session, device_id)
    device.qr_token = new_qr_token()
    record(session, principal.actor, "qr_token.rotate", f"device:{device_id}")
    session.commit()
    files = []
    if ctx.qr_dir is not None:
        write_qr_codes([(device_id, device.qr_token)], ctx.base_url, ctx.qr_dir)
        files = [str(ctx.qr_dir / f"{device_id}.{ext}") for ext in ("svg", "png")]
    return QrCodeIssued(device_id=device_id, url=customer_url(ctx.base_url, device.qr_token),
                        files=files)


@router.get("/api/devices/{device_id}/qr.svg", tags=["devices"], response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
def qr_code_svg(device_id: str, _: Admin, ctx: ContextDep, session: SessionDep) -> Response:
    """The device's current QR code, to print a new label without revoking the old one."""
    device = _device(session, device_id)
    out = io.BytesIO()
    segno.make(customer_url(ctx.base_url, device.qr_token), error="m").save(
        out, kind="svg", scale=4, border=2)
    return Response(out.getvalue(), media_type="image/svg+xml")


@router.get("/api/audit", tags=["operations"])
def audit_log(_: Admin, session: SessionDep,
              action: str | None = Query(None, max_length=100),
              target: str | None = Query(None, max_length=200),
              limit: int = Query(200, ge=1, le=1000)) -> list[AuditEventPublic]:
    """Newest first: who changed what, when."""
    return [AuditEventPublic.model_validate(e, from_attributes=True)
            for e in recent(session, limit, action, target)]
