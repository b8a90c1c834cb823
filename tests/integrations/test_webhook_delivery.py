"""Domain events reach a real, unreliable HTTP receiver on loopback: every event, once
per event id at a deduplicating receiver, in order per record, each signature valid;
and nothing is lost when FieldPulse is killed between the commit and the delivery."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from change_maker import ChangeMaker
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from webhook_receiver import RECEIVERS_ALLOWED, Receiver

from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from foundations.processes import free_port
from foundations.workers import Supervisor
from integrations.domain_events.tables import OutboxEvent
from integrations.webhooks import subscriptions
from integrations.webhooks.policy import RetryPolicy
from integrations.webhooks.tables import WebhookAttempt, WebhookDelivery
from integrations.webhooks.worker import WebhookWorker
from simulators.fleet import generate_fleet
from support import wait_until

FLEET = generate_fleet(seed=11, sites=6)
ROOT = Path(__file__).resolve().parents[2]
# Short backoff: the tests wait for outcomes, never for a clock.
FAST = RetryPolicy(max_attempts=1000, base_s=0.01, cap_s=0.2, timeout_s=5.0)


@pytest.fixture
def db_url(database_url: str) -> str:
    return database_url


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    upgrade(engine)
    import_fleet(engine, FLEET)
    return engine


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(free_port(), fail_rate=0.3, lose_ack_rate=0.1, seed=42)
    yield receiver
    receiver.release.set()
    receiver.stop()


def subscribe(engine: Engine, receiver: Receiver) -> int:
    with session_scope(engine) as session:
        sub = subscriptions.create(session, url=receiver.url, record_types=[], event_types=[],
                                   description="tests", by="tests")
        receiver.secret = sub.secret
        assert sub.id is not None
        return sub.id


def outbox(engine: Engine) -> list[OutboxEvent]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id))))


def assert_exactly_once_in_order(engine: Engine, receiver: Receiver) -> None:
    events = outbox(engine)
    got = receiver.got
    assert len(got.processed) == len(set(got.processed)), "an event was processed twice"
    assert set(got.processed) == {e.id for e in events}
    assert got.out_of_order == []
    assert got.bad_signatures == 0
    # The receiver's last sequence number of each record is that record's last event.
    last = {f"{e.record_type}:{e.record_id}": e.seq for e in events}
    assert dict(got.last_seq) == last
    for event in events:
        assert got.bodies[event.id]["type"] == event.event_type


def all_delivered(engine: Engine, receiver: Receiver) -> bool:
    return receiver.processed_ids() == {e.id for e in outbox(engine)}


def test_every_event_reaches_a_flapping_receiver_once_and_in_order(
        engine: Engine, receiver: Receiver) -> None:
    subscribe(engine, receiver)
    changes = ChangeMaker(engine, FLEET, seed=3)
    worker = WebhookWorker(engine, policy=FAST, period_s=0.02, gap_wait_s=0.5,
                           rng=random.Random(5), targets=RECEIVERS_ALLOWED)
    receiver.start()
    supervisor = Supervisor([worker]).start()
    try:
        for round_ in range(6):
            changes.make(40)
            if round_ % 2 == 0:
                receiver.stop()  # down for a while: the worker meets refused connections
                changes.make(20)
                wait_until(lambda: _refused_attempts(engine) > 0, what="refused attempts")
                receiver.start()  # back, on the same port
        assert len(outbox(engine)) > 300
        # Also every answer back: an event processed under a lost answer is sent again.
        wait_until(lambda: all_delivered(engine, receiver) and _all_acknowledged(engine),
                   timeout_s=180, what="every event at the receiver, and acknowledged")
    finally:
        supervisor.stop()
    assert_exactly_once_in_order(engine, receiver)
    assert {e.record_type for e in outbox(engine)} == {"case", "work_order", "alert"}
    # The receiver really failed and lost answers: retries happened, duplicates were
    # deduplicated, and the delivery log shows it.
    assert receiver.got.duplicates > 0
    with Session(engine) as session:
        codes = set(session.exec(select(WebhookAttempt.status_code)).all())
        statuses = set(session.exec(select(WebhookDelivery.status)).all())
    assert {None, 200, 500, 503} <= codes and statuses == {"delivered"}


def _all_acknowledged(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.exec(select(WebhookDelivery.id)
                            .where(WebhookDelivery.status != "delivered")).first() is None


def _refused_attempts(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(WebhookAttempt.id)
                                .where(col(WebhookAttempt.status_code).is_(None))).all())


def start_worker_process(db_url: str, changes: int = 0) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent)])}
    child = subprocess.Popen([sys.executable, str(Path(__file__).with_name(
        "webhook_worker_process.py")), db_url, str(changes)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)


def _settled_count(receiver: Receiver) -> int:
    """How many events the receiver has processed, once a second has passed without
    one more (requests already on the wire are handled after their sender died)."""
    count, since = len(receiver.processed_ids()), time.monotonic()
    deadline = since + 30
    while time.monotonic() - since < 1.0 and time.monotonic() < deadline:
        time.sleep(0.1)
        if (now := len(receiver.processed_ids())) != count:
            count, since = now, time.monotonic()
    return count


def test_nothing_is_lost_when_fieldpulse_is_killed_between_commit_and_delivery(
        engine: Engine, receiver: Receiver, db_url: str) -> None:
    receiver.fail_rate = receiver.lose_ack_rate = 0.0  # this test is about the crash
    subscribe(engine, receiver)
    changes = ChangeMaker(engine, FLEET, seed=8)
    # FieldPulse commits changes, and is killed before it could deliver any (the
    # receiver is not up yet): the events are in the outbox, nothing else knows them.
    child = start_worker_process(db_url, changes=40)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "committed"
        kill(child)
        assert len(outbox(engine)) > 40 and receiver.processed_ids() == set()
        receiver.start()
        receiver.hold.set()  # the next event is processed, its answer held back
        child = start_worker_process(db_url)
        changes.make(60)
        wait_until(receiver.holding.is_set, what="a delivery in flight")
        kill(child)  # mid-POST: the receiver has it, FieldPulse never heard back
        receiver.release.set()
        with Session(engine) as session:
            row = session.exec(select(WebhookDelivery)
                               .where(WebhookDelivery.event_id == receiver.held_id)).one()
            assert row.status == "pending"  # so it will be sent again
        # Committed while FieldPulse is down: nothing can have been delivered. (A POST
        # sent just before the kill may still be handled by the receiver: count once it
        # has settled.)
        before = _settled_count(receiver)
        changes.make(60)
        assert len(receiver.processed_ids()) == before
        child = start_worker_process(db_url)
        wait_until(lambda: len(receiver.processed_ids()) > len(outbox(engine)) // 2,
                   what="half the events delivered")
        kill(child)  # again, wherever it is
        changes.make(30)
        child = start_worker_process(db_url)
        wait_until(lambda: all_delivered(engine, receiver), timeout_s=120,
                   what="every event at the receiver after the restarts")
    finally:
        kill(child)
    assert_exactly_once_in_order(engine, receiver)
    assert receiver.got.duplicates >= 1  # the held event was sent again, and deduplicated


def test_a_failing_record_is_parked_others_go_on_and_a_replay_delivers_it(
        engine: Engine, receiver: Receiver) -> None:
    receiver.fail_rate = receiver.lose_ack_rate = 0.0
    sub_id = subscribe(engine, receiver)
    changes = ChangeMaker(engine, FLEET, seed=9)
    changes.make(30)
    worker = WebhookWorker(engine, policy=RetryPolicy(max_attempts=2, base_s=0.0, cap_s=0.0),
                           gap_wait_s=0.5, targets=RECEIVERS_ALLOWED)
    # Down: every head fails twice and is parked; the record's later events wait.
    worker.run_once()
    worker.run_once()
    with Session(engine) as session:
        parked = session.exec(select(WebhookDelivery)
                              .where(WebhookDelivery.status == "parked")).all()
        waiting = subscriptions.counts(session, sub_id).pending
    assert parked and all(d.attempts == 2 and d.last_error for d in parked)
    assert waiting > 0  # later events of the parked records, held behind them
    receiver.start()
    changes.make(10)
    worker.run_once()
    # Only records without a parked event moved on.
    parked_records = {d.record_key for d in parked}
    assert not {f"{b['record_type']}:{b['record_id']}" for b in receiver.got.bodies.values()
                } & parked_records
    with session_scope(engine) as session:
        assert subscriptions.replay_parked(session, sub_id) == len(parked)
    worker.run_once()
    assert_exactly_once_in_order(engine, receiver)
