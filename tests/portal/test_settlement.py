"""Settlement at the door, end to end on a real database, a real SMTP server and a
real webhook receiver: the engineer settles a signed job with two parts from the van
and labour; the van is decremented through the ledger; the service report PDF reads
back with its lines and total, from the work order and from the case's files; the
customer receives it by e-mail; the CRM receives
the invoice lines, signed, once; a settlement sent again changes nothing."""

from __future__ import annotations

import base64
import io
import json
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from portal_app import Portal, build_portal
from pypdf import PdfReader
from sqlmodel import Session, select

from asset_registry.tables import Customer, Device, Site
from foundations.database import session_scope
from integrations.domain_events.tables import OutboxEvent
from integrations.webhooks.worker import WebhookWorker
from notifications.delivery import NotificationDelivery
from notifications.recipients import AddressBook
from notifications.smtp import EmailSender, SmtpServer
from service import stock
from service.stock_tables import StockLevel, StockLocation
from service.tables import Case, WorkOrder
from simulators.fleet import generate_fleet
from tests.integrations.webhook_receiver import RECEIVERS_ALLOWED, Receiver

MEMBRANE, PREFILTER, VALVE = "AP-MEM-75G", "AP-PREF-10", "AP-VALVE-IN"
CUSTOMER_MAIL = "facilities@settle.example"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(_free_port()).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return build_portal(tmp_path_factory.mktemp("settle"), generate_fleet(seed=5, sites=6))


def _purifier_job(portal: Portal, coverage: str) -> int:
    """An on-site job of the 'own' engineer on a purifier, whose customer has
    `coverage`; the engineer's van holds one membrane and two pre-filters."""
    engineer = portal.engineer_id("own")
    with session_scope(portal.engine) as s:
        device = s.exec(select(Device).where(Device.model_id == "aquapure-ro500")
                        .order_by(Device.id)).first()
        assert device is not None
        site = s.get(Site, device.site_id)
        assert site is not None
        customer = s.get(Customer, site.customer_id)
        assert customer is not None
        customer.coverage, customer.contact_email = coverage, CUSTOMER_MAIL
        s.add(customer)
        if s.get(StockLocation, "wh") is None:
            s.add(StockLocation(id="wh", kind="warehouse", name="Main", lat=48.1, lon=11.5))
            s.flush()
        for part, qty in ((MEMBRANE, 1), (PREFILTER, 2)):
            stock.move(s, "receipt", part, qty, at=1, by="t", known_parts=None,
                       to_location="wh")
            stock.move(s, "transfer", part, qty, at=1, by="t", known_parts=None,
                       from_location="wh", to_location=f"van-{engineer}")
        device_id = device.id
    return portal.new_job(device_id, engineer, "on_site")


def _signature() -> bytes:
    """A drawn signature, as the phone's canvas sends it."""
    image = Image.new("RGB", (240, 80), "white")
    ImageDraw.Draw(image).line([(10, 60), (80, 20), (150, 60), (230, 15)], fill="black",
                               width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _sign(client: TestClient, headers: dict[str, str], order_id: int,
          png: bytes | None = None) -> None:
    signed = client.post(f"/api/work-orders/{order_id}/sign-off", headers=headers, json={
        "signed_by": "Ms Customer",
        "signature_png": base64.b64encode(png or _signature()).decode()})
    assert signed.status_code == 200, signed.text


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_settled_at_the_door_report_mailed_and_invoice_to_the_crm(
        portal: Portal, inbox: tuple[Inbox, int], receiver: Receiver) -> None:
    client = TestClient(portal.app)
    own = portal.accounts["engineer_own"].headers
    admin = portal.accounts["admin"].headers
    van = f"van-{portal.engineer_id('own')}"
    sub = client.post("/api/webhooks", headers=admin, json={
        "url": receiver.url, "record_types": ["work_order"]}).json()
    receiver.secret = sub["secret"]
    order_id = _purifier_job(portal, "chargeable")

    body = {"parts": [{"part": MEMBRANE, "qty": 1}, {"part": PREFILTER, "qty": 2}],
            "labour_minutes": 50}
    early = client.post(f"/api/work-orders/{order_id}/settle", headers=own, json=body)
    assert early.status_code == 409 and "signs off" in early.text
    _sign(client, own, order_id)

    settled = client.post(f"/api/work-orders/{order_id}/settle", headers=own, json=body)
    assert settled.status_code == 200, settled.text
    bill = settled.json()
    # 89.00 + 2 x 14.50 + labour 50 min billed as 60 min at 85.00/h
    assert [(line["code"], line["qty"], line["total_cents"]) for line in bill["lines"]] == [
        (MEMBRANE, 1, 8900), (PREFILTER, 2, 2900), ("LABOUR", 1, 8500)]
    assert (bill["coverage"], bill["total_cents"], bill["already"]) == ("chargeable", 20300,
                                                                        False)
    with Session(portal.engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None and order.status == "done"
        case = s.get(Case, order.case_id)
        assert case is not None and case.status == "closed"
        assert stock.reconcile(s) == []
    assert {r["part_number"]: r["on_hand"] for r in client.get(
        f"/api/stock?location={van}", headers=own).json()} == {}  # both used up

    pdf = client.get(f"/api/work-orders/{order_id}/service-report.pdf", headers=own)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = _pdf_text(pdf.content)
    assert f"work order {order_id}" in text
    assert "RO membrane 75G" in text and "Sediment pre-filter 10in" in text
    assert "Total to pay EUR 203.00" in text
    assert "Signed by the customer: Ms Customer" in text

    # The report is one of the case's files: listed in the case and read back from it.
    with Session(portal.engine) as s:
        case_id = s.get(WorkOrder, order_id).case_id  # type: ignore[union-attr]
    staff = portal.accounts["dispatcher"].headers
    files = client.get(f"/api/cases/{case_id}", headers=staff).json()["files"]
    assert [(f["name"], f["content_type"]) for f in files] == [
        (f"service-report-{order_id}.pdf", "application/pdf")]
    kept = client.get(files[0]["url"], headers=staff)
    assert kept.status_code == 200
    assert kept.headers["content-type"] == "application/pdf"
    assert kept.content == pdf.content
    assert "Total to pay EUR 203.00" in _pdf_text(kept.content)
    # ... and not taken for a photo of the customer's in the engineer's job.
    job = client.get(f"/api/work-orders/{order_id}/job", headers=own)
    assert job.status_code == 200 and job.json()["customer_photos"] == []

    # The customer's e-mail, through the notifications' delivery worker and real SMTP.
    box, port = inbox
    delivery = NotificationDelivery(portal.engine, EmailSender(
        SmtpServer("127.0.0.1", port, sender="service@fieldpulse.example"),
        AddressBook(portal.engine).address_of))
    delivery.run_once()
    mails = [message_from_bytes(raw, policy=policy.default) for to, raw in box.messages
             if to == [CUSTOMER_MAIL]]
    reports = [m for m in mails if "service report" in str(m["Subject"])]
    assert len(reports) == 1
    mail = reports[0]
    assert isinstance(mail, EmailMessage)
    attached = [part for part in mail.iter_attachments()
                if part.get_content_type() == "application/pdf"]
    assert len(attached) == 1
    assert "Total to pay EUR 203.00" in _pdf_text(attached[0].get_content())

    # Sent again (the phone never saw the answer): the stored settlement, nothing more.
    again = client.post(f"/api/work-orders/{order_id}/settle", headers=own, json=body)
    assert again.status_code == 200 and again.json()["already"] is True

    # The CRM: the invoice lines as one signed work_order.settled event.
    worker = WebhookWorker(portal.engine, targets=RECEIVERS_ALLOWED, period_s=0.05)
    with Session(portal.engine) as s:
        queued = len(s.exec(select(OutboxEvent.id)).all())
    for _ in range(50):
        worker.run_once()
        if len(receiver.processed_ids()) >= queued:
            break
    worker.teardown()
    settled_events = [e for e in receiver.got.bodies.values()
                      if e["type"] == "work_order.settled"]
    assert len(settled_events) == 1
    event = settled_events[0]
    assert event["record_id"] == str(order_id)
    payload = event["data"]
    lines = json.loads(payload["lines"])
    assert [(line["code"], line["total_cents"]) for line in lines] == [
        (MEMBRANE, 8900), (PREFILTER, 2900), ("LABOUR", 8500)]
    assert payload["total_cents"] == 20300
    assert receiver.got.bad_signatures == 0 and receiver.got.duplicates == 0


@pytest.mark.parametrize(("parts", "words"), [
    ([{"part": VALVE, "qty": 1}], "van-"),  # not in the van
    ([{"part": MEMBRANE, "qty": 2}], "cannot consume 2"),  # one only
    ([{"part": "PF-CAP-45", "qty": 1}], "is not a part of AquaPure"),  # another model's
    ([{"part": MEMBRANE, "qty": 1}, {"part": MEMBRANE, "qty": 1}], "each part once"),
])
def test_a_settlement_the_van_cannot_supply_is_refused_and_changes_nothing(
        portal: Portal, parts: list[dict[str, object]], words: str) -> None:
    client = TestClient(portal.app)
    own = portal.accounts["engineer_own"].headers
    order_id = _purifier_job(portal, "chargeable")
    _sign(client, own, order_id)
    with Session(portal.engine) as s:
        before = {(r.location_id, r.part_number): r.on_hand
                  for r in s.exec(select(StockLevel))}
    answer = client.post(f"/api/work-orders/{order_id}/settle", headers=own,
                         json={"parts": parts, "labour_minutes": 30})
    assert answer.status_code == 409 and words in answer.text, answer.text
    with Session(portal.engine) as s:
        assert {(r.location_id, r.part_number): r.on_hand
                for r in s.exec(select(StockLevel))} == before
        order = s.get(WorkOrder, order_id)
        assert order is not None and order.status == "on_site"
    assert client.get(f"/api/work-orders/{order_id}/service-report.pdf",
                      headers=own).status_code == 404
