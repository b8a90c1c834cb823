"""Webhooks reach public addresses only, unless an admin allows more: checked again at
every delivery, after resolving the name anew, connecting to the address checked;
a refused target is never connected to, and its log says no more than that."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from webhook_receiver import Receiver

from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from foundations.processes import free_port
from integrations.webhooks import subscriptions
from integrations.webhooks.policy import RetryPolicy
from integrations.webhooks.tables import WebhookAttempt
from integrations.webhooks.targets import NOT_ALLOWED, TargetPolicy, TargetRefused, masked
from integrations.webhooks.worker import WebhookWorker
from service.cases import open_case
from simulators.fleet import generate_fleet

FLEET = generate_fleet(seed=11, sites=3)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'targets.db'}")
    upgrade(engine)
    import_fleet(engine, FLEET)
    return engine


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(free_port()).start()
    yield receiver
    receiver.stop()


def _subscribe(engine: Engine, url: str, receiver: Receiver) -> int:
    """A subscription as it is stored (made when its name still pointed elsewhere)."""
    with session_scope(engine) as session:
        sub = subscriptions.create(session, url=url, record_types=[], event_types=[],
                                   description="", by="tests")
        receiver.secret = sub.secret
        assert sub.id is not None
        return sub.id


def _a_change(engine: Engine) -> None:
    with session_scope(engine) as session:
        open_case(session, device_id=FLEET.devices[0].id, source="api", title="x",
                  skill="plumbing", duration_min=30, priority=3)


def _deliver(engine: Engine, targets: TargetPolicy) -> None:
    WebhookWorker(engine, gap_wait_s=0.0, targets=targets,
                  policy=RetryPolicy(max_attempts=3, base_s=0.0, cap_s=0.0)).run_once()


def _errors(engine: Engine) -> list[str | None]:
    with Session(engine) as session:
        return [a.error for a in session.exec(select(WebhookAttempt))]


def test_a_name_that_now_resolves_to_loopback_is_not_posted_to(
        engine: Engine, receiver: Receiver) -> None:
    """The name passed when subscribed (public then); it points at loopback now."""
    url = f"http://crm.example.test:{receiver.port}/hooks"
    _subscribe(engine, url, receiver)
    _a_change(engine)
    _deliver(engine, TargetPolicy(resolver=lambda _host, _port: ["127.0.0.1"]))
    assert receiver.got.processed == [] and receiver.got.truncated == 0
    errors = _errors(engine)
    assert errors and set(errors) == {NOT_ALLOWED}  # no "Connection refused" to learn from


def test_a_target_on_a_port_nothing_listens_on_logs_no_connection_error(
        engine: Engine, receiver: Receiver) -> None:
    _subscribe(engine, "http://127.0.0.1:9/hook", receiver)
    _a_change(engine)
    _deliver(engine, TargetPolicy())
    assert set(_errors(engine)) == {NOT_ALLOWED}


def test_an_allowed_name_is_posted_to_the_address_that_was_checked(
        engine: Engine, receiver: Receiver) -> None:
    """The delivery connects to the address resolved and checked, speaking to the name
    (which no DNS here knows): a later lookup cannot send it elsewhere."""
    _subscribe(engine, f"http://crm.example.test:{receiver.port}/hooks", receiver)
    _a_change(engine)
    _deliver(engine, TargetPolicy(("127.0.0.1/32",),
                                  resolver=lambda _host, _port: ["127.0.0.1"]))
    assert receiver.got.processed and receiver.got.bad_signatures == 0


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
    "http://127.0.0.1:5432/", "http://localhost/", "http://10.0.0.1/", "http://0.0.0.0/",
    "http://2130706433/", "http://0x7f.1/", "http://[::1]/", "http://[::ffff:10.0.0.1]/",
    "http://[64:ff9b::7f00:1]/", "http://100.64.0.1/", "http://224.0.0.251/",
    "http://[ff02::1]/", "http://172.16.0.1/", "http://192.168.0.1/",
])
def test_internal_targets_are_refused_when_subscribed(url: str) -> None:
    with pytest.raises(TargetRefused, match="not allowed as a webhook target"):
        TargetPolicy().check_url(url)


def test_public_and_allowed_targets_pass_and_credentials_are_masked() -> None:
    TargetPolicy().check_url("https://93.184.215.14/hook")
    TargetPolicy(("10.0.0.0/8",)).check_url("http://10.1.2.3:8080/hook")
    # A name that does not resolve yet passes; every delivery checks it again.
    TargetPolicy(resolver=lambda _h, _p: []).check_url("https://crm.example.test/hook")
    with pytest.raises(ValueError, match="allow-list"):
        TargetPolicy(("not a network",))
    assert masked("https://user:pa%40ss@crm.example.com/h?x=1") == \
        "https://user:***@crm.example.com/h?x=1"
    assert masked("https://crm.example.com/h") == "https://crm.example.com/h"
