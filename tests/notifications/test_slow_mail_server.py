"""A mail server that takes 10 s to answer does not hold up ingest: notifications are
sent by their own worker, outside the ingest thread and any transaction."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from publishing import Publisher, batch, topic
from sqlmodel import Session, select

from fieldpulse.broker import MosquittoBroker
from fieldpulse.fleet_import import import_fleet
from fieldpulse.settings import Settings
from fieldpulse.system import CloudSystem
from foundations.processes import free_port
from notifications.tables import Notification
from simulators.fleet import Fleet
from support import wait_until
from testing_support.broker_logins import address

SMTP_DELAY_S = 10.0
NORMAL = {"flow_lpm": 12.0, "tds_ppm": 25.0, "inlet_pressure_bar": 3.2, "filter_hours": 1000.0}


class SlowInbox:
    """Answers every message after SMTP_DELAY_S; says when a send is under way."""

    def __init__(self) -> None:
        self.sending = threading.Event()
        self.answered = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        self.sending.set()
        await asyncio.sleep(SMTP_DELAY_S)
        self.answered.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def slow_smtp() -> Iterator[tuple[SlowInbox, int]]:
    inbox = SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def test_ingest_acks_keep_flowing_while_a_notification_is_being_sent(
        tmp_path: Path, mosquitto: MosquittoBroker, small_fleet: Fleet,
        slow_smtp: tuple[SlowInbox, int]) -> None:
    inbox, smtp_port = slow_smtp
    settings = Settings(data_dir=tmp_path / "data", http_port=free_port(),
                        smtp_host="127.0.0.1", smtp_port=smtp_port,
                        supervisor_email="supervisor@service.example")
    system = CloudSystem(settings, address(mosquitto))
    import_fleet(system.engine, small_fleet)
    device = next(d for d in small_fleet.devices if d.model_id == "aquapure-ro500")
    publisher = Publisher(mosquitto)
    system.start()
    try:
        wait_until(system.consumer.connected.is_set, what="ingest to connect")
        now = int(time.time() * 1000)
        # A critical TDS reading: its alert notifies the supervisor, owner and customer.
        publisher.publish_all([(topic(device.gateway_id), batch(device.gateway_id, 1, [
            {"dev": device.id, "ts": now, "m": {**NORMAL, "tds_ppm": 200.0}}]))])
        wait_until(inbox.sending.is_set, what="the first notification to be sent")

        stored = system.pipeline.stats.batches_stored
        publisher.publish_all([(topic(device.gateway_id), batch(device.gateway_id, seq, [
            {"dev": device.id, "ts": now + seq * 1000, "m": NORMAL}])) for seq in range(2, 22)])
        wait_until(lambda: system.pipeline.stats.batches_stored == stored + 20,
                   what="20 more batches stored and acknowledged")
        # Every one of them was stored while the mail server had not yet answered.
        assert not inbox.answered.is_set()

        wait_until(inbox.answered.is_set, timeout_s=3 * SMTP_DELAY_S,
                   what="the mail server to answer")

        def sent() -> bool:
            with Session(system.engine) as session:
                return any(n.status == "sent" for n in session.exec(select(Notification)))

        wait_until(sent, timeout_s=3 * SMTP_DELAY_S, what="a notification marked sent")
    finally:
        publisher.close()
        system.stop()
