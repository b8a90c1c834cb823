"""The notifications alerts call for, addressed: the rules say to which audience
(owner, supervisor, customer), this says who that is for the alert's device."""

from __future__ import annotations

from sqlmodel import Session, col, select

from asset_registry.tables import Customer, Device, Site
from notifications import recipients
from notifications.record import notify
from rules.actions import AlertNotice


def record_alert_notice(session: Session, notice: AlertNotice) -> None:
    """The rules' `record_notice`: a pending notification about the alert."""
    notify(session, audience=notice.audience, alert_id=notice.alert_id, at=notice.at,
           recipient=recipient_for(session, notice.device_id, notice.audience),
           message=notice.message)


def recipient_for(session: Session, device_id: str, audience: str) -> str:
    """The supervisor's role; the device's customer contact (customer) or its account
    owner (owner). A device without a customer is addressed "unknown": the send fails,
    visibly."""
    if audience == "supervisor":
        return recipients.SUPERVISOR
    row = session.exec(
        select(Customer.id, Customer.contact_email)
        .join(Site, col(Site.customer_id) == Customer.id)
        .join(Device, col(Device.site_id) == Site.id)
        .where(Device.id == device_id)
    ).first()
    if row is None:
        return "unknown"
    customer_id, contact_email = row
    return contact_email if audience == "customer" else recipients.account_owner(customer_id)
