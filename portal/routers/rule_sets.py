"""A device model's rule set: read it, or replace it with a new version (admins), in
force at once through the rules service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException

from asset_registry.rule_spec import RuleError
from portal.auth.audit import record_now
from portal.auth.dependencies import Admin, GuardedRoute, staff_only
from portal.context import ContextDep, rules_service
from portal.schemas.rule_sets import RuleSetPublic

router = APIRouter(route_class=GuardedRoute)


@router.get("/api/models/{model_id}/rules", tags=["alerts", "rules"],
            dependencies=[Depends(staff_only)])
def get_rules(model_id: str, ctx: ContextDep) -> RuleSetPublic:
    if model_id not in ctx.models:
        raise HTTPException(404, f"no device model '{model_id}'")
    version, rules = rules_service(ctx).rules_of(model_id)
    return RuleSetPublic(model_id=model_id, version=version, rules=rules)


@router.put("/api/models/{model_id}/rules", tags=["alerts", "rules"])
def put_rules(model_id: str, ctx: ContextDep, principal: Admin,
              rules: Annotated[list[dict[str, Any]],
                               Body(description="the model's complete rule list")],
              by: str = "api") -> RuleSetPublic:
    """Replace a model's rules with a new version, in force at once (no restart)."""
    if model_id not in ctx.models:
        raise HTTPException(404, f"no device model '{model_id}'")
    try:
        version = rules_service(ctx).update_rules(model_id, rules, by)
    except RuleError as err:
        raise HTTPException(422, str(err)) from None
    record_now(ctx.engine, principal.actor, "rules.update", f"model:{model_id}",
               f"version {version} ({len(rules)} rules), by {by}")
    return RuleSetPublic(model_id=model_id, version=version, rules=rules)
