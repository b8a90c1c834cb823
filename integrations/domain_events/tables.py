"""The domain-event outbox table."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel


class OutboxEvent(SQLModel, table=True):
    """One change to a tracked record, written in the transaction that made it.

    `id` orders all events (the webhook dispatcher's cursor); `seq` counts one record's
    events from 1 without gaps, so a receiver can order them and notice one missing.
    """

    __tablename__ = "outbox_event"
    __table_args__ = (
        # Also guards `seq`: two writers that numbered the same record alike cannot both commit.
        Index("ux_outbox_event_record_seq", "record_type", "record_id", "seq", unique=True),
    )
    id: int | None = Field(default=None, primary_key=True)
    record_type: str  # case | work_order | alert | opportunity ...
    record_id: str  # the record's primary key, as text (some tables have text ids)
    seq: int
    event_type: str  # e.g. case.created, work_order.updated, alert.raised
    payload: str  # JSON: the record's state after the change
    changed: str = ""  # JSON list of the columns the change touched (empty for created)
    occurred_at: int = Field(sa_type=BigInteger)  # ms epoch
