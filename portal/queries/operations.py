"""Operations: messages ingest rejected."""

from __future__ import annotations

from sqlmodel import Session, col, select

from ingest.tables import DeadLetter
from portal.schemas.operations import DeadLetterPublic


def list_dead_letters(session: Session, limit: int = 200) -> list[DeadLetterPublic]:
    rows = session.exec(select(DeadLetter).order_by(col(DeadLetter.id).desc()).limit(limit))
    return [DeadLetterPublic.model_validate(r, from_attributes=True) for r in rows]
