"""Notifications delivered by e-mail to a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import socket
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from rules_world import FLEET, MODELS, PURIFIER, make_service, readings
from sqlmodel import Session, select

from asset_registry.tables import Customer, Site
from notifications.alert_notices import record_alert_notice
from notifications.delivery import NotificationDelivery
from notifications.recipients import AddressBook
from notifications.smtp import EmailSender, SmtpServer
from notifications.tables import Notification
from rules.service import RulesService
from support import evaluate


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def _customer_email() -> str:
    site = next(s for s in FLEET.sites if s.id == PURIFIER.site_id)
    return next(c.contact_email for c in FLEET.customers if c.id == site.customer_id)


def test_a_critical_alert_mails_the_customer_owner_and_supervisor(tmp_path: Path, smtp) -> None:
    inbox, port = smtp
    svc, _ = make_service(tmp_path / "rules.db")
    book = AddressBook(svc._engine, roles={"service-supervisor": "supervisor@service.example"})
    delivery = NotificationDelivery(
        svc._engine, EmailSender(SmtpServer("127.0.0.1", port, sender="alerts@fieldpulse.example"),
                                 book.address_of))
    evaluate(svc, readings({"tds_ppm": 200}))  # above the critical TDS threshold
    delivery.run_once()

    with Session(svc._engine) as s:
        rows = s.exec(select(Notification)).all()
    assert rows
    assert {n.status for n in rows} == {"sent"}
    by_address = {}
    for rcpts, content in inbox.messages:
        mail = message_from_bytes(content)
        for rcpt in rcpts:
            by_address[rcpt] = mail
    assert "supervisor@service.example" in by_address
    customer = by_address[_customer_email()]
    assert customer["From"] == "alerts@fieldpulse.example"
    assert customer["Subject"].startswith("[FieldPulse] ")
    assert "TDS" in customer.get_payload()
    assert len(inbox.messages) == len(rows)


def test_a_recipient_without_an_address_and_a_dead_server_are_kept_as_failures(
        tmp_path: Path, smtp) -> None:
    inbox, _ = smtp
    svc, _ = make_service(tmp_path / "rules.db")
    with Session(svc._engine) as s:  # the customer left no e-mail address
        site = s.get(Site, PURIFIER.site_id)
        customer = s.get(Customer, site.customer_id)
        customer.contact_email = ""
        s.add(customer)
        s.commit()
    # The supervisor has an address, but the SMTP server is not there.
    book = AddressBook(svc._engine, roles={"service-supervisor": "supervisor@service.example"})
    delivery = NotificationDelivery(
        svc._engine, EmailSender(SmtpServer("127.0.0.1", _free_port()), book.address_of))
    evaluate(svc, readings({"tds_ppm": 200}))
    delivery.run_once()
    with Session(svc._engine) as s:
        errors = {n.audience: n.error for n in s.exec(select(Notification))}
    assert all(errors.values()), errors
    assert "no e-mail address" in errors["customer"]
    assert "no e-mail address" in errors["owner"]
    assert "ConnectionRefusedError" in errors["supervisor"]
    assert inbox.messages == []


def test_the_assembly_sends_e_mail_only_when_an_smtp_server_is_set(tmp_path: Path, smtp) -> None:
    from fieldpulse.parts import notification_sender
    from fieldpulse.settings import Settings
    from notifications.senders import LogSender

    inbox, port = smtp
    svc, _ = make_service(tmp_path / "rules.db")
    assert isinstance(notification_sender(Settings(data_dir=tmp_path), svc._engine), LogSender)
    sender = notification_sender(Settings(data_dir=tmp_path, smtp_host="127.0.0.1",
                                          smtp_port=port, smtp_from="fp@example.com",
                                          supervisor_email="boss@example.com"), svc._engine)
    evaluate(svc, readings({"tds_ppm": 200}))
    NotificationDelivery(svc._engine, sender).run_once()
    assert "boss@example.com" in {r for rcpts, _ in inbox.messages for r in rcpts}


def test_an_ingest_worker_records_notifications_and_the_main_process_sends_them(
        tmp_path: Path, smtp) -> None:
    """A worker process raising an alert only records its notifications: they wait as
    `pending` until the main process's delivery worker, which has the SMTP server,
    sends each once."""
    inbox, port = smtp
    engine = make_service(tmp_path / "rules.db")[0]._engine
    # As IngestWorker builds it: no sender at all.
    worker = RulesService(engine, MODELS, lambda _s, _r: 0, record_notice=record_alert_notice)
    evaluate(worker, readings({"tds_ppm": 200}))
    with Session(worker._engine) as s:
        assert {n.status for n in s.exec(select(Notification))} == {"pending"}

    main = NotificationDelivery(worker._engine, EmailSender(
        SmtpServer("127.0.0.1", port),
        AddressBook(worker._engine, roles={"service-supervisor": "sup@service.example"}
                    ).address_of))
    sent = main.run_once()

    with Session(worker._engine) as s:
        rows = s.exec(select(Notification)).all()
    assert sent == len(rows) == len(inbox.messages) and {n.status for n in rows} == {"sent"}
    assert main.run_once() == 0  # once
