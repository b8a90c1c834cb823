"""Pruning: delivered deliveries with their log, and outbox events every subscription
is done with, once older than the retention period.

A record's newest event is always kept: its `seq` numbers the record's next event.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, exists, func, select
from sqlmodel import col

from foundations.database import session_scope
from integrations.domain_events.tables import OutboxEvent
from integrations.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookSubscription


def prune(engine: Engine, before_ms: int) -> tuple[int, int]:
    """Delete what is older than `before_ms`; returns (deliveries, events) deleted."""
    done = (col(WebhookDelivery.status) == "delivered",
            col(WebhookDelivery.delivered_at) < before_ms)
    with session_scope(engine) as session:
        conn = session.connection()
        conn.execute(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(
            select(col(WebhookDelivery.id)).where(*done))))
        deliveries = conn.execute(delete(WebhookDelivery).where(*done)).rowcount
        # Not past any subscription's cursor: such an event is still to be queued there.
        cursor = select(func.min(WebhookSubscription.cursor)).scalar_subquery()
        newest = select(func.max(OutboxEvent.id)).group_by(
            col(OutboxEvent.record_type), col(OutboxEvent.record_id))
        queued = exists().where(col(WebhookDelivery.event_id) == OutboxEvent.id)
        events = conn.execute(delete(OutboxEvent).where(
            col(OutboxEvent.occurred_at) < before_ms,
            col(OutboxEvent.id) <= func.coalesce(cursor, OutboxEvent.id),
            col(OutboxEvent.id).not_in(newest), ~queued)).rowcount
    return deliveries, events
