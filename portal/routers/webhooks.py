"""Webhook subscriptions through the API (admins): manage, inspect the delivery log, replay.

The subscriptions, their queue and the delivery worker are `integrations.webhooks`'s."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Query, Response
from sqlmodel import Session

from foundations.database import session_scope
from integrations.domain_events import record_types
from integrations.webhooks import subscriptions
from integrations.webhooks.fanout import split
from integrations.webhooks.tables import WebhookSubscription
from integrations.webhooks.targets import MASK, TargetRefused, masked
from portal.auth.audit import record
from portal.auth.dependencies import Admin, GuardedRoute
from portal.context import ContextDep, PortalContext, SessionDep
from portal.queries.webhooks import list_subscriptions
from portal.schemas.common import MAX_ID, RowId
from portal.schemas.webhooks import (
    AttemptPublic,
    DeliveryPublic,
    DeliveryStatus,
    Replay,
    Replayed,
    SecretRotated,
    SubscriptionChange,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionPublic,
)

router = APIRouter(route_class=GuardedRoute, tags=["webhooks"])
VERBS = ("created", "updated", "deleted", "raised")


def _check_filters(records: list[str], events: list[str]) -> None:
    known = set(record_types())
    unknown = [r for r in records if r not in known]
    bad = [e for e in events if e.partition(".")[0] not in known
           or e.partition(".")[2] not in VERBS]
    if unknown or bad:
        raise HTTPException(422, f"unknown record types {unknown} or event types {bad}; "
                            f"record types: {sorted(known)}, verbs: {list(VERBS)}")


def _check_target(ctx: PortalContext, url: str) -> None:
    if urlsplit(url).password == MASK:
        raise HTTPException(422, "url: give the password itself, not the masked one")
    try:
        ctx.webhook_targets.check_url(url)
    except TargetRefused as err:
        raise HTTPException(422, str(err)) from None


def _public(session: Session, sub: WebhookSubscription) -> SubscriptionPublic:
    assert sub.id is not None
    counts = subscriptions.counts(session, sub.id)
    return SubscriptionPublic.model_validate({
        **sub.model_dump(exclude={"secret"}), "url": masked(sub.url),
        "record_types": sorted(split(sub.record_types)),
        "event_types": sorted(split(sub.event_types)), "pending": counts.pending,
        "parked": counts.parked, "delivered": counts.delivered})


def _get(session: Session, sub_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None:
        raise HTTPException(404, f"no webhook subscription {sub_id}")
    return sub


@router.post("/api/webhooks", status_code=201)
def create(body: SubscriptionIn, ctx: ContextDep, principal: Admin) -> SubscriptionCreated:
    """Subscribe a URL to domain events recorded from now on; the secret is shown once."""
    _check_filters(body.record_types, body.event_types)
    _check_target(ctx, str(body.url))
    with session_scope(ctx.engine) as session:
        sub = subscriptions.create(session, url=str(body.url), record_types=body.record_types,
                                   event_types=body.event_types, description=body.description,
                                   by=principal.username)
        record(session, principal.actor, "webhook.create", f"webhook:{sub.id}",
               masked(str(body.url)))
        return SubscriptionCreated(**_public(session, sub).model_dump(), secret=sub.secret)


@router.get("/api/webhooks")
def list_all(session: SessionDep, _: Admin) -> list[SubscriptionPublic]:
    return [_public(session, s) for s in list_subscriptions(session)]


@router.get("/api/webhooks/{subscription_id}")
def get_one(subscription_id: RowId, session: SessionDep, _: Admin) -> SubscriptionPublic:
    return _public(session, _get(session, subscription_id))


@router.patch("/api/webhooks/{subscription_id}")
def change(subscription_id: RowId, body: SubscriptionChange, ctx: ContextDep,
           principal: Admin) -> SubscriptionPublic:
    """Change the URL, filters or description; `active: false` pauses deliveries (events
    keep being queued once it is active again: the cursor waits)."""
    with session_scope(ctx.engine) as session:
        sub = _get(session, subscription_id)
        _check_filters(body.record_types or [], body.event_types or [])
        if body.url is not None:
            _check_target(ctx, str(body.url))
        fields = body.model_dump(exclude_unset=True, exclude_none=True)
        for name, value in fields.items():
            setattr(sub, name, ",".join(value) if isinstance(value, list) else
                    str(value) if name == "url" else value)
        session.add(sub)
        logged = {**fields, "url": masked(str(body.url))} if body.url is not None else fields
        record(session, principal.actor, "webhook.change", f"webhook:{sub.id}",
               json.dumps(logged, default=str))
        session.flush()
        return _public(session, sub)


@router.post("/api/webhooks/{subscription_id}/secret")
def rotate_secret(subscription_id: RowId, ctx: ContextDep, principal: Admin) -> SecretRotated:
    """A new signing secret, shown only now; deliveries from now on (retries of earlier
    events too) are signed with it, and the old one signs nothing more."""
    with session_scope(ctx.engine) as session:
        sub = _get(session, subscription_id)
        secret = subscriptions.rotate_secret(session, sub)
        record(session, principal.actor, "webhook.rotate_secret", f"webhook:{sub.id}")
    return SecretRotated(id=subscription_id, secret=secret)


@router.delete("/api/webhooks/{subscription_id}", status_code=204)
def remove(subscription_id: RowId, ctx: ContextDep, principal: Admin) -> Response:
    """Stop and forget a subscription with its queue and delivery log."""
    with session_scope(ctx.engine) as session:
        sub = _get(session, subscription_id)
        record(session, principal.actor, "webhook.delete", f"webhook:{sub.id}",
               masked(sub.url))
        subscriptions.remove(session, sub)
    return Response(status_code=204)


@router.get("/api/webhooks/{subscription_id}/deliveries")
def deliveries(subscription_id: RowId, session: SessionDep, _: Admin,
               status: DeliveryStatus | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[DeliveryPublic]:
    """The subscription's queue, newest event first: parked ones show the last error."""
    _get(session, subscription_id)
    return [DeliveryPublic(event_id=d.event_id, event_type=e.event_type,
                           record_type=e.record_type, record_id=e.record_id, sequence=e.seq,
                           status=d.status, attempts=d.attempts,
                           next_attempt_at=d.next_attempt_at,
                           last_status_code=d.last_status_code, last_error=d.last_error,
                           delivered_at=d.delivered_at)
            for d, e in subscriptions.deliveries(session, subscription_id, status, limit)]


@router.get("/api/webhooks/{subscription_id}/attempts")
def attempts(subscription_id: RowId, session: SessionDep, _: Admin,
             event_id: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AttemptPublic]:
    """The delivery log, newest first: every POST with its status code, error and time."""
    _get(session, subscription_id)
    return [AttemptPublic.model_validate(a, from_attributes=True)
            for a in subscriptions.attempts(session, subscription_id, event_id, limit)]


@router.post("/api/webhooks/{subscription_id}/replay", status_code=202)
def replay(subscription_id: RowId, body: Replay, ctx: ContextDep, principal: Admin
           ) -> Replayed:
    """Send again: every parked delivery (`parked: true`), or the events of an id range."""
    with session_scope(ctx.engine) as session:
        sub = _get(session, subscription_id)
        assert sub.id is not None
        if body.parked:
            queued = subscriptions.replay_parked(session, sub.id)
        else:
            first = body.from_event_id or 0
            last = body.to_event_id if body.to_event_id is not None else sub.cursor
            queued = subscriptions.replay_range(session, sub, first, last)
        record(session, principal.actor, "webhook.replay", f"webhook:{sub.id}",
               body.model_dump_json(exclude_none=True) + f" -> {queued}")
    return Replayed(queued=queued)
