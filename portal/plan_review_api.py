"""Plans reviewed before they take effect: the dispatcher asks for a proposal, reads
what it would change (per engineer, with ETAs before and after, and the work it
would leave undone), and accepts or discards it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel
from sqlmodel import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from dispatch.dispatcher import Dispatcher
from dispatch.plan import Plan
from dispatch.proposals import Proposal, StaleProposal
from foundations.database import session_scope
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import require_role
from portal.context import ContextDep, PortalContext, SessionDep
from service.tables import Engineer

router = APIRouter(tags=["dispatch"])
Staff = Annotated[Principal, Depends(require_role("dispatcher", "admin"))]
ProposalId = Annotated[int, Path(ge=1, le=2**62)]


class PlanFigures(BaseModel):
    assigned: int
    unassigned: int
    travel_h: float
    sla_late_h: float


class ProposedStop(BaseModel):
    work_order_id: int
    device_id: str
    eta_before: int | None  # ms epoch in the plan in force (None: not with this engineer)
    eta_after: int | None  # ms epoch in the proposal


class EngineerChange(BaseModel):
    engineer_id: str
    name: str
    added: list[ProposedStop]
    removed: list[ProposedStop]
    moved: list[ProposedStop]


class LeftUndone(BaseModel):
    work_order_id: int
    device_id: str
    reason: str


class ProposalPublic(BaseModel):
    id: int
    made_at: int
    expires_at: int
    made_by: str
    before: PlanFigures
    after: PlanFigures
    changes: list[EngineerChange]
    unassigned: list[LeftUndone]


class PlanAccepted(BaseModel):
    plan_id: int
    assigned: int
    unassigned: int
    changes: list[dict[str, str | list[str]]]


def _dispatcher(ctx: PortalContext) -> Dispatcher:
    if ctx.dispatcher is None:
        raise HTTPException(503, "the dispatcher does not run in this process")
    return ctx.dispatcher


def _etas(plan: Plan, made_at: int) -> dict[str, tuple[str, int]]:
    return {s.job_id: (r.engineer_id, made_at + s.arrival * 1000)
            for r in plan.routes for s in r.stops}


def _public(proposal: Proposal, names: dict[str, str]) -> ProposalPublic:
    devices = {str(wo.id): wo.device_id for wo, _lat, _lon in proposal.rows}
    before = _etas(proposal.before, proposal.made_at)
    after = _etas(proposal.plan, proposal.made_at)

    def stops(ids: tuple[str, ...], engineer: str) -> list[ProposedStop]:
        def eta(plan: dict[str, tuple[str, int]], job: str) -> int | None:
            owner, at = plan.get(job, ("", 0))
            return at if owner == engineer else None
        return [ProposedStop(work_order_id=int(j), device_id=devices[j],
                             eta_before=eta(before, j), eta_after=eta(after, j)) for j in ids]

    return ProposalPublic(
        id=proposal.id, made_at=proposal.made_at, expires_at=proposal.expires_at,
        made_by=proposal.made_by, before=PlanFigures.model_validate(proposal.before_stats),
        after=PlanFigures.model_validate(proposal.after_stats),
        changes=[EngineerChange(engineer_id=c.engineer_id, name=names.get(c.engineer_id, ""),
                                added=stops(c.added, c.engineer_id),
                                removed=stops(c.removed, c.engineer_id),
                                moved=stops(c.moved, c.engineer_id))
                 for c in proposal.changes],
        unassigned=[LeftUndone(work_order_id=int(u.job_id), device_id=devices[u.job_id],
                               reason=u.reason) for u in proposal.plan.unassigned],
    )


def _names(session: SessionDep) -> dict[str, str]:
    return dict(session.exec(select(Engineer.id, Engineer.name)).all())


@router.post("/api/plans/proposals", status_code=201)
async def propose(ctx: ContextDep, principal: Staff, session: SessionDep) -> ProposalPublic:
    """Solve the open work now (a few seconds) without changing anything: the answer
    is what the plan would change. Accept it within 15 minutes, or propose again."""
    dispatcher = _dispatcher(ctx)
    proposal = await run_in_threadpool(dispatcher.propose, principal.actor)
    with session_scope(ctx.engine) as s:
        record(s, principal.actor, "plan.propose", f"proposal:{proposal.id}",
               f"{len(proposal.changes)} engineers' routes change")
    return _public(proposal, _names(session))


@router.get("/api/plans/proposals")
def proposals(ctx: ContextDep, _: Staff, session: SessionDep) -> list[ProposalPublic]:
    """Proposals open for review, newest first (including the periodic ones when the
    dispatcher runs with --review-plans)."""
    names = _names(session)
    return [_public(p, names) for p in _dispatcher(ctx).proposals()]


@router.get("/api/plans/proposals/{proposal_id}")
def proposal(proposal_id: ProposalId, ctx: ContextDep, _: Staff,
             session: SessionDep) -> ProposalPublic:
    found = _dispatcher(ctx).proposal(proposal_id)
    if found is None:
        raise HTTPException(404, f"no open proposal {proposal_id} (accepted, discarded or "
                            "expired); propose again")
    return _public(found, _names(session))


@router.post("/api/plans/proposals/{proposal_id}/accept")
async def accept(proposal_id: ProposalId, ctx: ContextDep, principal: Staff) -> PlanAccepted:
    """Put the proposal in force. Refused (409, saying what changed) when the work,
    pins or engineers' day changed since it was made; it is then dropped."""
    dispatcher = _dispatcher(ctx)
    try:
        summary = await run_in_threadpool(dispatcher.accept, proposal_id)
    except KeyError:
        raise HTTPException(404, f"no open proposal {proposal_id} (accepted, discarded or "
                            "expired); propose again") from None
    except StaleProposal as err:
        with session_scope(ctx.engine) as s:
            record(s, principal.actor, "plan.refused", f"proposal:{proposal_id}", str(err))
        raise HTTPException(409, str(err)) from None
    with session_scope(ctx.engine) as s:
        record(s, principal.actor, "plan.accept", f"proposal:{proposal_id}",
               f"plan {summary.plan_id}: {summary.assigned} assigned, "
               f"{summary.unassigned} unassigned")
    return PlanAccepted(plan_id=summary.plan_id, assigned=summary.assigned,
                        unassigned=summary.unassigned,
                        changes=[c.as_dict() for c in summary.changes])


@router.delete("/api/plans/proposals/{proposal_id}", status_code=204)
def discard(proposal_id: ProposalId, ctx: ContextDep, principal: Staff) -> Response:
    if not _dispatcher(ctx).discard(proposal_id):
        raise HTTPException(404, f"no open proposal {proposal_id}")
    with session_scope(ctx.engine) as s:
        record(s, principal.actor, "plan.discard", f"proposal:{proposal_id}")
    return Response(status_code=204)
