"""Webhook subscriptions through the API (admins): manage, inspect the delivery log, replay."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import AnyHttpUrl, BaseModel, Field, model_validator
from sqlmodel import Session, col, select

from foundations.database import session_scope
from integrations.domain_events import record_types
from integrations.webhooks import subscriptions
from integrations.webhooks.fanout import split
from integrations.webhooks.tables import WebhookSubscription
from portal.auth.accounts import Principal
from portal.auth.audit import record
from portal.auth.dependencies import require_role
from portal.context import ContextDep, SessionDep
from portal.schemas import RowId

router = APIRouter(tags=["webhooks"])
Admin = Annotated[Principal, Depends(require_role("admin"))]
VERBS = ("created", "updated", "deleted", "raised")
MAX_ID = 2**63 - 1  # the database's integers: larger is a 422, not an overflow (500)


class SubscriptionIn(BaseModel):
    url: AnyHttpUrl
    record_types: list[str] = Field(default=[], description="empty: every record type")
    event_types: list[str] = Field(default=[], description="e.g. case.created; empty: all")
    description: str = Field(default="", max_length=500)


class SubscriptionChange(BaseModel):
    url: AnyHttpUrl | None = None
    record_types: list[str] | None = None
    event_types: list[str] | None = None
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None


class SubscriptionPublic(BaseModel):
    id: int
    url: str
    record_types: list[str]
    event_types: list[str]
    description: str
    active: bool
    cursor: int = Field(description="every outbox event up to this id is queued or skipped")
    pending: int
    parked: int
    delivered: int
    created_at: int
    created_by: str


class SubscriptionCreated(SubscriptionPublic):
    secret: str = Field(description="shown only now: signs every delivery (HMAC-SHA256)")


class Replay(BaseModel):
    parked: bool = Field(default=False, description="re-queue every parked delivery")
    from_event_id: int | None = Field(default=None, ge=0, le=MAX_ID)
    to_event_id: int | None = Field(default=None, ge=0, le=MAX_ID)

    @model_validator(mode="after")
    def _one_kind(self) -> Replay:
        ranged = self.from_event_id is not None or self.to_event_id is not None
        if self.parked == ranged:
            raise ValueError("give either parked: true or from_event_id/to_event_id")
        return self


class Replayed(BaseModel):
    queued: int


class DeliveryPublic(BaseModel):
    event_id: int
    event_type: str
    record_type: str
    record_id: str
    sequence: int
    status: Literal["pending", "delivered", "parked"]
    attempts: int = Field(description="failures since queued or replayed")
    next_attempt_at: int
    last_status_code: int | None
    last_error: str | None
    delivered_at: int | None


class AttemptPublic(BaseModel):
    event_id: int
    at: int
    duration_ms: int
    status_code: int | None
    error: str | None
    outcome: str


def _check_filters(records: list[str], events: list[str]) -> None:
    known = set(record_types())
    unknown = [r for r in records if r not in known]
    bad = [e for e in events if e.partition(".")[0] not in known
           or e.partition(".")[2] not in VERBS]
    if unknown or bad:
        raise HTTPException(422, f"unknown record types {unknown} or event types {bad}; "
                            f"record types: {sorted(known)}, verbs: {list(VERBS)}")


def _public(session: Session, sub: WebhookSubscription) -> dict[str, Any]:
    assert sub.id is not None
    counts = subscriptions.counts(session, sub.id)
    return {**sub.model_dump(exclude={"secret"}), "record_types": sorted(split(sub.record_types)),
            "event_types": sorted(split(sub.event_types)), "pending": counts.pending,
            "parked": counts.parked, "delivered": counts.delivered}


def _get(session: Session, sub_id: int) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None:
        raise HTTPException(404, f"no webhook subscription {sub_id}")
    return sub


@router.post("/api/webhooks", status_code=201)
def create(body: SubscriptionIn, ctx: ContextDep, principal: Admin) -> SubscriptionCreated:
    """Subscribe a URL to domain events recorded from now on; the secret is shown once."""
    _check_filters(body.record_types, body.event_types)
    with session_scope(ctx.engine) as session:
        sub = subscriptions.create(session, url=str(body.url), record_types=body.record_types,
                                   event_types=body.event_types, description=body.description,
                                   by=principal.username)
        record(session, principal.actor, "webhook.create", f"webhook:{sub.id}", str(body.url))
        return SubscriptionCreated(**_public(session, sub), secret=sub.secret)


@router.get("/api/webhooks")
def list_all(session: SessionDep, _: Admin) -> list[SubscriptionPublic]:
    subs = session.exec(select(WebhookSubscription).order_by(col(WebhookSubscription.id)))
    return [SubscriptionPublic(**_public(session, s)) for s in subs]


@router.get("/api/webhooks/{subscription_id}")
def get_one(subscription_id: RowId, session: SessionDep, _: Admin) -> SubscriptionPublic:
    return SubscriptionPublic(**_public(session, _get(session, subscription_id)))


@router.patch("/api/webhooks/{subscription_id}")
def change(subscription_id: RowId, body: SubscriptionChange, ctx: ContextDep,
           principal: Admin) -> SubscriptionPublic:
    """Change the URL, filters or description; `active: false` pauses deliveries (events
    keep being queued once it is active again: the cursor waits)."""
    with session_scope(ctx.engine) as session:
        sub = _get(session, subscription_id)
        _check_filters(body.record_types or [], body.event_types or [])
        fields = body.model_dump(exclude_unset=True, exclude_none=True)
        for name, value in fields.items():
            setattr(sub, name, ",".join(value) if isinstance(value, list) else
                    str(value) if name == "url" else value)
        session.add(sub)
        record(session, principal.actor, "webhook.change", f"webhook:{sub.id}",
               json.dumps(fields, default=str))
        session.flush()
        return SubscriptionPublic(**_public(session, sub))


@router.delete("/api/webhooks/{subscription_id}", status_code=204)
def remove(subscription_id: RowId, ctx: ContextDep, principal: Admin) -> Response:
    """Stop and forget a subscription with its queue and delivery log."""
    with session_scope(ctx.engine) as session:
        sub = _get(session, subscription_id)
        record(session, principal.actor, "webhook.delete", f"webhook:{sub.id}", sub.url)
        subscriptions.remove(session, sub)
    return Response(status_code=204)


@router.get("/api/webhooks/{subscription_id}/deliveries")
def deliveries(subscription_id: RowId, session: SessionDep, _: Admin,
               status: Literal["pending", "delivered", "parked"] | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[DeliveryPublic]:
    """The subscription's queue, newest event first: parked ones show the last error."""
    _get(session, subscription_id)
    return [DeliveryPublic(event_id=d.event_id, event_type=e.event_type,
                           record_type=e.record_type, record_id=e.record_id, sequence=e.seq,
                           status=d.status, attempts=d.attempts,  # type: ignore[arg-type]
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
