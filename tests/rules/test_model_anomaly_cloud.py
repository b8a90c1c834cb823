"""A model_anomaly rule end to end: gateway → Mosquitto → ingest → rules → an alert."""

from __future__ import annotations

import time

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session, select

from asset_registry.catalog import load_models
from portal.queries.alerts import list_alerts
from rules.tables import Alert
from simulators.driver import SimulatedDriver
from support import RunningCloud, wait_until
from testing_support.broker_logins import login

MODEL = "aquapure-ro500"
RULE = {"id": "unusual", "condition": "model_anomaly",
        "metrics": ["flow_lpm", "tds_ppm", "inlet_pressure_bar"], "threshold": 0.5,
        "clear": 0.4, "for_s": 60, "severity": "medium", "message": "unlike normal operation"}
STEP_MS = 60_000
START_MS = 1_780_000_000_000  # 2026-05-28 20:26 UTC, a quiet night in Berlin
STEPS = 1_560  # 26 hours of event time: past the cold start (a fit spans a day)


def publish(client: mqtt.Client, gateway: str, seq: int, readings: list[dict]) -> None:
    body = orjson.dumps({"v": 1, "gw": gateway, "seq": seq, "sent": int(time.time() * 1000),
                         "readings": readings})
    client.publish(f"fp/v1/gw/{gateway}/telemetry", body, qos=1).wait_for_publish(timeout=10)


def test_model_anomaly_rule_raises_an_alert_through_the_whole_cloud(cloud: RunningCloud
                                                                     ) -> None:
    purifiers = [d for d in cloud.fleet.devices if d.model_id == MODEL]
    faulty = purifiers[0]
    svc = cloud.system.rules
    _, rules = svc.rules_of(MODEL)
    svc.update_rules(MODEL, [*rules, RULE], by="test")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-model-anomaly",
                         protocol=mqtt.MQTTv5)
    # Publishes for several gateways: a cloud account of the test's own.
    client.username_pw_set(*login(cloud.broker, "fieldpulse-test-model-anomaly"))
    client.connect("127.0.0.1", cloud.broker_port)
    client.loop_start()
    try:
        driver = SimulatedDriver(purifiers, load_models(), seed=5)
        gateway_of = {d.id: d.gateway_id for d in purifiers}
        start = START_MS  # a fixed past: the simulated day looks the same at every run
        seq = 0
        stats = cloud.system.pipeline.stats
        # One batch per gateway per 25 minutes of normal operation, then the faulty
        # last ten minutes once those are stored: the detector scores a block with
        # the fit it had before the block, so history and fault must not arrive in
        # one ingest transaction (which a busy machine's grouping can cause).
        chunks = [(first, min(first + 25, STEPS - 10)) for first in range(0, STEPS - 10, 25)]
        for first, last in [*chunks, (STEPS - 10, STEPS)]:
            if first == STEPS - 10:
                wait_until(lambda: stats.readings_stored >= (STEPS - 10) * len(purifiers),
                           what="the normal history to be stored")
            batches: dict[str, list[dict]] = {}
            for step in range(first, last):
                ts = start + step * STEP_MS
                for r in driver.read(ts):
                    m = dict(r.m)
                    if r.dev == faulty.id and step >= STEPS - 10:
                        # The last ten minutes: TDS 40 ppm and inlet pressure 1 bar high,
                        # both short of any threshold rule.
                        m["tds_ppm"] += 40.0
                        m["inlet_pressure_bar"] += 1.0
                    batches.setdefault(gateway_of[r.dev], []).append(
                        {"dev": r.dev, "ts": r.ts, "m": m})
            for gateway, readings in batches.items():
                publish(client, gateway, seq, readings)
                seq += 1

        def alerts() -> list[Alert]:
            with Session(cloud.system.engine) as s:
                return list(s.exec(select(Alert).where(Alert.rule_id == "unusual")))

        raised = wait_until(alerts, what="the model_anomaly alert")
        assert [(a.device_id, a.state, a.severity) for a in raised] == [
            (faulty.id, "active", "medium")]
        assert raised[0].raised_at >= start + (STEPS - 10) * STEP_MS
        # It names the two metrics the fault moved, as the alert API (and so the
        # console's alert inbox) shows it.
        with Session(cloud.system.engine) as s:
            [public] = [a for a in list_alerts(s, "open") if a.rule_id == "unusual"]
        assert public.explanation is not None
        named = [c.metric for c in public.explanation.contributions]
        assert set(named[:2]) == {"tds_ppm", "inlet_pressure_bar"}, public.explanation
        assert sum(c.share for c in public.explanation.contributions[:2]) > 0.8
        detector = svc.live.model_scorer.detectors[(MODEL, tuple(sorted(RULE["metrics"])))]
        assert set(detector.fit.devices) == {d.id for d in purifiers}
    finally:
        client.disconnect()
        client.loop_stop()
