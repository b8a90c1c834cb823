"""The delivery worker: sends every pending notification, whoever recorded it.

Runs in the main process only (the `notifications` worker), so each notification
goes out once, through the configured sender. Sending happens
outside any transaction (SMTP may take seconds) and each result is committed at
once, so a crash re-sends at most the one in flight. A failed send stays `failed`
with its reason: it is not retried behind the operator's back.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from foundations.clock import Clock, now_ms
from foundations.database import session_scope
from foundations.workers import Periodic
from notifications.record import PENDING
from notifications.senders import NotificationSender
from notifications.tables import Notification

log = logging.getLogger("fieldpulse.notify")


class NotificationDelivery(Periodic):
    """Every `every_s`, and at once when woken (something was recorded): `run_once`."""

    def __init__(self, engine: Engine, sender: NotificationSender, *,
                 every_s: float = 1.0, clock: Clock = now_ms) -> None:
        super().__init__("notifications", self.run_once, every_s)
        self._engine, self._sender, self._clock = engine, sender, clock

    def run_once(self) -> int:
        """Send every pending notification, oldest first; returns how many went out."""
        with Session(self._engine, expire_on_commit=False) as session:
            pending = session.exec(select(Notification).where(Notification.status == PENDING)
                                   .order_by(col(Notification.id))).all()
            session.expunge_all()
        sent = 0
        for n in pending:
            if self.stopping:
                break  # the rest wait, pending, for the next start
            status: str
            error: str | None
            sent_at: int | None
            try:
                self._sender.send(n)
            except Exception as exc:  # one failed send must not hold back the others
                status, error, sent_at = "failed", f"{type(exc).__name__}: {exc}", None
                log.warning("notification %s failed: %s", n.id, error)
            else:
                status, error, sent_at = "sent", None, self._clock()
                sent += 1
            with session_scope(self._engine) as session:
                # Compare-and-set: a notification is finished once.
                session.connection().execute(
                    update(Notification).where(col(Notification.id) == n.id,
                                               col(Notification.status) == PENDING)
                    .values(status=status, error=error, sent_at=sent_at))
        return sent
