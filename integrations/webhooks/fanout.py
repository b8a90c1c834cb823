"""Outbox events -> one delivery row per matching subscription, behind a cursor.

Each subscription's cursor and the delivery rows it queued move in one transaction,
so a crash re-reads the same events and queues nothing twice. A cursor passes a
missing id only after `gap_wait_s` (`foundations/id_cursor.py`: on PostgreSQL a
transaction can commit after one that took a later id).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from foundations.database import session_scope
from foundations.id_cursor import GapGuard
from integrations.domain_events.tables import OutboxEvent
from integrations.webhooks.tables import WebhookDelivery, WebhookSubscription

log = logging.getLogger("fieldpulse.webhooks")


def split(value: str) -> set[str]:
    return {v for v in value.split(",") if v}


def matches(sub: WebhookSubscription, event: OutboxEvent) -> bool:
    records, types = split(sub.record_types), split(sub.event_types)
    return ((not records or event.record_type in records)
            and (not types or event.event_type in types))


def record_key(event: OutboxEvent) -> str:
    return f"{event.record_type}:{event.record_id}"


def newest_event_id(session: Session) -> int:
    return session.exec(select(func.max(OutboxEvent.id))).one() or 0


class FanOut:
    def __init__(self, engine: Engine, *, clock: Callable[[], int],
                 monotonic: Callable[[], float], gap_wait_s: float, batch: int) -> None:
        self._engine, self._clock, self._batch = engine, clock, batch
        self._guard = GapGuard("outbox events", gap_wait_s, monotonic)

    def run(self) -> int:
        """Queue every new event for every active subscription; returns how many queued."""
        with Session(self._engine) as session:
            subs = session.exec(select(WebhookSubscription.id)
                                .where(col(WebhookSubscription.active))).all()
        queued = 0
        for sub_id in subs:
            assert sub_id is not None
            while (n := self._one_batch(sub_id)) is not None:
                queued += n
        return queued

    def _one_batch(self, sub_id: int) -> int | None:
        """Queue the next batch; None when the cursor did not move (nothing new)."""
        now = self._clock()
        with session_scope(self._engine) as session:
            sub = session.get(WebhookSubscription, sub_id)
            if sub is None or not sub.active:
                return None
            last = sub.cursor
            events = session.exec(select(OutboxEvent).where(col(OutboxEvent.id) > last)
                                  .order_by(col(OutboxEvent.id)).limit(self._batch)).all()
            taken = self._guard.consecutive(last, events, cursor=sub_id)
            if not taken:
                return None
            wanted = [e for e in taken if matches(sub, e)]
            for event in wanted:
                assert event.id is not None
                session.add(WebhookDelivery(subscription_id=sub_id, event_id=event.id,
                                            record_key=record_key(event), next_attempt_at=now,
                                            created_at=now))
            # Compare-and-set: another process that read the same cursor queues nothing.
            moved = session.connection().execute(
                update(WebhookSubscription)
                .where(col(WebhookSubscription.id) == sub_id,
                       col(WebhookSubscription.cursor) == last)
                .values(cursor=taken[-1].id))
            if moved.rowcount != 1:
                session.rollback()
                return None
        return len(wanted)
