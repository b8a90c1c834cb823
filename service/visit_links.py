"""The customer's link to follow one visit: an unguessable token (128 bits, like the
QR codes') per work order, made once, when the first "on the way" notice is written
(`service.notice_recorder`). It opens that visit's page and nothing else."""

from __future__ import annotations

import secrets

from sqlmodel import Session, select

from service.tables import VisitLink


def visit_token(session: Session, work_order_id: int, at: int) -> str:
    """The visit's token, made now if it has none."""
    link = session.exec(select(VisitLink).where(VisitLink.work_order_id == work_order_id)).first()
    if link is None:
        link = VisitLink(token=secrets.token_urlsafe(16), work_order_id=work_order_id,
                         created_at=at)
        session.add(link)
        session.flush()
    return link.token
