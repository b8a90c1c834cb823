"""The audit log (admins): who changed what, when."""

from __future__ import annotations

from fastapi import APIRouter, Query

from portal.auth.audit import recent
from portal.auth.dependencies import Admin, GuardedRoute
from portal.context import SessionDep
from portal.schemas.audit import AuditEventPublic

router = APIRouter(route_class=GuardedRoute, tags=["access"])


@router.get("/api/audit", tags=["operations"])
def audit_log(_: Admin, session: SessionDep,
              action: str | None = Query(None, max_length=100),
              target: str | None = Query(None, max_length=200),
              limit: int = Query(200, ge=1, le=1000)) -> list[AuditEventPublic]:
    """Newest first: who changed what, when."""
    return [AuditEventPublic.model_validate(e, from_attributes=True)
            for e in recent(session, limit, action, target)]
