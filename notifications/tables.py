"""Notifications: every message to a person, recorded with the change that calls for it
and sent afterwards by the delivery worker; and the cursors of the notifiers that
derive them from other records' events."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


class Notification(SQLModel, table=True):
    """A message to a person about an alert, a work order (its id set) or another record
    (neither set: the message names it, e.g. a sales opportunity)."""

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)
    work_order_id: int | None = Field(default=None, foreign_key="work_order.id", index=True)
    audience: str  # owner | supervisor | customer | engineer
    recipient: str
    message: str  # first line: the subject
    created_at: int = Field(sa_type=BigInteger)
    # pending -> sent | failed. Whoever records a notification leaves it pending; the
    # one delivery worker (notifications/delivery.py) sends it.
    status: str = Field(default="pending", index=True)
    sent_at: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = None
    # A file sent with the message (a path the sender can read), e.g. a service report.
    attachment: str | None = None


class NotificationCursor(SQLModel, table=True):
    """How far a notifier has read its source events (`name`: e.g. "work_order_event"),
    so that a restart neither loses nor repeats notifications."""

    __tablename__ = "notification_cursor"
    name: str = Field(primary_key=True)
    last_id: int = Field(default=0, sa_type=BigInteger)  # every event id <= this is handled
    updated_at: int = Field(sa_type=BigInteger)
