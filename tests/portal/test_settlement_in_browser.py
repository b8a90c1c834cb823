"""The engineer settles a job at the door on a phone, in headless Chromium, against the
running cloud (real HTTP server, dispatcher, notification and webhook workers): two
parts from the van and the customer's signature; the customer receives the service
report by e-mail (a real SMTP server), read back from the PDF; the CRM's receiver
gets the invoice lines, signed, once."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, expect
from pypdf import PdfReader
from sqlmodel import select
from test_pages_in_browser import _log_in, _shot, browser  # noqa: F401 (fixture)

from asset_registry.parts import PartNeed
from asset_registry.tables import Customer, Device, Site
from fieldpulse.broker import MosquittoBroker
from fieldpulse.fleet_import import import_fleet
from fieldpulse.parts import open_database
from fieldpulse.settings import Settings
from fieldpulse.system import CloudSystem
from foundations.database import session_scope
from foundations.processes import free_port
from service import stock
from service.cases import open_case
from service.stock_tables import StockLocation
from service.tables import Engineer
from simulators.fleet import Fleet
from support import RunningCloud, cloud_login, make_account, wait_until
from tests.integrations.webhook_receiver import Receiver

PHONE = {"width": 390, "height": 844}
MAIL = "facilities@journey.example"
MEMBRANE, PREFILTER = "AP-MEM-75G", "AP-PREF-10"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def mailing_cloud(tmp_path: Path, mosquitto: MosquittoBroker, small_fleet: Fleet,
                  inbox: tuple[Inbox, int]) -> Iterator[RunningCloud]:
    settings = Settings(data_dir=tmp_path / "data", http_port=free_port(),
                        dispatch_time_limit_s=1.0, webhook_allowed_networks=("127.0.0.1/32",),
                        smtp_host="127.0.0.1", smtp_port=inbox[1],
                        smtp_from="service@fieldpulse.example")
    engine = open_database(settings)
    tokens = import_fleet(engine, small_fleet)
    system = CloudSystem(settings, cloud_login(mosquitto, engine), engine=engine)
    system.start()
    running = RunningCloud(system, tokens, small_fleet, mosquitto)
    yield running
    running.api.close()
    system.stop()


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_engineer_settles_with_two_parts_and_the_customer_gets_the_report(
        mailing_cloud: RunningCloud, browser: Browser,  # noqa: F811
        inbox: tuple[Inbox, int]) -> None:
    cloud = mailing_cloud
    receiver = Receiver(_port()).start()
    try:
        sub = cloud.api.post(f"{cloud.base_url}/api/webhooks", json={
            "url": receiver.url, "record_types": ["work_order"]}).json()
        receiver.secret = sub["secret"]
        # A purifier job taken by an engineer whose van holds the two parts it needs.
        with session_scope(cloud.system.engine) as s:
            device = s.exec(select(Device).where(Device.model_id == "aquapure-ro500")
                            .order_by(Device.id)).first()
            assert device is not None
            site = s.get(Site, device.site_id)
            assert site is not None
            customer = s.get(Customer, site.customer_id)
            assert customer is not None
            customer.coverage, customer.contact_email = "service_contract", MAIL
            s.add(customer)
            engineer = s.exec(select(Engineer).where(
                Engineer.skills.contains("water-treatment"))).first()  # type: ignore[attr-defined]
            assert engineer is not None
            s.add(StockLocation(id="wh", kind="warehouse", name="Main", lat=48.1, lon=11.5))
            s.flush()
            for part, qty in ((MEMBRANE, 1), (PREFILTER, 3)):
                stock.move(s, "receipt", part, qty, at=1, by="t", known_parts=None,
                           to_location="wh")
                stock.move(s, "transfer", part, qty, at=1, by="t", known_parts=None,
                           from_location="wh", to_location=f"van-{engineer.id}")
            _, order = open_case(s, device_id=device.id, source="alert", title="TDS high",
                                 skill="water-treatment", duration_min=45, priority=3,
                                 parts_needed=(PartNeed(MEMBRANE, 1), PartNeed(PREFILTER, 1)))
            order.engineer_id = order.pinned_engineer_id = engineer.id
            order.status = "accepted"
            s.add(order)
            s.flush()
            order_id, engineer_id = order.id, engineer.id

        phone = browser.new_context(viewport=PHONE).new_page()
        phone.goto(f"{cloud.base_url}/engineer/{engineer_id}/jobs/{order_id}")
        _log_in(phone, make_account(cloud.system.engine, "engineer", engineer_id))
        expect(phone.locator("#title")).to_contain_text("TDS high")
        expect(phone.locator("#settle-needs")).to_contain_text(MEMBRANE)
        for step, words in (("en_route", "en route"), ("on_site", "on site")):
            phone.click(f"button[data-status={step}]")
            expect(phone.locator("#status")).to_have_text(words, timeout=20_000)
        phone.locator("#signature").scroll_into_view_if_needed()
        box = phone.locator("#signature").bounding_box()
        assert box is not None
        phone.mouse.move(box["x"] + 20, box["y"] + 100)
        phone.mouse.down()
        for x in range(30, 300, 15):
            phone.mouse.move(box["x"] + x, box["y"] + 60 + (x % 40))
        phone.mouse.up()
        phone.fill("#sign-off input[name=signed_by]", "Ms Customer")
        phone.click("#sign-off button[type=submit]")
        expect(phone.locator("#signed")).to_contain_text("Signed by Ms Customer",
                                                         timeout=20_000)
        phone.reload()  # the van as it stands now (the plan reserved the parts)
        for part, qty in ((MEMBRANE, "1"), (PREFILTER, "2")):
            phone.select_option("#settle-part select", part)
            phone.fill("#settle-part input[name=qty]", qty)
            phone.click("#settle-part button[type=submit]")
        expect(phone.locator("#settle-parts li")).to_have_count(2)
        phone.fill("#settle input[name=labour_minutes]", "40")
        _shot(phone, "settlement-1-parts-and-labour")
        # Enter in the labour field submits (a click can land on a shifting layout while
        # the job view refreshes above it).
        phone.press("#settle input[name=labour_minutes]", "Enter")
        # Service contract: labour covered, parts charged: 89.00 + 2 x 14.50.
        expect(phone.locator("#settled")).to_contain_text("EUR 118.00", timeout=20_000)
        expect(phone.locator("#report-link")).to_be_visible()
        _shot(phone, "settlement-2-settled")
        pdf = phone.request.get(f"{cloud.base_url}/api/work-orders/{order_id}/"
                                "service-report.pdf")
        assert pdf.headers["content-type"] == "application/pdf"
        assert "Total to pay EUR 118.00" in _pdf_text(pdf.body())

        # The customer's e-mail, sent by the running notifications worker.
        box_ = inbox[0]

        def report_mail() -> EmailMessage | None:
            for to, raw in box_.messages:
                mail = message_from_bytes(raw, policy=policy.default)
                if to == [MAIL] and "service report" in str(mail["Subject"]):
                    assert isinstance(mail, EmailMessage)
                    return mail
            return None

        mail = wait_until(report_mail, what="the service report e-mail")
        attached = [p for p in mail.iter_attachments()
                    if p.get_content_type() == "application/pdf"]
        assert len(attached) == 1
        text = _pdf_text(attached[0].get_content())
        assert "Total to pay EUR 118.00" in text and "RO membrane 75G" in text
        assert "Service contract: labour covered" in text

        # The CRM: the invoice lines, signed, once.
        def settled_events() -> list[dict[str, Any]]:
            return [e for e in receiver.got.bodies.values()
                    if e["type"] == "work_order.settled" and e["record_id"] == str(order_id)]

        wait_until(settled_events, what="work_order.settled at the CRM")
        assert len(settled_events()) == 1
        assert settled_events()[0]["data"]["total_cents"] == 11800
        assert receiver.got.bad_signatures == 0 and receiver.got.duplicates == 0
        van = {r["part_number"]: r["on_hand"] for r in cloud.api.get(
            f"{cloud.base_url}/api/stock?location=van-{engineer_id}").json()}
        assert van == {PREFILTER: 1}
    finally:
        receiver.stop()
