"""Users, API tokens and browser sessions: creating them and finding who a secret belongs to."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import Session, col, delete, select

from foundations.clock import now_ms
from portal.auth.passwords import digest, hash_password, new_password, new_secret, verify_password
from portal.auth.tables import ROLES, ApiToken, PortalUser, UserSession
from service.tables import Engineer

TOKEN_PREFIX = "fpt_"  # tells a leaked API token apart from other secrets at a glance
SESSION_HOURS = 12
# Who can be given an alert to handle (engineers work from jobs, not the inbox).
ASSIGNABLE_ROLES = ("dispatcher", "admin")


class AccountError(ValueError):
    pass


class LastAdminError(AccountError):
    """The change would leave the installation without an active admin."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: an authenticated user, by API token or by browser session."""

    user_id: int
    username: str
    role: str
    engineer_id: str | None
    via: str  # "token" | "session"
    csrf_token: str | None = None  # the session's, for its forms
    language: str = ""  # the account's language (a locale tag); "" = the browser's

    @property
    def actor(self) -> str:
        return f"user:{self.username}"



def _principal(user: PortalUser, via: str, csrf_token: str | None = None) -> Principal:
    assert user.id is not None
    return Principal(user.id, user.username, user.role, user.engineer_id, via, csrf_token,
                     user.language)


def create_user(session: Session, username: str, role: str, password: str | None = None,
                engineer_id: str | None = None) -> tuple[PortalUser, str]:
    """Add a user; returns it and its password (generated unless given), shown only once."""
    _check_role(session, role, engineer_id)
    if get_user(session, username):
        raise AccountError(f"user '{username}' exists already")
    password = password or new_password()
    user = PortalUser(username=username, role=role, password_hash=hash_password(password),
                      engineer_id=engineer_id, created_at=now_ms())
    session.add(user)
    session.flush()
    return user, password


def _check_role(session: Session, role: str, engineer_id: str | None) -> None:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not '{role}'")
    if (role == "engineer") != (engineer_id is not None):
        raise AccountError("an engineer account needs engineer_id, and only an engineer's")
    if engineer_id is not None and session.get(Engineer, engineer_id) is None:
        raise AccountError(f"no engineer '{engineer_id}'")


def _keep_an_admin(session: Session, user: PortalUser) -> None:
    """Refuse to take away the last active admin (no one could manage users any more).

    Locks the active admins' rows (FOR UPDATE; a no-op on SQLite, whose writers are
    serialised anyway) so two admins demoting each other at once cannot both pass."""
    if user.role != "admin" or user.disabled:
        return
    others = session.exec(select(PortalUser.id).where(
        PortalUser.role == "admin", ~col(PortalUser.disabled), PortalUser.id != user.id,
    ).with_for_update()).all()
    if not others:
        raise LastAdminError(f"'{user.username}' is the last active admin: make another "
                             "user admin first")


def get_user(session: Session, username: str) -> PortalUser | None:
    return session.exec(select(PortalUser).where(PortalUser.username == username)).first()


def end_sessions(session: Session, user_id: int, keep_key: str | None = None) -> None:
    """Log the user out everywhere (but for the browser session `keep_key`, if given)."""
    query = delete(UserSession).where(col(UserSession.user_id) == user_id)
    if keep_key:
        query = query.where(col(UserSession.key_hash) != digest(keep_key))
    session.exec(query)


def change_role(session: Session, user: PortalUser, role: str,
                engineer_id: str | None = None) -> None:
    """New role (and engineer link); it applies to the user's next request, by any means."""
    _check_role(session, role, engineer_id)
    if role != "admin":
        _keep_an_admin(session, user)
    user.role, user.engineer_id = role, engineer_id
    session.add(user)


def set_disabled(session: Session, user: PortalUser, disabled: bool) -> None:
    """Disable or enable a login. A disabled user's sessions and tokens are refused at
    once (checked on every request); their sessions are also deleted, so enabling the
    user again does not bring an old cookie back. Tokens only pause: enabling restores them."""
    if disabled:
        _keep_an_admin(session, user)
        assert user.id is not None
        end_sessions(session, user.id)
    user.disabled = disabled
    session.add(user)


def reset_password(session: Session, user: PortalUser, password: str | None = None,
                   keep_key: str | None = None) -> str:
    """A new password (generated unless given); the user's other browser sessions end.

    API tokens stay: they do not depend on the password."""
    password = password or new_password()
    user.password_hash = hash_password(password)
    session.add(user)
    assert user.id is not None
    end_sessions(session, user.id, keep_key)
    return password


def authenticate(session: Session, username: str, password: str) -> PortalUser | None:
    user = session.exec(select(PortalUser).where(PortalUser.username == username)).first()
    ok = verify_password(user.password_hash if user else None, password)
    return user if ok and user is not None and not user.disabled else None


def issue_api_token(session: Session, user: PortalUser, name: str = "") -> tuple[ApiToken, str]:
    """A new bearer token for `user`; the plain token is returned once and never stored."""
    assert user.id is not None
    plain = new_secret(TOKEN_PREFIX)
    token = ApiToken(user_id=user.id, name=name, token_hash=digest(plain), created_at=now_ms())
    session.add(token)
    session.flush()
    return token, plain


def principal_for_token(session: Session, plain: str) -> Principal | None:
    row = session.exec(select(ApiToken, PortalUser)
                       .join(PortalUser, col(PortalUser.id) == ApiToken.user_id)
                       .where(ApiToken.token_hash == digest(plain))).first()
    if row is None or row[0].revoked_at is not None or row[1].disabled:
        return None
    return _principal(row[1], "token")


def open_session(session: Session, user: PortalUser) -> str:
    """Log `user` in; returns the cookie value (the session key)."""
    assert user.id is not None
    key = new_secret()
    now = now_ms()
    # Expired sessions of this user go now, so the table does not grow with every login.
    for old in session.exec(select(UserSession).where(UserSession.user_id == user.id,
                                                      UserSession.expires_at <= now)):
        session.delete(old)
    session.add(UserSession(key_hash=digest(key), user_id=user.id,
                            csrf_token=secrets.token_urlsafe(32), created_at=now,
                            expires_at=now + SESSION_HOURS * 3_600_000))
    return key


def principal_for_session(session: Session, key: str) -> Principal | None:
    row = session.exec(select(UserSession, PortalUser)
                       .join(PortalUser, col(PortalUser.id) == UserSession.user_id)
                       .where(UserSession.key_hash == digest(key))).first()
    if row is None or row[0].expires_at <= now_ms() or row[1].disabled:
        return None
    return _principal(row[1], "session", row[0].csrf_token)


def close_session(session: Session, key: str) -> None:
    row = session.get(UserSession, digest(key))
    if row is not None:
        session.delete(row)
