"""Notifications by e-mail: a `NotificationSender` that speaks SMTP (stdlib smtplib).

A notification names its recipient as `notifications.recipients` builds it; the
address book there turns the name into an address. One that has no address fails
the send with that reason, and the notification is kept as `failed` with the error.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from notifications.tables import Notification

SUBJECT_CHARS = 90
ATTACHMENT_TYPES = {".pdf": ("application", "pdf"), ".png": ("image", "png")}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int = 25
    sender: str = "fieldpulse@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    # Per socket operation: a slow server that answers within it still delivers.
    timeout_s: float = 30.0


class EmailSender:
    """Sends each notification as one plain-text e-mail (with its attachment, if any);
    raises when it cannot."""

    def __init__(self, server: SmtpServer, address_of: Callable[[str], str | None]) -> None:
        self._server = server
        self._address_of = address_of

    def send(self, notification: Notification) -> None:
        to = self._address_of(notification.recipient)
        if not to:
            raise LookupError(f"no e-mail address for recipient '{notification.recipient}'")
        msg = EmailMessage()
        msg["From"] = self._server.sender
        msg["To"] = to
        summary = notification.message.splitlines()[0] if notification.message else ""
        msg["Subject"] = f"[FieldPulse] {summary[:SUBJECT_CHARS]}"
        if notification.work_order_id is not None:
            msg["X-FieldPulse-Work-Order"] = str(notification.work_order_id)
            about = f"work order {notification.work_order_id}"
        elif notification.alert_id is not None:
            msg["X-FieldPulse-Alert"] = str(notification.alert_id)
            about = f"alert {notification.alert_id}"
        else:  # e.g. a sales opportunity for its owner: the message says what it is about
            about = "notice"
        msg["X-FieldPulse-Audience"] = notification.audience
        msg.set_content(f"{notification.message}\n\n-- \nFieldPulse {about} "
                        f"(to the {notification.audience})\n")
        if notification.attachment:  # a missing file fails the send, visibly
            path = Path(notification.attachment)
            maintype, subtype = ATTACHMENT_TYPES.get(path.suffix.lower(),
                                                     ("application", "octet-stream"))
            msg.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype,
                               filename=path.name)
        server = self._server
        with smtplib.SMTP(server.host, server.port, timeout=server.timeout_s) as smtp:
            if server.starttls:
                smtp.starttls()
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.send_message(msg)
