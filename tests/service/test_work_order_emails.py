"""Work-order notifications by e-mail, to a real SMTP server on loopback (aiosmtpd).

The work order is driven through the dispatcher's and the engineer app's own
functions (replan, set_status, give_back), which write the events the worker
reads. Every time is fixed: plans at a fixed instant, the worker's clock pinned.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.tables import Customer, Device, Gateway, Site
from dispatch.planning import replan
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from notifications import recipients
from notifications.delivery import NotificationDelivery
from notifications.recipients import AddressBook
from notifications.senders import NotificationSender
from notifications.smtp import EmailSender, SmtpServer
from notifications.tables import Notification
from service.cases import open_case
from service.notice_recorder import WorkOrderNotices
from service.tables import Engineer, WorkOrder, WorkOrderEvent
from service.work_order_notices import (
    EventFacts,
    OrderFacts,
    engineer_before,
    notices_for,
)
from service.work_orders import give_back, set_status

TZ = ZoneInfo("Europe/Berlin")
AT_MS = int(datetime(2026, 3, 3, 10, 0, tzinfo=TZ).timestamp() * 1000)  # a Tuesday, mid-shift
BASE_URL = "https://fieldpulse.example"
EVE, ZED = "eve@service.example", "zed@service.example"
REPORTER = "anna@home.example"  # who reported the fault (the case's contact)
ACME = "facilities@acme.example"  # the customer's contact address
REFUSED = "refused@acme.example"


class Inbox:
    """Accepts every recipient but REFUSED; keeps (recipient, message) pairs."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address == REFUSED:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        self.mails += [(rcpt, mail) for rcpt in envelope.rcpt_tos]
        return "250 Message accepted for delivery"

    def take(self) -> list[tuple[str, EmailMessage]]:
        mails, self.mails = self.mails, []
        return mails


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'fp.db'}")
    upgrade(engine)  # the migrations, so the new columns are exercised as deployed
    with session_scope(engine) as s:
        s.add(Customer(id="acme", name="Acme", contact_email=ACME))
        s.flush()
        s.add(Site(id="plant", customer_id="acme", name="Acme Plant",
                   address="Leopoldstr. 1, München", lat=48.1500, lon=11.5800))
        s.flush()
        s.add(Gateway(id="gw", site_id="plant"))
        s.flush()
        for n in (1, 2):
            s.add(Device(id=f"dev-{n}", serial=f"SN-00{n}", model_id="purifier",
                         site_id="plant", gateway_id="gw", qr_token=f"qr-token-{n}"))
        s.add(Engineer(id="eve", name="Eve Example", skills="water", home_lat=48.1374,
                       home_lon=11.5755))
    yield engine
    engine.dispose()


class NoticesAndMail:
    """The two workers the main process runs for work-order e-mails: events ->
    notifications (WorkOrderNotices) -> mail (NotificationDelivery)."""

    def __init__(self, engine: Engine, sender: NotificationSender, **options: Any) -> None:
        self.notices = WorkOrderNotices(engine, tz=TZ, base_url=BASE_URL,
                                        clock=lambda: AT_MS, **options)
        self.mail = NotificationDelivery(engine, sender, clock=lambda: AT_MS)

    def ensure_cursor(self) -> None:
        self.notices.ensure_cursor()

    def record(self) -> int:
        return self.notices.record()

    def deliver(self) -> int:
        return self.mail.run_once()

    def run_once(self) -> int:
        self.notices.record_all()
        return self.mail.run_once()


def _worker(engine: Engine, port: int) -> NoticesAndMail:
    book = AddressBook(engine, engineers={"eve": EVE, "zed": ZED})
    sender = EmailSender(SmtpServer("127.0.0.1", port, sender="jobs@fieldpulse.example"),
                         book.address_of)
    worker = NoticesAndMail(engine, sender)
    worker.ensure_cursor()
    return worker


def _open(engine: Engine, device_id: str = "dev-1", contact: str = REPORTER) -> int:
    with session_scope(engine) as s:
        _, order = open_case(s, device_id=device_id, source="customer", title="Leaking filter",
                             skill="water", duration_min=60, priority=3, contact=contact,
                             at=AT_MS)
    assert order.id is not None
    return order.id


def _order(engine: Engine, order_id: int) -> WorkOrder:
    with Session(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        return order


def _step(engine: Engine, order_id: int, *statuses: str) -> None:
    with session_scope(engine) as s:
        order = s.get(WorkOrder, order_id)
        for status in statuses:
            set_status(s, order, status)


def _by_rcpt(mails: list[tuple[str, EmailMessage]]) -> dict[str, list[EmailMessage]]:
    out: dict[str, list[EmailMessage]] = {}
    for rcpt, mail in mails:
        out.setdefault(rcpt, []).append(mail)
    return out


def _subject(mail: EmailMessage) -> str:
    return str(mail["Subject"]).strip()  # a long subject is folded after "Subject:"


def _body(mail: EmailMessage) -> str:
    return mail.get_content()


def _eta_text(order: WorkOrder) -> str:
    assert order.eta is not None
    return datetime.fromtimestamp(order.eta / 1000, TZ).strftime("%H:%M")


def test_assignment_reassignment_on_the_way_and_done(engine: Engine, smtp) -> None:
    inbox, port = smtp
    worker = _worker(engine, port)
    order_id = _open(engine)
    assert worker.run_once() == 0  # a new case mails no one

    replan(engine, TZ, time_limit_s=1, at_ms=AT_MS)
    order = _order(engine, order_id)
    assert order.engineer_id == "eve" and order.eta is not None
    assert worker.run_once() == 2
    mails = _by_rcpt(inbox.take())
    assert set(mails) == {EVE, REPORTER}
    [job] = mails[EVE]
    assert _subject(job) == f"[FieldPulse] New job #{order_id}: SN-001 (purifier) at Acme Plant"
    assert job["X-FieldPulse-Work-Order"] == str(order_id)
    assert f"{BASE_URL}/engineer/eve/jobs/{order_id}" in _body(job)
    assert "Leopoldstr. 1, München" in _body(job)
    eta = datetime.fromtimestamp(order.eta / 1000, TZ)
    assert f"Expected arrival: {eta:%a %d %b %Y, %H:%M} CET" in _body(job)
    [assigned] = mails[REPORTER]
    assert "Eve" in _subject(assigned) and "Example" not in _body(assigned)  # first name
    assert _eta_text(order) in _body(assigned)

    # A later plan that only moves the ETA writes no event: no mail.
    replan(engine, TZ, time_limit_s=1, at_ms=AT_MS + 10 * 60_000)
    assert worker.run_once() == 0 and inbox.take() == []

    # The dispatcher pins the job to Zed: Eve loses it, Zed and the customer hear.
    with session_scope(engine) as s:
        s.add(Engineer(id="zed", name="Zed Other", skills="water", home_lat=48.2,
                       home_lon=11.6))
        pinned = s.get(WorkOrder, order_id)
        pinned.pinned_engineer_id = "zed"
        s.add(pinned)
    replan(engine, TZ, time_limit_s=1, at_ms=AT_MS + 20 * 60_000)
    order = _order(engine, order_id)
    assert order.engineer_id == "zed"
    assert worker.run_once() == 3
    mails = _by_rcpt(inbox.take())
    assert {r: len(m) for r, m in mails.items()} == {EVE: 1, ZED: 1, REPORTER: 1}
    assert _subject(mails[EVE][0]).startswith(f"[FieldPulse] Job #{order_id} is no longer yours")
    assert f"{BASE_URL}/engineer/zed/jobs/{order_id}" in _body(mails[ZED][0])
    assert "Zed" in _subject(mails[REPORTER][0]) and _eta_text(order) in _body(mails[REPORTER][0])

    _step(engine, order_id, "accepted")
    assert worker.run_once() == 0  # accepting is between the engineer and the dispatcher
    _step(engine, order_id, "en_route")
    assert worker.run_once() == 1
    [(rcpt, on_the_way)] = inbox.take()
    assert rcpt == REPORTER and "on the way" in _subject(on_the_way)
    assert _eta_text(order) in _body(on_the_way)

    _step(engine, order_id, "on_site", "done")
    assert worker.run_once() == 1
    [(rcpt, done)] = inbox.take()
    assert rcpt == REPORTER and "done" in _subject(done)
    assert f"Please rate the visit: {BASE_URL}/q/qr-token-1" in _body(done)

    with Session(engine) as s:
        rows = s.exec(select(Notification).where(Notification.work_order_id == order_id)).all()
    assert len(rows) == 7 and {n.status for n in rows} == {"sent"}
    assert all(n.alert_id is None and n.sent_at == AT_MS for n in rows)


def test_a_job_given_back_tells_the_customer_it_will_be_rescheduled(engine: Engine,
                                                                     smtp) -> None:
    inbox, port = smtp
    worker = _worker(engine, port)
    order_id = _open(engine, "dev-2", contact="+49 89 1234")  # a phone number: no mail to it
    replan(engine, TZ, time_limit_s=1, at_ms=AT_MS)
    worker.run_once()
    assert {r for r, _ in inbox.take()} == {EVE, ACME}  # the customer's own address instead
    with session_scope(engine) as s:
        give_back(s, s.get(WorkOrder, order_id), "needs a spare pump")
    assert worker.run_once() == 1
    [(rcpt, mail)] = inbox.take()
    assert rcpt == ACME  # the engineer gave it back: no mail to them
    assert "could not be completed" in _subject(mail)
    assert "needs a spare pump" in _body(mail) and "rescheduled" in _body(mail)


def test_a_restart_neither_loses_nor_repeats_a_notification(engine: Engine, smtp) -> None:
    inbox, port = smtp
    first = _worker(engine, port)
    order_id = _open(engine)
    replan(engine, TZ, time_limit_s=1, at_ms=AT_MS)
    assert first.record() == 2  # "new" and "assigned" consumed...
    # ...and the process dies before sending. The next one sends them, once.
    second = _worker(engine, port)
    assert second.run_once() == 2
    assert sorted(r for r, _ in inbox.take()) == sorted([EVE, REPORTER])
    assert second.run_once() == 0
    _step(engine, order_id, "accepted", "en_route")
    third = _worker(engine, port)  # restarted again while events wait
    assert third.run_once() == 1 and [r for r, _ in inbox.take()] == [REPORTER]
    assert _worker(engine, port).run_once() == 0 and inbox.take() == []
    with Session(engine) as s:
        assert len(s.exec(select(Notification)).all()) == 3


def test_a_refused_recipient_and_an_unknown_engineer_stay_failed_with_the_reason(
        engine: Engine, smtp) -> None:
    inbox, port = smtp
    with session_scope(engine) as s:
        customer = s.get(Customer, "acme")
        customer.contact_email = REFUSED
        s.add(customer)
    book = AddressBook(engine)  # knows no engineer
    sender = EmailSender(SmtpServer("127.0.0.1", port), book.address_of)
    worker = NoticesAndMail(engine, sender)
    worker.ensure_cursor()
    _open(engine, contact="")
    replan(engine, TZ, time_limit_s=1, at_ms=AT_MS)
    assert worker.run_once() == 0
    with Session(engine) as s:
        errors = {n.audience: n.error for n in s.exec(select(Notification))
                  if n.status == "failed"}
    assert "SMTPRecipientsRefused" in errors["customer"] and "550" in errors["customer"]
    assert errors["engineer"] == "LookupError: no e-mail address for recipient 'engineer:eve'"
    assert inbox.mails == []
    assert worker.run_once() == 0  # failures are not retried behind the operator's back


def test_the_cursor_waits_for_an_id_still_being_committed(engine: Engine, smtp) -> None:
    """On PostgreSQL a later id can commit first; the worker must not skip the earlier."""
    inbox, port = smtp
    now = [0.0]
    book = AddressBook(engine, engineers={"eve": EVE})
    worker = NoticesAndMail(engine, EmailSender(SmtpServer("127.0.0.1", port), book.address_of),
                            gap_wait_s=10.0, monotonic=lambda: now[0])
    order_id = _open(engine)
    worker.ensure_cursor()
    with Session(engine) as s:
        last = max(e.id for e in s.exec(select(WorkOrderEvent)))
    with session_scope(engine) as s:  # id last+1 is "in flight"; last+2 committed
        s.add(WorkOrderEvent(id=last + 2, work_order_id=order_id, status="done", at=AT_MS))
    assert worker.record() == 0
    now[0] = 5.0
    assert worker.record() == 0  # still waiting
    with session_scope(engine) as s:  # the earlier transaction commits
        s.add(WorkOrderEvent(id=last + 1, work_order_id=order_id, status="en_route",
                             at=AT_MS))
    assert worker.record() == 2
    with session_scope(engine) as s:  # a gap that never fills (a rollback) ...
        s.add(WorkOrderEvent(id=last + 4, work_order_id=order_id, status="done", at=AT_MS))
    assert worker.record() == 0
    now[0] = 16.0
    assert worker.record() == 1  # ... is given up on after gap_wait_s
    assert worker.deliver() == 3
    assert [r for r, _ in inbox.take()] == [REPORTER] * 3


# -- the pure part ----------------------------------------------------------------------

FACTS = OrderFacts(order_id=7, title="t", device_id="d", device_serial="SN", model_id="m",
                   site_name="Site", site_address="", qr_token="q",
                   customer_recipient="c@x.example", engineer_id=None, eta=None,
                   engineer_names={"eve": "Eve Example"})


def test_who_had_the_job_follows_assignments_plans_and_give_backs() -> None:
    assigned = EventFacts(2, "assigned", "assigned to eve")
    assert engineer_before([EventFacts(1, "new", "t"), assigned]) == "eve"
    assert engineer_before([assigned, EventFacts(3, "accepted"), EventFacts(4, "en_route")]) \
        == "eve"
    assert engineer_before([assigned, EventFacts(3, "new", "no engineer free")]) is None
    assert engineer_before([assigned, EventFacts(3, "cannot_complete", "eve: x")]) is None


def test_a_plan_that_leaves_the_job_unplanned_tells_the_engineer_only() -> None:
    [notice] = notices_for(EventFacts(3, "new", "no engineer free"), "eve", FACTS, tz=TZ,
                           base_url=BASE_URL)
    assert (notice.audience, notice.recipient) == ("engineer", "engineer:eve")
    assert notice.message.startswith("Job #7 is no longer yours")
    # A superseded assignment (the order moved on since) carries no stale ETA.
    notices = notices_for(EventFacts(2, "assigned", "assigned to eve"), None,
                          replace(FACTS, engineer_id="zed", eta=AT_MS), tz=TZ,
                          base_url=BASE_URL)
    assert [n.recipient for n in notices] == ["engineer:eve", "c@x.example"]
    assert all("Expected arrival" not in n.message for n in notices)


def test_a_window_chosen_with_the_report_is_confirmed_to_the_customer() -> None:
    window = (AT_MS, AT_MS + 2 * 3600 * 1000)
    [notice] = notices_for(EventFacts(2, "booked", "arrival window booked"), None,
                           replace(FACTS, window=window), tz=TZ, base_url=BASE_URL)
    assert (notice.audience, notice.recipient) == ("customer", "c@x.example")
    assert notice.message.startswith("Your service visit for SN (m) is booked")
    assert "between" in notice.message and f"{BASE_URL}/q/q" in notice.message


def test_a_window_the_plan_cannot_keep_tells_the_customer() -> None:
    window = (AT_MS, AT_MS + 2 * 3600 * 1000)
    [notice] = notices_for(EventFacts(4, "window_missed", "day full"), None,
                           replace(FACTS, window=window), tz=TZ, base_url=BASE_URL)
    assert (notice.audience, notice.recipient) == ("customer", "c@x.example")
    assert notice.message.startswith("We cannot keep the arrival window for your SN (m)")
    assert "contact you to agree a new time" in notice.message
    assert f"{BASE_URL}/q/q" in notice.message


def test_the_customer_is_reached_at_the_reporter_if_an_address_else_the_account() -> None:
    assert recipients.customer(" a@b.example ", "acct@x", "c1") == "a@b.example"
    assert recipients.customer("+49 89 1", "acct@x", "c1") == "acct@x"
    assert recipients.customer("", "", "c1") == "customer:c1"
    assert not [n for n in notices_for(EventFacts(1, "on_site"), "eve", FACTS, tz=TZ,
                                       base_url=BASE_URL)]


def test_the_running_system_mails_engineers_at_their_stored_address(
        engine: Engine, smtp, tmp_path: Path) -> None:
    """`fieldpulse run --smtp` builds its sender from settings: engineers are looked up
    in the database (`Engineer.email`) at each send, so a new address needs no restart."""
    from fieldpulse.parts import notification_sender
    from fieldpulse.settings import Settings

    inbox, port = smtp
    sender = notification_sender(Settings(data_dir=tmp_path, smtp_host="127.0.0.1",
                                          smtp_port=port), engine)
    with session_scope(engine) as s:
        eve = s.get(Engineer, "eve")
        assert eve is not None
        eve.email = "eve@service.example.com"
        s.add(eve)
    worker = NoticesAndMail(engine, sender)
    worker.ensure_cursor()
    order_id = _open(engine)
    replan(engine, TZ, time_limit_s=1, at_ms=AT_MS)

    assert worker.run_once() == 2
    mails = _by_rcpt(inbox.take())
    assert set(mails) == {"eve@service.example.com", REPORTER}
    assert f"/engineer/eve/jobs/{order_id}" in _body(mails["eve@service.example.com"][0])


def test_a_chinese_customer_is_mailed_in_chinese_with_the_sites_local_time(
        engine: Engine, smtp) -> None:
    """The customer's record says zh_CN: their mails are in Chinese, the arrival in the
    site's time zone with the zone stated; the engineer's mail stays in English."""
    inbox, port = smtp
    with session_scope(engine) as s:
        acme = s.get(Customer, "acme")
        acme.language = "zh-CN"  # as an admin or a CRM might write the tag
        s.add(acme)
    worker = _worker(engine, port)
    order_id = _open(engine)
    replan(engine, TZ, time_limit_s=1, at_ms=AT_MS)
    order = _order(engine, order_id)
    assert order.engineer_id == "eve" and order.eta is not None
    assert worker.run_once() == 2
    mails = _by_rcpt(inbox.take())
    [assigned] = mails[REPORTER]
    assert _subject(assigned) == "[FieldPulse] 已为您的设备 SN-001 (purifier) 指派工程师：Eve"
    eta = datetime.fromtimestamp(order.eta / 1000, TZ)
    local = f"{eta.year}年{eta.month}月{eta.day}日周二 {eta:%H:%M} CET"
    assert f"预计到达时间：{local}" in _body(assigned)
    assert "Eve 将在 Acme Plant 为您的设备 SN-001 (purifier) 提供服务。" in _body(assigned)
    assert _subject(mails[EVE][0]).startswith(f"[FieldPulse] New job #{order_id}")

    _step(engine, order_id, "accepted", "en_route")
    assert worker.run_once() == 1
    [(rcpt, on_the_way)] = inbox.take()
    assert rcpt == REPORTER and _subject(on_the_way) == "[FieldPulse] 您的工程师 Eve 正在路上"
    assert f"预计到达时间：{local}" in _body(on_the_way)
