"""Managing subscriptions, replays and the delivery log: the database side of the API."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from foundations.clock import now_ms
from integrations.domain_events.tables import OutboxEvent
from integrations.webhooks.fanout import matches, newest_event_id, record_key
from integrations.webhooks.signing import new_secret
from integrations.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookSubscription


def create(session: Session, *, url: str, record_types: list[str], event_types: list[str],
           description: str, by: str) -> WebhookSubscription:
    """A new subscription receives the events recorded from now on (earlier ones by replay)."""
    sub = WebhookSubscription(url=url, secret=new_secret(), record_types=",".join(record_types),
                              event_types=",".join(event_types), description=description,
                              cursor=newest_event_id(session), created_at=now_ms(),
                              created_by=by)
    session.add(sub)
    session.flush()
    return sub


def rotate_secret(session: Session, sub: WebhookSubscription) -> str:
    """A new signing secret, for every delivery from now on (retries included); the
    old one no longer signs anything."""
    sub.secret = new_secret()
    session.add(sub)
    return sub.secret


def remove(session: Session, sub: WebhookSubscription) -> None:
    for table in (WebhookAttempt, WebhookDelivery):
        session.connection().execute(delete(table).where(
            col(table.subscription_id) == sub.id))
    session.delete(sub)


@dataclass(frozen=True, slots=True)
class Counts:
    pending: int
    parked: int
    delivered: int


def counts(session: Session, sub_id: int) -> Counts:
    rows = dict(session.exec(select(WebhookDelivery.status, func.count())
                             .where(WebhookDelivery.subscription_id == sub_id)
                             .group_by(col(WebhookDelivery.status))).all())
    return Counts(rows.get("pending", 0), rows.get("parked", 0), rows.get("delivered", 0))


def replay_parked(session: Session, sub_id: int) -> int:
    """Every parked delivery back in the queue, with its failures forgotten."""
    result = session.connection().execute(
        update(WebhookDelivery)
        .where(col(WebhookDelivery.subscription_id) == sub_id,
               col(WebhookDelivery.status) == "parked")
        .values(status="pending", attempts=0, next_attempt_at=now_ms()))
    return result.rowcount


def replay_range(session: Session, sub: WebhookSubscription, first: int, last: int) -> int:
    """Send the subscription's events with ids in [first, last] again (delivered ones
    too, under their own event ids, so a deduplicating receiver ignores what it has)."""
    assert sub.id is not None
    last = min(last, sub.cursor)  # later events are still on their way by the cursor
    now = now_ms()
    events = session.exec(select(OutboxEvent).where(col(OutboxEvent.id) >= first,
                                                    col(OutboxEvent.id) <= last)
                          .order_by(col(OutboxEvent.id))).all()
    existing = {d.event_id: d for d in session.exec(
        select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id,
                                      col(WebhookDelivery.event_id) >= first,
                                      col(WebhookDelivery.event_id) <= last))}
    queued = 0
    for event in events:
        if not matches(sub, event):
            continue
        assert event.id is not None
        delivery = existing.get(event.id) or WebhookDelivery(
            subscription_id=sub.id, event_id=event.id, record_key=record_key(event),
            created_at=now)
        delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
        delivery.delivered_at = None
        session.add(delivery)
        queued += 1
    return queued


def deliveries(session: Session, sub_id: int, status: str | None, limit: int
               ) -> list[tuple[WebhookDelivery, OutboxEvent]]:
    query = (select(WebhookDelivery, OutboxEvent)
             .join(OutboxEvent, col(OutboxEvent.id) == WebhookDelivery.event_id)
             .where(WebhookDelivery.subscription_id == sub_id)
             .order_by(col(WebhookDelivery.event_id).desc()).limit(limit))
    if status:
        query = query.where(WebhookDelivery.status == status)
    return list(session.exec(query).all())


def attempts(session: Session, sub_id: int, event_id: int | None, limit: int
             ) -> list[WebhookAttempt]:
    query = (select(WebhookAttempt).where(WebhookAttempt.subscription_id == sub_id)
             .order_by(col(WebhookAttempt.id).desc()).limit(limit))
    if event_id is not None:
        query = query.where(WebhookAttempt.event_id == event_id)
    return list(session.exec(query).all())
