"""Plans: engineers' routes, running the dispatcher, the latest plans' changes, pinning
or reassigning a job and the nearest qualified engineers for one (emergency view),
and plans reviewed before they take effect: the dispatcher asks for a proposal,
reads what it would change (per engineer, with ETAs before and after, and the work
it would leave undone), and accepts or discards it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from dispatch.plan import Plan
from dispatch.planning import candidates
from dispatch.proposals import Proposal, StaleProposal
from foundations.database import session_scope
from portal.auth.audit import record
from portal.auth.dependencies import GuardedRoute, Staff
from portal.context import ContextDep, SessionDep, dispatcher
from portal.queries.engineers import engineer_names, engineers_by_id
from portal.queries.work_orders import routed_stops
from portal.schemas.common import RowId
from portal.schemas.plans import (
    CandidatePublic,
    EngineerChange,
    LeftUndone,
    Pin,
    PlanAccepted,
    PlanFigures,
    PlanRequested,
    ProposalId,
    ProposalPublic,
    ProposedStop,
    RoutePublic,
    StopPublic,
)
from portal.schemas.work_orders import WorkOrderPublic
from service.tables import WorkOrder
from service.work_orders import StatusError, UnknownEngineer
from service.work_orders import pin as pin_order

router = APIRouter(route_class=GuardedRoute, tags=["dispatch"])


@router.get("/api/plans/routes")
def routes(_: Staff, session: SessionDep) -> list[RoutePublic]:
    """Every engineer's route of open jobs in order, with each stop's place and ETA."""
    by_engineer: dict[str, list[StopPublic]] = {}
    for order, lat, lon in routed_stops(session):
        assert order.id is not None and order.engineer_id is not None
        by_engineer.setdefault(order.engineer_id, []).append(StopPublic(
            work_order_id=order.id, device_id=order.device_id, lat=lat, lon=lon,
            eta=order.eta, status=order.status,
            pinned=order.pinned_engineer_id is not None or order.pinned_start is not None))
    return [RoutePublic(engineer_id=e.id, name=e.name, home_lat=e.home_lat,
                        home_lon=e.home_lon, stops=by_engineer.get(e.id, []))
            for e in engineers_by_id(session)]


@router.post("/api/plans", status_code=202)
def run_dispatcher(ctx: ContextDep, principal: Staff) -> PlanRequested:
    """Ask the dispatcher for a full re-optimisation now. It runs in the background
    (a plan takes seconds); the new plan arrives as a `plan` live event and in
    GET /api/plans/changes."""
    ctx.request_replan()
    with session_scope(ctx.engine) as session:
        record(session, principal.actor, "plan.request", "dispatcher")
    return PlanRequested(requested=True, detail="the dispatcher is re-planning; watch "
                         "/api/plans/changes")


@router.get("/api/plans/changes")
def plan_changes(_: Staff, ctx: ContextDep) -> list[dict[str, Any]]:
    """The latest plans, newest first: why each was made (a full re-optimisation or an
    emergency insertion) and what it changed per engineer."""
    return [{
        "plan_id": summary.plan_id, "kind": kind, "assigned": summary.assigned,
        "unassigned": summary.unassigned,
        "changes": [c.as_dict() for c in summary.changes],
    } for kind, summary in reversed(ctx.plan_history())]


@router.put("/api/work-orders/{order_id}/pin")
def pin(order_id: RowId, body: Pin, ctx: ContextDep, principal: Staff) -> WorkOrderPublic:
    """Lock an open job to an engineer (a reassignment) and/or an arrival time; null
    values release the lock. The next plan keeps to it; one is requested at once."""
    with session_scope(ctx.engine) as session:
        order = session.get(WorkOrder, order_id)
        if order is None:
            raise HTTPException(404, f"no work order {order_id}")
        try:
            pin_order(session, order, body.engineer_id, body.start)
        except StatusError as err:
            raise HTTPException(409, str(err)) from None
        except UnknownEngineer as err:
            raise HTTPException(422, str(err)) from None
        record(session, principal.actor, "work_order.pin", f"work_order:{order_id}",
               f"engineer {body.engineer_id or 'any'}, start {body.start or 'any'}")
        public = WorkOrderPublic.model_validate(order, from_attributes=True)
    ctx.request_replan()
    return public


@router.get("/api/work-orders/{order_id}/candidates")
async def order_candidates(order_id: RowId, _: Staff, ctx: ContextDep, session: SessionDep
                           ) -> list[CandidatePublic]:
    """Qualified engineers for an open job, nearest arrival first: each ETA is where
    the job would fit into that engineer's current route without bumping anyone."""
    if session.get(WorkOrder, order_id) is None:
        raise HTTPException(404, f"no work order {order_id}")
    try:
        found = await run_in_threadpool(candidates, ctx.engine, ctx.tz, order_id)
    except ValueError as err:
        raise HTTPException(409, str(err)) from None
    names = engineer_names(session)
    return [CandidatePublic(engineer_id=c.engineer_id, name=names.get(c.engineer_id, ""),
                            drive_s=c.drive_s, eta=c.eta, reason=c.reason) for c in found]


# -- plans proposed for review ----------------------------------------------------------

def _etas(plan: Plan, made_at: int) -> dict[str, tuple[str, int]]:
    return {s.job_id: (r.engineer_id, made_at + s.arrival * 1000)
            for r in plan.routes for s in r.stops}


def _proposal_public(proposal: Proposal, names: dict[str, str]) -> ProposalPublic:
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


def _no_proposal(proposal_id: int) -> HTTPException:
    return HTTPException(404, f"no open proposal {proposal_id} (accepted, discarded or "
                         "expired); propose again")


@router.post("/api/plans/proposals", status_code=201)
async def propose(ctx: ContextDep, principal: Staff, session: SessionDep) -> ProposalPublic:
    """Solve the open work now (a few seconds) without changing anything: the answer
    is what the plan would change. Accept it within 15 minutes, or propose again."""
    proposal = await run_in_threadpool(dispatcher(ctx).propose, principal.actor)
    with session_scope(ctx.engine) as s:
        record(s, principal.actor, "plan.propose", f"proposal:{proposal.id}",
               f"{len(proposal.changes)} engineers' routes change")
    return _proposal_public(proposal, engineer_names(session))


@router.get("/api/plans/proposals")
def proposals(ctx: ContextDep, _: Staff, session: SessionDep) -> list[ProposalPublic]:
    """Proposals open for review, newest first (including the periodic ones when the
    dispatcher runs with --review-plans)."""
    names = engineer_names(session)
    return [_proposal_public(p, names) for p in dispatcher(ctx).proposals()]


@router.get("/api/plans/proposals/{proposal_id}")
def proposal(proposal_id: ProposalId, ctx: ContextDep, _: Staff,
             session: SessionDep) -> ProposalPublic:
    found = dispatcher(ctx).proposal(proposal_id)
    if found is None:
        raise _no_proposal(proposal_id)
    return _proposal_public(found, engineer_names(session))


@router.post("/api/plans/proposals/{proposal_id}/accept")
async def accept(proposal_id: ProposalId, ctx: ContextDep, principal: Staff) -> PlanAccepted:
    """Put the proposal in force. Refused (409, saying what changed) when the work,
    pins or engineers' day changed since it was made; it is then dropped."""
    planner = dispatcher(ctx)
    try:
        summary = await run_in_threadpool(planner.accept, proposal_id)
    except KeyError:
        raise _no_proposal(proposal_id) from None
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
    if not dispatcher(ctx).discard(proposal_id):
        raise HTTPException(404, f"no open proposal {proposal_id}")
    with session_scope(ctx.engine) as s:
        record(s, principal.actor, "plan.discard", f"proposal:{proposal_id}")
    return Response(status_code=204)
