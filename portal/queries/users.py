"""Portal accounts and their API tokens."""

from __future__ import annotations

from sqlmodel import Session, col, select

from portal.auth.accounts import ASSIGNABLE_ROLES
from portal.auth.tables import ApiToken, PortalUser


def list_users(session: Session) -> list[PortalUser]:
    """By name."""
    return list(session.exec(select(PortalUser).order_by(col(PortalUser.username))))


def user_tokens(session: Session, user_id: int | None = None) -> list[ApiToken]:
    """The user's API tokens (None: everyone's), newest first."""
    query = select(ApiToken).order_by(col(ApiToken.id).desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.exec(query))


def assignable_users(session: Session) -> list[PortalUser]:
    """Who can take alerts: active dispatchers and admins, by name."""
    return list(session.exec(select(PortalUser)
                             .where(col(PortalUser.role).in_(ASSIGNABLE_ROLES),
                                    ~col(PortalUser.disabled))
                             .order_by(col(PortalUser.username))))
