"""API for acting on alerts and for editing the rules of a device model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException
from pydantic import BaseModel, Field

from asset_registry.rule_spec import RuleError
from portal.auth.accounts import Principal
from portal.auth.audit import record_now
from portal.auth.dependencies import require_role
from portal.context import ContextDep
from portal.schemas import AlertPublic, RowId
from rules.errors import AlertError
from rules.service import RulesService

router = APIRouter(tags=["alerts"])
Staff = Annotated[Principal, Depends(require_role("dispatcher", "admin"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


class AlertAction(BaseModel):
    by: str = Field(min_length=1, max_length=100, description="who acts")
    note: str = Field(default="", max_length=2000)


class RuleSetPublic(BaseModel):
    model_id: str
    version: int
    rules: list[dict]


def _rules(ctx) -> RulesService:
    if ctx.rules is None:
        raise HTTPException(503, "the rules service is not running in this process")
    return ctx.rules


def _act(ctx, alert_id: int, action: str, body: AlertAction, principal: Principal
         ) -> AlertPublic:
    service = _rules(ctx)
    try:
        alert = getattr(service, action)(alert_id, body.by, body.note)
    except AlertError as err:
        status = 404 if str(err).startswith("no alert") else 409
        raise HTTPException(status, str(err)) from None
    # `by` is what the caller wrote; the log keeps who was authenticated.
    record_now(ctx.engine, principal.actor, f"alert.{action}", f"alert:{alert_id}",
               f"by {body.by}: {body.note}")
    return AlertPublic.model_validate(alert, from_attributes=True)


@router.post("/api/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: RowId, body: AlertAction, ctx: ContextDep, principal: Staff
               ) -> AlertPublic:
    return _act(ctx, alert_id, "acknowledge", body, principal)


@router.post("/api/alerts/{alert_id}/close")
def close(alert_id: RowId, body: AlertAction, ctx: ContextDep, principal: Staff
         ) -> AlertPublic:
    return _act(ctx, alert_id, "close", body, principal)


@router.post("/api/alerts/{alert_id}/comment")
def comment(alert_id: RowId, body: AlertAction, ctx: ContextDep, principal: Staff
           ) -> AlertPublic:
    return _act(ctx, alert_id, "comment", body, principal)


@router.get("/api/models/{model_id}/rules", tags=["rules"],
            dependencies=[Depends(require_role("dispatcher", "admin"))])
def get_rules(model_id: str, ctx: ContextDep) -> RuleSetPublic:
    if model_id not in ctx.models:
        raise HTTPException(404, f"no device model '{model_id}'")
    version, rules = _rules(ctx).rules_of(model_id)
    return RuleSetPublic(model_id=model_id, version=version, rules=rules)


@router.put("/api/models/{model_id}/rules", tags=["rules"])
def put_rules(model_id: str, ctx: ContextDep, principal: Admin,
              rules: Annotated[list[dict], Body(description="the model's complete rule list")],
              by: str = "api") -> RuleSetPublic:
    """Replace a model's rules with a new version, in force at once (no restart)."""
    if model_id not in ctx.models:
        raise HTTPException(404, f"no device model '{model_id}'")
    try:
        version = _rules(ctx).update_rules(model_id, rules, by)
    except RuleError as err:
        raise HTTPException(422, str(err)) from None
    record_now(ctx.engine, principal.actor, "rules.update", f"model:{model_id}",
               f"version {version} ({len(rules)} rules), by {by}")
    return RuleSetPublic(model_id=model_id, version=version, rules=rules)
