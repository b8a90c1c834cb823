"""How a notification names its recipient, and where each name is reached.

A recipient is an e-mail address (a customer's contact), a role name
(`service-supervisor`), or a kind and an id: `account-owner:<customer id>`,
`sales-owner:<customer id>` (an unrouted sales lead: it fails, visibly),
`engineer:<engineer id>`, `customer:<customer id>` (a customer without an address:
it fails, visibly). Build them with the functions here, never by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.tables import Customer

SUPERVISOR = "service-supervisor"


def account_owner(customer_id: str) -> str:
    return f"account-owner:{customer_id}"


def sales_owner(customer_id: str) -> str:
    return f"sales-owner:{customer_id}"


def engineer(engineer_id: str) -> str:
    return f"engineer:{engineer_id}"


def customer(case_contact: str, customer_email: str, customer_id: str) -> str:
    """Who hears about a case's repair: whoever reported it, when they left an e-mail
    address; else the customer's contact address."""
    contact = case_contact.strip()
    if "@" in contact and " " not in contact:
        return contact
    return customer_email or f"customer:{customer_id}"


@dataclass
class AddressBook:
    """Where each kind of recipient is reached. Owners are the customer's contact
    unless `owners` names someone else for that customer id; engineers are reached
    at what `engineers` names for their id (the service desk's records, passed in)."""

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
