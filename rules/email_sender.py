"""Notifications by e-mail: a `NotificationSender` that speaks SMTP (stdlib smtplib).

A notification names its recipient the way the rules and work orders know them:
an address (the customer's contact e-mail), `account-owner:<customer id>`,
`engineer:<engineer id>` or the supervisor's role name. `AddressBook` turns
those into addresses; one that has no address fails the send with that reason,
and the notification is kept as `failed` with the error.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.tables import Customer
from rules.tables import Notification

SUBJECT_CHARS = 90


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int = 25
    sender: str = "fieldpulse@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0


@dataclass
class AddressBook:
    """Where each kind of recipient is reached. Owners are the customer's contact
    unless `owners` names someone else for that customer id; engineers are reached
    at what `engineers` names for their id."""

    engine: Engine
    roles: Mapping[str, str] = field(default_factory=dict)  # e.g. service-supervisor -> addr
    owners: Mapping[str, str] = field(default_factory=dict)  # customer id -> addr
    engineers: Mapping[str, str] = field(default_factory=dict)  # engineer id -> addr

    def address_of(self, recipient: str) -> str | None:
        if "@" in recipient:
            return recipient
        if recipient in self.roles:
            return self.roles[recipient]
        kind, _, key = recipient.partition(":")
        if kind == "account-owner" and key:
            if key in self.owners:
                return self.owners[key]
            with Session(self.engine) as session:
                email = session.exec(select(Customer.contact_email)
                                     .where(Customer.id == key)).first()
            return email or None
        if kind == "engineer" and key:
            return self.engineers.get(key)
        return None


class EmailSender:
    """Sends each notification as one plain-text e-mail; raises when it cannot."""

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
        server = self._server
        with smtplib.SMTP(server.host, server.port, timeout=server.timeout_s) as smtp:
            if server.starttls:
                smtp.starttls()
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.send_message(msg)
