"""Webhook subscriptions (their queues and logs are `integrations.webhooks`'s to read)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from integrations.webhooks.tables import WebhookSubscription


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    """Oldest first."""
    return list(session.exec(select(WebhookSubscription)
                             .order_by(col(WebhookSubscription.id))))
