"""The rules service on a real database: alert life cycle, folding, escalation, replay."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rules_world import NORMAL, PURIFIER, T0, Clock, make_service, readings
from sqlmodel import Session, col, select

from ingest.checks import AcceptedReading
from notifications.delivery import NotificationDelivery
from notifications.tables import Notification
from rules.anomaly_scores import WINDOW_S
from rules.errors import AlertError
from rules.service import REPLAY_LAG_MS, RulesService
from rules.tables import OPEN_STATES, Alert, AlertEvent
from service.tables import WorkOrder
from support import evaluate


@pytest.fixture
def service(tmp_path: Path) -> tuple[RulesService, Clock]:
    return make_service(tmp_path / "rules.db")


def alerts(svc: RulesService) -> list[Alert]:
    with Session(svc._engine) as s:
        return list(s.exec(select(Alert).order_by(Alert.id)))


def test_life_cycle_records_who_and_when(service) -> None:
    svc, clock = service
    evaluate(svc, readings({"tds_ppm": 200}))
    [alert] = alerts(svc)
    clock.now += 60_000
    svc.acknowledge(alert.id, by="dana", note="on it")
    with pytest.raises(AlertError, match="acknowledged"):
        svc.acknowledge(alert.id, by="dana")
    evaluate(svc, readings({"tds_ppm": 100}, start=T0 + 5000))
    clock.now += 60_000
    svc.close(alert.id, by="dana", note="membrane replaced")
    [alert] = alerts(svc)
    assert (alert.state, alert.acknowledged_by, alert.acknowledged_at) == ("closed", "dana",
                                                                          T0 + 60_000)
    assert alert.cleared_at == T0 + 5000 and alert.closed_at == T0 + 120_000
    with Session(svc._engine) as s:
        trail = [(e.action, e.by) for e in s.exec(select(AlertEvent).order_by(AlertEvent.id))]
    assert trail == [("raised", "system"), ("acknowledged", "dana"), ("cleared", "system"),
                     ("closed", "dana")]


def test_second_alert_on_the_device_folds_under_the_first_and_opens_no_new_work(service):
    svc, _ = service
    evaluate(svc, readings({"tds_ppm": 200}))
    evaluate(svc, readings({"tds_ppm": 200, "inlet_pressure_bar": 1.0}, start=T0 + 1000))
    first, second = alerts(svc)
    assert second.parent_id == first.id and second.rule_id == "inlet-pressure-low"
    with Session(svc._engine) as s:
        assert len(s.exec(select(WorkOrder)).all()) == 1
        # The folded, less severe alert notified nobody.
        assert {n.alert_id for n in s.exec(select(Notification))} == {first.id}


def test_unacknowledged_critical_alert_escalates_once(service) -> None:
    svc, clock = service
    evaluate(svc, readings({"tds_ppm": 200}))
    clock.now = T0 + 14 * 60_000
    svc.tick()
    assert alerts(svc)[0].escalated_at is None
    clock.now = T0 + 16 * 60_000
    svc.tick()
    svc.tick()
    [alert] = alerts(svc)
    assert alert.escalated_at == T0 + 16 * 60_000
    with Session(svc._engine) as s:
        escalations = s.exec(select(Notification).where(
            col(Notification.message).startswith("[escalated]"))).all()
    assert [(n.audience, n.alert_id) for n in escalations] == [("supervisor", alert.id)]


def test_backlog_older_than_live_data_raises_a_past_alert_marked_replayed(service) -> None:
    svc, clock = service
    clock.now = T0 + 600_000
    # Live data is normal; then a backlog from ten minutes ago arrives with an episode.
    evaluate(svc, readings({}, {}, start=T0 + 590_000))
    evaluate(svc, readings({"tds_ppm": 200}, {"tds_ppm": 210}, {"tds_ppm": 20}))
    [alert] = alerts(svc)
    assert alert.replayed and alert.raised_at == T0 and alert.cleared_at == T0 + 2000
    assert alert.state == "cleared"
    # An episode still running when the backlog ends is closed by newer live data.
    evaluate(svc, readings({"tds_ppm": 220}, start=T0 + 100_000))
    latest = alerts(svc)[-1]
    assert latest.replayed and latest.state == "cleared"
    assert latest.cleared_at == T0 + 591_000


def test_fresh_readings_are_not_marked_replayed(service) -> None:
    svc, clock = service
    clock.now = T0 + REPLAY_LAG_MS - 1
    evaluate(svc, readings({"tds_ppm": 200}))
    assert not alerts(svc)[0].replayed


batch = st.lists(st.tuples(st.integers(0, 40), st.sampled_from([20.0, 130.0, 200.0])),
                 min_size=1, max_size=8)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(batch, min_size=1, max_size=10), data=st.data())
def test_one_open_alert_per_device_and_rule_whatever_the_arrival(tmp_path_factory, batches,
                                                                  data) -> None:
    svc, clock = make_service(tmp_path_factory.mktemp("prop") / "rules.db")
    clock.now = T0 + 41 * 1000
    # Duplicated and reordered deliveries, as at-least-once MQTT and backlogs give.
    deliveries = batches + data.draw(st.lists(st.sampled_from(batches), max_size=5))
    deliveries = data.draw(st.permutations(deliveries))
    for b in deliveries:
        evaluate(svc, [AcceptedReading(PURIFIER.id, PURIFIER.model_id, T0 + i * 1000,
                                         {**NORMAL, "tds_ppm": v}) for i, v in b])
        with Session(svc._engine) as s:
            open_ = s.exec(select(Alert.rule_id).where(col(Alert.state).in_(OPEN_STATES))).all()
        assert len(open_) == len(set(open_))
    # The live engine and the database agree on what is open.
    assert {a.rule_id for a in alerts(svc) if a.state in OPEN_STATES} == {
        rule_id for (dev, rule_id), mem in svc.live.rules.items() if mem.active}


class FlakySender:
    """Fails for one audience, records the rest."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, notification: Notification) -> None:
        if notification.audience == "customer":
            raise ConnectionError("mail server unreachable")
        self.sent.append(notification.audience)


def test_notifications_go_through_the_sender_and_failures_are_kept(tmp_path: Path) -> None:
    sender = FlakySender()
    svc, clock = make_service(tmp_path / "rules.db")
    delivery = NotificationDelivery(svc._engine, sender, clock=clock)
    evaluate(svc, readings({"tds_ppm": 200}))
    delivery.run_once()
    assert sorted(sender.sent) == ["owner", "supervisor"]
    with Session(svc._engine) as s:
        rows = {n.audience: n for n in s.exec(select(Notification))}
    assert rows["customer"].status == "failed" and "unreachable" in rows["customer"].error
    assert rows["owner"].status == "sent" and rows["owner"].sent_at == T0
    assert delivery.run_once() == 0  # nothing left to send, failures are not retried blindly


def test_anomaly_detectors_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "rules.db"
    svc, _ = make_service(path)
    rule = {"id": "odd", "metric": "tds_ppm", "condition": "anomaly", "threshold": 0.5,
            "clear": 0.3, "severity": "medium", "message": "unusual water quality"}
    _, rules = svc.rules_of(PURIFIER.model_id)
    # Only this univariate rule learns here (the model's own model_anomaly rule is
    # saved and restored by test_model_anomaly_service.py).
    rules = [r for r in rules if r.get("condition") != "model_anomaly"]
    svc.update_rules(PURIFIER.model_id, [*rules, rule], by="test")
    window = int(WINDOW_S * 1000)
    step = window // 30
    evaluate(svc, readings(*[{"tds_ppm": 25.0 + (i % 7) * 0.3} for i in range(200)],
                             step=step))
    assert svc.save_detectors() == 1
    restarted, _ = make_service(path, fresh=False)
    before = svc.live.scorer._detectors[(PURIFIER.id, "tds_ppm")]
    after = restarted.live.scorer._detectors[(PURIFIER.id, "tds_ppm")]
    # 200 readings, 30 per window: 6 closed windows, the 7th still open.
    assert after.count == before.count == 6
    # Both continue identically from here, the open window included.
    more = readings({"tds_ppm": 31.0}, {"tds_ppm": 30.0}, start=T0 + 200 * step, step=window)
    assert evaluate(svc, more) == evaluate(restarted, more)
    assert after.count == 7  # the second reading closed the window the first one joined
    assert after.state_dict() == before.state_dict()
    assert svc.live.scorer.export() == restarted.live.scorer.export()


def test_two_workers_racing_on_one_device_open_one_alert(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "rules.db"
    first, _ = make_service(path)
    second, _ = make_service(path, fresh=False)
    batch = readings(*[{"tds_ppm": 200.0 + i} for i in range(5)])
    errors: list[BaseException] = []

    def feed(svc: RulesService) -> None:
        try:
            for _ in range(20):
                evaluate(svc, batch)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=feed, args=(svc,)) for svc in (first, second)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert [(a.rule_id, a.state) for a in alerts(first)] == [("tds-high", "active")]
    with Session(first._engine) as s:
        assert len(s.exec(select(WorkOrder)).all()) == 1


def test_a_device_moved_from_another_worker_clears_the_alert_that_worker_raised(
        tmp_path: Path) -> None:
    # Two cluster ingest workers: the first raises a device's alert, then the device's
    # partition moves to the second, which had never seen the breach.
    path = tmp_path / "rules.db"
    first, _ = make_service(path)
    second, _ = make_service(path, fresh=False)
    evaluate(first, readings({"tds_ppm": 200.0}))
    assert [(a.rule_id, a.state) for a in alerts(first)] == [("tds-high", "active")]

    second.resync_alerts()  # what the worker does when it takes partitions
    evaluate(second, readings({}, start=T0 + 1000))  # the device recovered

    assert [(a.rule_id, a.state) for a in alerts(first)] == [("tds-high", "cleared")]
