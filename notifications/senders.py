"""Where notifications go: a sender that can be swapped (the log by default, e-mail when
an SMTP server is configured, `notifications/email.py`)."""

from __future__ import annotations

import logging
from typing import Protocol

from notifications.tables import Notification

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
