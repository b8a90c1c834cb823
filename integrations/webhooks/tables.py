"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

# A delivery is pending until the receiver answers 2xx (delivered) or it has failed
# `max_attempts` times in a row (parked: it waits for a replay, and so do the later
# events of the same record).
DELIVERY_STATES = ("pending", "delivered", "parked")


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscription"
    id: int | None = Field(default=None, primary_key=True)
    url: str
    # Signs every delivery (HMAC-SHA256); kept in clear because signing needs it.
    secret: str
    record_types: str = ""  # comma-separated; empty: every record type
    event_types: str = ""  # comma-separated, e.g. "case.created,alert.raised"; empty: all
    active: bool = True
    description: str = ""
    # Every outbox event with id <= cursor has its delivery row (or did not match).
    cursor: int = Field(default=0, sa_type=BigInteger)
    created_at: int = Field(sa_type=BigInteger)
    created_by: str


class WebhookDelivery(SQLModel, table=True):
    """One outbox event for one subscription, until it is delivered or parked."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ux_webhook_delivery_event", "subscription_id", "event_id", unique=True),
        Index("ix_webhook_delivery_due", "subscription_id", "status", "event_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhook_subscription.id")
    event_id: int = Field(foreign_key="outbox_event.id", sa_type=BigInteger)
    record_key: str  # "<record type>:<record id>": one record's deliveries go in event order
    status: str = "pending"
    attempts: int = 0  # failed attempts since it was queued or last replayed
    next_attempt_at: int = Field(default=0, sa_type=BigInteger)
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: int | None = Field(default=None, sa_type=BigInteger)
    created_at: int = Field(sa_type=BigInteger)


class WebhookAttempt(SQLModel, table=True):
    """The delivery log: every POST made, with its outcome and how long it took."""

    __tablename__ = "webhook_attempt"
    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhook_subscription.id", index=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    event_id: int = Field(sa_type=BigInteger)
    at: int = Field(sa_type=BigInteger)
    duration_ms: int
    status_code: int | None = None  # None: no answer (refused, timed out)
    error: str | None = None
    outcome: str  # delivered | retry | parked
