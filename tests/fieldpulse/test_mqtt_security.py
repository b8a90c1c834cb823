"""The default set-up (the broker as `fieldpulse run` and the `cloud` fixture start it) keeps
every gateway to its own topics: nobody gets in anonymously, a gateway can neither read
another's topics nor speak for it, and no account can take over another's session."""

from __future__ import annotations

import time

import orjson
from publishing import batch, normal_metrics, topic
from sqlmodel import Session as DbSession
from sqlmodel import select

from asset_registry.catalog import load_models
from asset_registry.tables import Gateway
from ingest.tables import IngestedBatch, LatestValue
from support import RunningCloud, Session, wait_until
from testing_support.broker_logins import login

MODELS = load_models()
NOT_AUTHORIZED = 135  # MQTT 5 reason code


def _two_gateways(cloud: RunningCloud) -> tuple[str, str, str, dict[str, float]]:
    """Gateway A, gateway B, a device of B and normal values for it."""
    a, b = cloud.fleet.gateways[0].id, cloud.fleet.gateways[1].id
    device = cloud.fleet.devices_of(b)[0]
    return a, b, device.id, normal_metrics(MODELS[device.model_id])


def _stored(cloud: RunningCloud, gateway_id: str) -> list[int]:
    with DbSession(cloud.system.engine) as s:
        return sorted(s.exec(select(IngestedBatch.seq)
                             .where(IngestedBatch.gateway_id == gateway_id)).all())


def test_an_anonymous_client_or_a_wrong_password_is_refused(cloud: RunningCloud) -> None:
    gateway = cloud.fleet.gateways[0].id
    for user, password in ((None, None), ("", ""), (gateway, "guessed"),
                           ("fieldpulse-ingest", "guessed")):
        session = Session(cloud.broker_port, user, password)
        session.close()
        assert session.refused is not None, f"{user!r} got in"
    assert cloud.system.consumer.connected.is_set()


def test_a_gateway_cannot_read_another_gateways_topics_or_speak_for_it(
        cloud: RunningCloud) -> None:
    a, b, device, metrics = _two_gateways(cloud)
    now = int(time.time() * 1000)
    gateway_a = Session(cloud.broker_port, *login(cloud.broker, a))
    gateway_b = Session(cloud.broker_port, *login(cloud.broker, b))
    try:
        gateway_a.subscribe(f"fp/v1/gw/{b}/#", "fp/v1/gw/+/telemetry", "fp/v1/gw/+/status")
        gateway_b.subscribe(f"fp/v1/gw/{b}/cmd", f"fp/v1/gw/{b}/config")

        # A reading as B, a command and a config for B, a status that would freeze B.
        spoofed = batch(b, 0, [{"dev": device, "ts": now, "m": {**metrics}}], now)
        forged = [
            (topic(b), spoofed, False),
            (topic(b, "cmd"), orjson.dumps({"v": 1, "id": "c-1", "cmd": "ping", "args": {}}),
             False),
            (topic(b, "config"), orjson.dumps({"v": 1, "version": 2**31 - 1,
                                               "sample_period_s": 1, "batch_max_readings": 1,
                                               "batch_max_age_s": 1}), True),
            (topic(b, "status"), orjson.dumps({"v": 1, "gw": b, "state": "offline",
                                               "ts": 2**53 - 1}), True),
        ]
        for forged_topic, payload, retain in forged:
            reason = gateway_a.publish(forged_topic, payload, retain=retain)
            assert getattr(reason, "value", None) == NOT_AUTHORIZED, forged_topic

        # B's own traffic reaches the cloud, and nobody else.
        real = batch(b, 0, [{"dev": device, "ts": now + 1, "m": metrics}], now)
        assert not getattr(gateway_b.publish(topic(b), real), "is_failure", True)
        gateway_b.publish(topic(b, "status"), orjson.dumps(
            {"v": 1, "gw": b, "state": "online", "ts": now, "fw": "1.0", "devices": [device]}),
            retain=True)
        wait_until(lambda: _stored(cloud, b) == [0], what="B's own batch stored")
        time.sleep(1)  # anything forged or leaked would have arrived by now
        assert gateway_a.received == [] and gateway_b.received == []
        with DbSession(cloud.system.engine) as s:
            latest = s.exec(select(LatestValue).where(LatestValue.device_id == device)).all()
            assert {v.ts for v in latest} == {now + 1}  # the real reading, not the spoofed
            gateway = s.get(Gateway, b)
            assert gateway is not None and gateway.online and gateway.status_ts == now
        assert cloud.system.pipeline.stats.snapshot()["rejected_by_reason"] == {}
    finally:
        gateway_a.close()
        gateway_b.close()


def test_no_account_can_take_over_the_clouds_or_another_gateways_connection(
        cloud: RunningCloud) -> None:
    a, b, device, metrics = _two_gateways(cloud)
    gateway_b = Session(cloud.broker_port, *login(cloud.broker, b), client_id=f"edge-{b}")
    try:
        # A, with the client ids of the cloud's session and of B's: it gets in as itself
        # (one after the other: an account's own connections do replace each other).
        for client_id in ("fieldpulse-ingest", f"edge-{b}", b):
            thief = Session(cloud.broker_port, *login(cloud.broker, a), client_id=client_id)
            time.sleep(0.5)
            assert thief.refused is None and not thief.disconnected.is_set()
            thief.close()
        assert not gateway_b.disconnected.is_set()
        log = cloud.broker.log()
        assert "Client fieldpulse-ingest already connected" not in log
        assert f"Client {b} already connected" not in log
        # The cloud kept its connection and receives B's batches.
        now = int(time.time() * 1000)
        for seq in range(4):
            gateway_b.publish(topic(b), batch(b, seq, [
                {"dev": device, "ts": now + seq, "m": metrics}], now))
        wait_until(lambda: _stored(cloud, b) == [0, 1, 2, 3], what="B's 4 batches")
        assert cloud.system.consumer.connected.is_set()
    finally:
        gateway_b.close()
