"""Queued deliveries -> signed POSTs, one record's events strictly in order.

A record's next event is sent only once every earlier one of it is delivered: the
first undelivered delivery of each record (its head) is the only one tried; a
parked head holds back its record until it is replayed, while other records go on.
Each POST happens outside any transaction, and its outcome is committed at once:
a crash after a receiver answered but before the commit sends that event again,
with the same event id, which the receiver deduplicates (at-least-once delivery).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from foundations.database import session_scope
from integrations.domain_events.tables import OutboxEvent
from integrations.webhooks.policy import RetryPolicy
from integrations.webhooks.signing import event_body, signed_headers
from integrations.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.webhooks.targets import TargetPolicy, TargetRefused
from integrations.webhooks.transport import Answer, Transport

log = logging.getLogger("fieldpulse.webhooks")

# At most this many deliveries per subscription and pass (one per record).
BATCH = 500


class Deliverer:
    def __init__(self, engine: Engine, transport: Transport, policy: RetryPolicy, *,
                 clock: Callable[[], int], rng: random.Random, concurrency: int = 8,
                 targets: TargetPolicy | None = None) -> None:
        self._engine, self._transport, self._policy = engine, transport, policy
        self._targets = targets or TargetPolicy()
        self._clock, self._rng = clock, rng
        # Heads are of distinct records, so they may be sent at once: one slow
        # receiver or record does not hold back the others for its whole timeout.
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhook-post")

    def run(self) -> int:
        """Try every due head once per pass, passes until none is delivered; returns
        how many were delivered."""
        delivered = 0
        while (n := self._pass()) > 0:
            delivered += n
        return delivered

    def _pass(self) -> int:
        now = self._clock()
        with Session(self._engine, expire_on_commit=False) as session:
            subs = session.exec(select(WebhookSubscription)
                                .where(col(WebhookSubscription.active))).all()
            due = [(sub, d, e) for sub in subs for d, e in _due_heads(session, sub, now)]
            session.expunge_all()
        return sum(self._pool.map(lambda args: self._attempt(*args), due))

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def _attempt(self, sub: WebhookSubscription, delivery: WebhookDelivery,
                 event: OutboxEvent) -> bool:
        body = event_body(event)
        sent_at = self._clock()
        assert event.id is not None
        headers = signed_headers(sub.secret, event.id, sent_at // 1000, body,
                                 attempt=delivery.attempts + 1)
        started = time.monotonic()
        try:  # resolved and checked now: the name may point elsewhere than when subscribed
            target = self._targets.resolve(sub.url)
        except TargetRefused as refused:  # no connection is made
            answer = Answer(None, str(refused))
        else:
            answer = self._transport(target, body, headers, self._policy.timeout_s)
        duration_ms = int((time.monotonic() - started) * 1000)
        now = self._clock()
        values: dict[str, object] = {"last_status_code": answer.status_code,
                                     "last_error": answer.error}
        if answer.ok:
            outcome = "delivered"
            values.update(status="delivered", delivered_at=now)
        else:
            failures = delivery.attempts + 1
            outcome = "parked" if failures >= self._policy.max_attempts else "retry"
            wait_ms = int(self._policy.delay_s(failures, self._rng) * 1000)
            values.update(attempts=failures, status="parked" if outcome == "parked"
                          else "pending", next_attempt_at=now + wait_ms)
            log.log(logging.WARNING if outcome == "parked" else logging.INFO,
                    "webhook %s event %s: %s (%s)", sub.id, event.id, answer.error, outcome)
        with session_scope(self._engine) as session:
            # Only if nobody replayed or removed it meanwhile.
            changed = session.connection().execute(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.id) == delivery.id,
                       col(WebhookDelivery.status) == "pending",
                       col(WebhookDelivery.attempts) == delivery.attempts)
                .values(**values))
            if changed.rowcount == 1:
                assert sub.id is not None and delivery.id is not None
                session.add(WebhookAttempt(
                    subscription_id=sub.id, delivery_id=delivery.id, event_id=event.id,
                    at=sent_at, duration_ms=duration_ms, status_code=answer.status_code,
                    error=answer.error, outcome=outcome))
        return answer.ok


def _due_heads(session: Session, sub: WebhookSubscription, now: int
               ) -> list[tuple[WebhookDelivery, OutboxEvent]]:
    """Each record's first undelivered event, if it is pending and due, oldest first."""
    undelivered = (col(WebhookDelivery.subscription_id) == sub.id,
                   col(WebhookDelivery.status).in_(("pending", "parked")))
    firsts = (select(col(WebhookDelivery.record_key).label("key"),
                     func.min(WebhookDelivery.event_id).label("first"))
              .where(*undelivered).group_by(col(WebhookDelivery.record_key)).subquery())
    return list(session.exec(
        select(WebhookDelivery, OutboxEvent)
        .join(firsts, (firsts.c.key == WebhookDelivery.record_key)
              & (firsts.c.first == WebhookDelivery.event_id))
        .join(OutboxEvent, col(OutboxEvent.id) == WebhookDelivery.event_id)
        .where(WebhookDelivery.subscription_id == sub.id, WebhookDelivery.status == "pending",
               col(WebhookDelivery.next_attempt_at) <= now)
        .order_by(col(WebhookDelivery.event_id)).limit(BATCH)).all())
