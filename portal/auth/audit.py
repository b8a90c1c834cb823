"""The audit log: every change made through the portal, with who, what and when."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.tables import AuditEvent


def record(session: Session, actor: str, action: str, target: str = "",
           detail: str = "") -> AuditEvent:
    """Add an event to `session`; it is stored with the change when the caller commits."""
    event = AuditEvent(at=now_ms(), actor=actor, action=action,
                       target=target, detail=detail[:2000])
    session.add(event)
    return event


def record_now(engine: Engine, actor: str, action: str, target: str = "",
               detail: str = "") -> None:
    """For changes committed elsewhere (the rules service): log in a transaction of its own."""
    with session_scope(engine) as session:
        record(session, actor, action, target, detail)


def recent(session: Session, limit: int = 200, action: str | None = None,
           target: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(col(AuditEvent.id).desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action == action)
    if target:
        query = query.where(AuditEvent.target == target)
    return list(session.exec(query))
