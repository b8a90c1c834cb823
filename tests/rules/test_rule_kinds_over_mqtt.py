"""Every rule kind and action end to end: v1 telemetry over a real Mosquitto, ingest, rules.

One purifier's readings are published through the broker as a gateway would;
a rule of each kind is put in force through the rules service (as the API does)
and each must raise exactly when its condition first holds, in event time.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session, col, select

from fieldpulse.broker import MosquittoBroker
from firmware_contracts.topics import telemetry_topic
from rules.tables import Alert
from support import RunningCloud, wait_until
from testing_support.broker_logins import login

NORMAL = {"flow_lpm": 12.0, "tds_ppm": 25.0, "inlet_pressure_bar": 3.2, "filter_hours": 1000.0}
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _rules(scheduled_day: str) -> list[dict]:
    def rule(rule_id: str, **spec: object) -> dict:
        return {"id": rule_id, "severity": "medium", "message": rule_id, **spec}

    return [
        rule("threshold", metric="tds_ppm", condition="above", threshold=150.0, clear=120.0),
        rule("below", metric="inlet_pressure_bar", condition="below", threshold=1.5, clear=2.0),
        rule("band", metric="flow_lpm", condition="outside", band=[5.0, 20.0],
             clear_band=[6.0, 19.0]),
        rule("duration", metric="flow_lpm", condition="below", threshold=8.0, clear=9.0,
             for_s=60),
        rule("repeat", metric="tds_ppm", condition="above", threshold=100.0, clear=90.0,
             repeat={"count": 3, "within_s": 600}),
        rule("rate", metric="inlet_pressure_bar", condition="rate_above", threshold=5.0,
             clear=1.0),
        rule("combined", all=[
            {"metric": "tds_ppm", "condition": "above", "threshold": 140.0, "clear": 130.0},
            {"metric": "flow_lpm", "condition": "below", "threshold": 9.0, "clear": 10.0}]),
        rule("scheduled", metric="filter_hours", condition="above", threshold=500.0,
             clear=400.0, schedule={"days": [scheduled_day], "from": "00:00", "to": "23:59"}),
        rule("silent", condition="no_data", silent_s=300),
    ]


def _timeline(t0: int) -> list[tuple[int, dict]]:
    """(event time, changed metrics): each rule's condition starts at a known second."""
    changes = {
        100: {"tds_ppm": 200.0},                  # threshold (and repeat run 1)
        120: {"tds_ppm": 110.0},                  # repeat run 2
        140: {"tds_ppm": 110.0},                  # repeat run 3 -> repeat
        200: {"inlet_pressure_bar": 1.0},         # below ... held until 290
        300: {"inlet_pressure_bar": 3.2},         # +13.2 bar/min in 10 s -> rate
        400: {"flow_lpm": 25.0},                  # band
        500: {"flow_lpm": 7.0},                   # duration starts (held to 590)
        700: {"tds_ppm": 145.0, "flow_lpm": 8.5},  # combined
    }
    held = {**{s: {"inlet_pressure_bar": 1.0} for s in range(210, 300, 10)},
            **{s: {"flow_lpm": 7.0} for s in range(510, 600, 10)}}
    return [(t0 + s * 1000, {**NORMAL, **held.get(s, {}), **changes.get(s, {})})
            for s in range(0, 810, 10)]


def _publish(broker: MosquittoBroker, gateway_id: str, device_id: str,
             readings: list[tuple[int, dict]]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(*login(broker, gateway_id))  # as the gateway itself
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for seq, start in enumerate(range(0, len(readings), 10)):
            batch = [{"dev": device_id, "ts": ts, "m": m} for ts, m in readings[start:start + 10]]
            body = {"v": 1, "gw": gateway_id, "seq": seq, "sent": int(time.time() * 1000),
                    "readings": batch}
            client.publish(telemetry_topic(gateway_id), orjson.dumps(body), qos=1
                           ).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_every_rule_kind_raises_when_its_condition_first_holds(cloud: RunningCloud) -> None:
    system = cloud.system
    device = next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")
    tz = system.settings.tz
    # Two days ago, at the start of a local hour, so every reading is in the past.
    start = (datetime.now(tz) - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    t0 = int(start.timestamp() * 1000)
    next_day = DAY_NAMES[(start + timedelta(days=1)).weekday()]
    system.rules.update_rules(device.model_id, _rules(next_day), by="test")

    day_one = _timeline(t0)
    # The scheduled rule's condition (filter hours above 500) holds all along but may
    # only raise on the next local day; the reading there raises it.
    day_two = [(t0 + 86_400_000, NORMAL)]
    _publish(cloud.broker, device.gateway_id, device.id, day_one + day_two)
    stats = system.pipeline.stats
    wait_until(lambda: stats.readings_stored >= len(day_one) + 1, what="readings stored")

    def first_raised() -> dict[str, int]:
        with Session(system.engine) as s:
            rows = s.exec(select(Alert).where(Alert.device_id == device.id)
                          .order_by(col(Alert.id))).all()
        out: dict[str, int] = {}
        for a in rows:
            out.setdefault(a.rule_id, a.raised_at)
        return out

    raised = wait_until(lambda: len(first_raised()) >= 8 and first_raised(),
                        what="an alert of every value rule")
    expected = {"threshold": 100, "repeat": 140, "below": 200, "rate": 300, "band": 400,
                "duration": 560, "combined": 700}
    assert {k: (raised[k] - t0) // 1000 for k in expected} == expected
    assert raised["scheduled"] == t0 + 86_400_000

    # No data: the device's last reading is a day old by the main process's clock.
    system.rules.tick(at_ms=t0 + 86_400_000 + 301_000)
    assert "silent" in first_raised()


def test_a_critical_alert_notifies_opens_a_work_order_and_escalates(
        cloud: RunningCloud) -> None:
    from notifications.tables import Notification
    from service.tables import WorkOrder

    system = cloud.system
    device = next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")
    now = int(time.time() * 1000)
    _publish(cloud.broker, device.gateway_id, device.id,
             [(now - 1000, NORMAL), (now, {**NORMAL, "tds_ppm": 200.0})])  # tds-high: critical

    def alert() -> Alert | None:
        with Session(system.engine) as s:
            return s.exec(select(Alert).where(Alert.device_id == device.id,
                                              Alert.rule_id == "tds-high")).first()

    raised = wait_until(alert, what="the critical alert")
    assert raised.severity == "critical" and raised.case_id is not None
    with Session(system.engine) as s:
        audiences = sorted(n.audience for n in s.exec(
            select(Notification).where(Notification.alert_id == raised.id)))
        orders = s.exec(select(WorkOrder).where(WorkOrder.device_id == device.id)).all()
    assert audiences == ["customer", "owner", "supervisor"]
    assert [o.priority for o in orders] == [5]

    # Nobody acknowledges it: 15 minutes on, the supervisor is told again, once.
    system.rules.tick(at_ms=raised.raised_at + 14 * 60_000)
    system.rules.tick(at_ms=raised.raised_at + 16 * 60_000)
    system.rules.tick(at_ms=raised.raised_at + 17 * 60_000)
    with Session(system.engine) as s:
        escalations = s.exec(select(Notification).where(
            Notification.alert_id == raised.id,
            col(Notification.message).startswith("[escalated]"))).all()
    assert [n.audience for n in escalations] == ["supervisor"]
    assert alert().escalated_at is not None
