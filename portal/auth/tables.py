"""Portal accounts, their API tokens and browser sessions, and the audit log."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

ROLES = ("admin", "dispatcher", "engineer")


class PortalUser(SQLModel, table=True):
    __tablename__ = "portal_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True)
    role: str  # one of ROLES
    password_hash: str  # argon2id, encoded with its parameters and salt
    # An engineer account sees the jobs of this engineer and no one else's.
    engineer_id: str | None = Field(default=None, foreign_key="engineer.id")
    disabled: bool = False
    created_at: int = Field(sa_type=BigInteger)
    # The language of their pages (foundations.i18n locale, e.g. "de", "zh_CN");
    # "" reads the browser's Accept-Language.
    language: str = ""


class ApiToken(SQLModel, table=True):
    """A bearer token acting as its user. Only the token's SHA-256 is stored."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="portal_user.id", index=True)
    name: str = ""
    token_hash: str = Field(unique=True)
    created_at: int = Field(sa_type=BigInteger)
    revoked_at: int | None = Field(default=None, sa_type=BigInteger)


class UserSession(SQLModel, table=True):
    """A browser login. The cookie holds a random key; only its SHA-256 is stored,
    so logging out (deleting the row) ends the session for good."""

    __tablename__ = "user_session"
    key_hash: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="portal_user.id", index=True)
    csrf_token: str  # forms of this session must send it back
    created_at: int = Field(sa_type=BigInteger)
    expires_at: int = Field(sa_type=BigInteger)


class AuditEvent(SQLModel, table=True):
    """Who did what, to what, when: one row per change made through the portal."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: int = Field(sa_type=BigInteger, index=True)  # ms epoch
    actor: str  # "user:<name>", "customer:qr" or the name tried at a failed login
    action: str = Field(index=True)
    target: str = ""  # e.g. "alert:12", "device:dev-0003"
    detail: str = ""
