"""Alerts: the inbox, and what people do with an open alert: acknowledge, close and
comment on it (the rules service), assign it to a person, turn it into a case with a
work order (`service.alert_cases`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlmodel import Session
from starlette.responses import Response

from foundations.database import session_scope
from portal.auth.accounts import ASSIGNABLE_ROLES, get_user
from portal.auth.audit import record, record_now
from portal.auth.dependencies import GuardedRoute, Staff, staff_only
from portal.context import ContextDep, SessionDep, rules_service
from portal.device_list_cache import response_for
from portal.queries.alerts import alert_trail, list_alerts
from portal.read_cache import CacheSpec, cached_body
from portal.schemas.alerts import (
    AlertAction,
    AlertEventPublic,
    AlertPublic,
    AlertWorkOrder,
    Assignment,
    AssignmentPublic,
)
from portal.schemas.common import RowId
from portal.schemas.work_orders import WorkOrderPublic
from rules.errors import AlertError
from service.alert_cases import AlertCaseError, case_for_alert, open_alert
from service.alert_cases import assign as assign_alert

router = APIRouter(route_class=GuardedRoute, tags=["alerts"])


@router.get("/api/alerts", dependencies=[Depends(staff_only)],
            response_model=list[AlertPublic])
async def alerts(
    request: Request,
    state: str | None = Query(None, pattern="^(open|active|acknowledged|cleared|closed)$",
                              description="'open' is active or acknowledged"),
    device_id: str | None = Query(None, max_length=100),
) -> Response:
    """Newest first (at most 500). Served from memory while no alert changed (in this
    process at once, another's within a second); a strong ETag, `If-None-Match` → 304."""
    body = await cached_body(request, "alerts", ALERTS, (state, device_id))
    assert body is not None
    return response_for(request, body)


def _alerts(session: Session, key: tuple[str | None, str | None]) -> list[dict[str, Any]]:
    return [a.model_dump(mode="json") for a in list_alerts(session, *key)]


# The alert list reads alerts and their trails (assignments); the hub's alert events.
ALERTS = CacheSpec(("alert", "alert_event"), ("alert",), _alerts)


@router.get("/api/alerts/{alert_id}/events", dependencies=[Depends(staff_only)])
def alert_events(alert_id: RowId, session: SessionDep) -> list[AlertEventPublic]:
    """The alert's timeline, oldest first: raised, acknowledged, comments, assignments,
    the steps of the commands sent from it, cleared, closed."""
    trail = alert_trail(session, alert_id)
    if trail is None:
        raise HTTPException(404, f"no alert {alert_id}")
    return [AlertEventPublic(action=e.action, by=e.by, at=e.at, note=e.note) for e in trail]


def _alert_action(action: str) -> Callable[..., AlertPublic]:
    """The route of one of the rules service's alert actions."""

    def endpoint(alert_id: RowId, body: AlertAction, ctx: ContextDep, principal: Staff
                 ) -> AlertPublic:
        service = rules_service(ctx)
        act = {"acknowledge": service.acknowledge, "close": service.close,
               "comment": service.comment}[action]
        try:  # the authenticated user acts, whatever a body's `by` says
            alert = act(alert_id, principal.username, body.note)
        except AlertError as err:
            status = 404 if str(err).startswith("no alert") else 409
            raise HTTPException(status, str(err)) from None
        record_now(ctx.engine, principal.actor, f"alert.{action}", f"alert:{alert_id}",
                   body.note)
        return AlertPublic.model_validate(alert, from_attributes=True)

    return endpoint


# POST /api/alerts/{alert_id}/acknowledge, .../close, .../comment
for _action in ("acknowledge", "close", "comment"):
    router.add_api_route(f"/api/alerts/{{alert_id}}/{_action}", _alert_action(_action),
                         methods=["POST"], name=_action)


@router.post("/api/alerts/{alert_id}/assign")
def assign(alert_id: RowId, body: Assignment, ctx: ContextDep, principal: Staff
           ) -> AssignmentPublic:
    with session_scope(ctx.engine) as session:
        try:
            alert = open_alert(session, alert_id)
        except AlertCaseError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        user = get_user(session, body.to)
        if user is None:
            raise HTTPException(422, f"no portal user '{body.to}'")
        if user.disabled or user.role not in ASSIGNABLE_ROLES:
            # The inbox's picker (GET /api/assignees) offers exactly these users.
            raise HTTPException(422, f"'{body.to}' cannot take alerts: only active "
                                f"{' and '.join(ASSIGNABLE_ROLES)}s can")
        assign_alert(session, alert, body.to, by=principal.username)
        record(session, principal.actor, "alert.assign", f"alert:{alert.id}",
               f"to {body.to}: {body.note}")
    return AssignmentPublic(alert_id=alert_id, assigned_to=body.to)


@router.post("/api/alerts/{alert_id}/work-order", status_code=201)
def to_work_order(alert_id: RowId, body: AlertWorkOrder, ctx: ContextDep, principal: Staff
                  ) -> WorkOrderPublic:
    """Open a service case with one work order for the alert's device; the
    dispatcher plans it at once (urgent ones are inserted into the current plan)."""
    try:
        with session_scope(ctx.engine) as session:
            case, order = case_for_alert(session, alert_id, ctx.models, by=principal.username,
                                         note=body.note, priority=body.priority)
            record(session, principal.actor, "alert.work_order", f"alert:{alert_id}",
                   f"case {case.id}, work order {order.id}, priority {order.priority}")
            public = WorkOrderPublic.model_validate(order, from_attributes=True)
    except AlertCaseError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    ctx.request_replan()
    return public
