"""Pruning delivered deliveries and outbox events keeps what is still needed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from change_maker import ChangeMaker
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from integrations.domain_events.tables import OutboxEvent
from integrations.webhooks import subscriptions
from integrations.webhooks.retention import prune
from integrations.webhooks.tables import WebhookAttempt, WebhookDelivery
from integrations.webhooks.targets import Target, TargetPolicy
from integrations.webhooks.transport import Answer
from integrations.webhooks.worker import WebhookWorker
from simulators.fleet import generate_fleet

FLEET = generate_fleet(seed=11, sites=3)
FAR_FUTURE = 2**62
LOOPBACK = TargetPolicy(("127.0.0.1",))  # the subscription's target


def _ok(_target: Target, _body: bytes, _headers: Mapping[str, str], _timeout_s: float) -> Answer:
    return Answer(200, None)


def _engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'retention.db'}")
    upgrade(engine)
    import_fleet(engine, FLEET)
    return engine


def _subscribe(engine: Engine) -> int:
    with session_scope(engine) as session:
        sub = subscriptions.create(session, url="http://127.0.0.1:9/", record_types=[],
                                   event_types=[], description="", by="tests")
        assert sub.id is not None
        return sub.id


def test_prune_keeps_each_records_newest_event_and_numbering_goes_on(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    _subscribe(engine)
    changes = ChangeMaker(engine, FLEET, seed=4)
    changes.make(50)
    WebhookWorker(engine, transport=_ok, gap_wait_s=0.0, targets=LOOPBACK).run_once()
    with Session(engine) as session:
        before = session.exec(select(OutboxEvent)).all()
    newest = {}
    for e in before:
        newest[(e.record_type, e.record_id)] = max(newest.get((e.record_type, e.record_id), 0),
                                                   e.seq)
    deliveries, events = prune(engine, FAR_FUTURE)
    assert deliveries == len(before) and events == len(before) - len(newest)
    with Session(engine) as session:
        kept = session.exec(select(OutboxEvent)).all()
        assert session.exec(select(WebhookAttempt)).all() == []
    assert {(e.record_type, e.record_id): e.seq for e in kept} == newest
    changes.make(20)
    with Session(engine) as session:
        for e in session.exec(select(OutboxEvent).where(col(OutboxEvent.id) > max(
                k.id or 0 for k in kept))):
            assert e.seq > newest.get((e.record_type, e.record_id), 0)


def test_prune_keeps_what_is_not_delivered_or_not_yet_queued(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    _subscribe(engine)
    ChangeMaker(engine, FLEET, seed=5).make(20)
    # Nothing queued yet: every event is past the cursor, so none goes.
    assert prune(engine, FAR_FUTURE) == (0, 0)
    # Queued but undelivered: kept with its event.
    WebhookWorker(engine, transport=lambda *_: Answer(500, "HTTP 500"),
                  gap_wait_s=0.0, targets=LOOPBACK).run_once()
    assert prune(engine, FAR_FUTURE) == (0, 0)
    with Session(engine) as session:
        assert session.exec(select(WebhookDelivery)).all()
