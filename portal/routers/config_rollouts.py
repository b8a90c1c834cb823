"""Configuration rollouts (`commands.rollouts`): push a device model's edge settings and
rules to every gateway with one of its devices, follow it (n of m applied, failures named),
roll it back. Dispatchers and admins; every start and rollback is in the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from sqlmodel import Session

from commands import rollouts
from commands.service import CommandError
from commands.tables import ConfigRollout
from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import GuardedRoute, Staff, staff_only
from portal.context import ContextDep, SessionDep
from portal.schemas.common import RowId
from portal.schemas.config_rollouts import RolloutIn, RolloutPublic, RolloutTargetPublic

router = APIRouter(route_class=GuardedRoute, tags=["configuration"],
                   dependencies=[Depends(staff_only)])


def _public(session: Session, rollout_id: int) -> RolloutPublic:
    rollout, targets = rollouts.progress(session, rollout_id)
    assert rollout.id is not None
    live = [t for t in targets if t.status != rollouts.SUPERSEDED]
    return RolloutPublic(
        id=rollout.id, model_id=rollout.model_id, rollback_of=rollout.rollback_of,
        created_by=rollout.created_by, created_at=rollout.created_at,
        applied=sum(t.status == rollouts.APPLIED for t in live), total=len(live),
        failed=sum(t.status == rollouts.FAILED for t in live),
        targets=[RolloutTargetPublic(gateway_id=t.gateway_id, status=t.status, error=t.error,
                                     updated_at=t.updated_at) for t in targets])


def _started(ctx: ContextDep, principal: Principal, action: str, target: str,
             make: object) -> RolloutPublic:
    with session_scope(ctx.engine) as session:
        try:
            rollout: ConfigRollout = make(session)  # type: ignore[operator]
        except CommandError as exc:
            raise HTTPException(409 if exc.status == 422 else exc.status, str(exc)) from None
        assert rollout.id is not None
        record(session, principal.actor, action, target, f"rollout {rollout.id}")
        answer = _public(session, rollout.id)
    ctx.on_command_queued()  # the command link publishes the configs
    return answer


@router.post("/api/models/{model_id}/config-rollouts", status_code=201)
def start(model_id: str, body: RolloutIn, ctx: ContextDep, principal: Staff) -> RolloutPublic:
    """Push the model's edge settings (and its threshold rules, or `rules`) to every gateway
    with one of its devices. 409: no such gateway, or a config they would refuse."""
    settings = body.model_dump(mode="json")
    return _started(ctx, principal, "config.rollout", f"model:{model_id}", lambda session: (
        rollouts.start_rollout(session, ctx.models, model_id, settings, principal.username,
                               now_ms())))


@router.get("/api/config-rollouts/{rollout_id}")
def get_rollout(rollout_id: RowId, session: SessionDep) -> RolloutPublic:
    """Progress: how many of its gateways run it, which failed and why."""
    try:
        return _public(session, rollout_id)
    except CommandError as exc:
        raise HTTPException(exc.status, str(exc)) from None


@router.post("/api/config-rollouts/{rollout_id}/rollback", status_code=201)
def roll_back(rollout_id: RowId, ctx: ContextDep, principal: Staff) -> RolloutPublic:
    """A new rollout restoring the model's configuration from before this one. 409: it was
    the model's first."""
    return _started(ctx, principal, "config.rollback", f"rollout:{rollout_id}", lambda session: (
        rollouts.rollback(session, ctx.models, rollout_id, principal.username, now_ms())))
