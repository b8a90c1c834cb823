"""Sales opportunities, filtered."""

from __future__ import annotations

from sqlmodel import Session, col, select

from sales.tables import ACTIVE_STATUSES, Opportunity


def list_opportunities(session: Session, *, status: str | None, kind: str | None,
                       owner: str | None, device_id: str | None, customer_id: str | None,
                       limit: int) -> list[Opportunity]:
    """Newest first; the filters (None: any) combine. Status 'active' is open, offered
    or accepted."""
    query = select(Opportunity).order_by(col(Opportunity.id).desc()).limit(limit)
    if status == "active":
        query = query.where(col(Opportunity.status).in_(ACTIVE_STATUSES))
    elif status:
        query = query.where(Opportunity.status == status)
    for column, value in ((Opportunity.kind, kind), (Opportunity.owner, owner),
                          (Opportunity.device_id, device_id),
                          (Opportunity.customer_id, customer_id)):
        if value:
            query = query.where(col(column) == value)
    return list(session.exec(query))
