"""The audit log."""

from __future__ import annotations

from pydantic import BaseModel


class AuditEventPublic(BaseModel):
    id: int
    at: int
    actor: str
    action: str
    target: str
    detail: str
