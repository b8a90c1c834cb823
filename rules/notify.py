"""Sending the notifications alerts record, through a sender that can be swapped.

Notifications are first recorded in the database (in the same transaction as
the alert), then delivered: a crash in between leaves them `recorded`, and the
next delivery pass sends them. A failed send is kept with its error.
"""

from __future__ import annotations

import logging
from typing import Protocol

from rules.tables import Notification

log = logging.getLogger("fieldpulse.notify")


class NotificationSender(Protocol):
    def send(self, notification: Notification) -> None:
        """Deliver one notification; raise to report a failure."""
        ...


class LogSender:
    """The default sender: writes each notification to the log."""

    def send(self, notification: Notification) -> None:
        log.info("notify %s <%s>: %s", notification.audience, notification.recipient,
                 notification.message)
