"""Sales opportunities: list and filter them, offer one, and record the customer's
answer. Accepting opens a delivery (consumable) or installation (upgrade) work order
that the dispatcher plans (`sales.service`); every change is audited."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Query
from sqlmodel import Session

from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import GuardedRoute, Staff
from portal.context import ContextDep, PortalContext, SessionDep
from portal.queries.opportunities import list_opportunities
from portal.schemas.common import RowId
from portal.schemas.opportunities import Decision, OpportunityPublic, StatusFilter
from sales import service
from sales.tables import Opportunity

router = APIRouter(route_class=GuardedRoute, tags=["sales"])


def _public(opp: Opportunity) -> OpportunityPublic:
    return OpportunityPublic.model_validate(opp, from_attributes=True)


def _get(session: Session, opportunity_id: int) -> Opportunity:
    opp = session.get(Opportunity, opportunity_id)
    if opp is None:
        raise HTTPException(404, f"no opportunity {opportunity_id}")
    return opp


@router.get("/api/opportunities")
def opportunities(
    session: SessionDep, _principal: Staff,
    status: StatusFilter | None = Query(None, description="'active': open, offered or "
                                                          "accepted"),
    kind: Literal["consumable", "upgrade"] | None = None,
    owner: str | None = None, device_id: str | None = None, customer_id: str | None = None,
    limit: int = Query(500, ge=1, le=5000),
) -> list[OpportunityPublic]:
    """Newest first; the filters combine."""
    return [_public(o) for o in list_opportunities(
        session, status=status, kind=kind, owner=owner, device_id=device_id,
        customer_id=customer_id, limit=limit)]


@router.get("/api/opportunities/{opportunity_id}")
def opportunity(opportunity_id: RowId, session: SessionDep, _principal: Staff
                ) -> OpportunityPublic:
    return _public(_get(session, opportunity_id))


def _decide(ctx: PortalContext, principal: Principal, opportunity_id: int, action: str,
            note: str) -> OpportunityPublic:
    at = now_ms()
    with session_scope(ctx.engine) as session:
        opp = _get(session, opportunity_id)
        detail = f"{opp.product} for {opp.device_id}"
        try:
            if action == "accept":
                order = service.accept(session, opp, ctx.models, principal.username, at, note)
                detail += f": work order {order.id}"
            elif action == "offer":
                service.offer(opp, principal.username, at)
            else:
                service.decline(opp, principal.username, at, note)
        except service.OpportunityError as err:
            raise HTTPException(409, str(err)) from None
        session.add(opp)
        record(session, principal.actor, f"opportunity.{action}",
               f"opportunity:{opportunity_id}", f"{detail} {note}".strip())
        session.flush()
        public = _public(opp)
    if action == "accept":
        ctx.request_replan()
    return public


@router.post("/api/opportunities/{opportunity_id}/offer")
def offer(opportunity_id: RowId, ctx: ContextDep, principal: Staff,
          body: Decision | None = None) -> OpportunityPublic:
    """The offer went to the customer."""
    return _decide(ctx, principal, opportunity_id, "offer", body.note if body else "")


@router.post("/api/opportunities/{opportunity_id}/accept")
def accept(opportunity_id: RowId, ctx: ContextDep, principal: Staff,
           body: Decision | None = None) -> OpportunityPublic:
    """The customer accepted: a delivery or installation work order for the dispatcher
    (`work_order_id` in the answer)."""
    return _decide(ctx, principal, opportunity_id, "accept", body.note if body else "")


@router.post("/api/opportunities/{opportunity_id}/decline")
def decline(opportunity_id: RowId, ctx: ContextDep, principal: Staff,
            body: Decision | None = None) -> OpportunityPublic:
    return _decide(ctx, principal, opportunity_id, "decline", body.note if body else "")
