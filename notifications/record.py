"""Recording a notification: the only way one is made.

It joins the caller's session, so the notification commits (or rolls back) with the
change that calls for it; the delivery worker sends it afterwards.
"""

from __future__ import annotations

from sqlmodel import Session

from notifications.tables import Notification

PENDING = "pending"


def notify(session: Session, *, audience: str, recipient: str, message: str, at: int,
           alert_id: int | None = None, work_order_id: int | None = None,
           attachment: str | None = None) -> Notification:
    """Record a message for `recipient` (built with `notifications.recipients`).
    `message`'s first line is its subject; `attachment`, a file sent with it."""
    notification = Notification(audience=audience, recipient=recipient, message=message,
                                created_at=at, alert_id=alert_id,
                                work_order_id=work_order_id, status=PENDING,
                                attachment=attachment)
    session.add(notification)
    return notification
