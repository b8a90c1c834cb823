"""The whole path against a real Mosquitto: gateway → broker → ingest → rules → dispatch."""

from __future__ import annotations

import threading
import time

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session, select

from asset_registry.catalog import load_models
from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from edge_agent.outbox import Outbox
from fieldpulse.broker import MosquittoBroker
from ingest.tables import DeadLetter, LatestValue
from notifications.tables import Notification
from rules.tables import Alert
from service.tables import Case, Engineer, WorkOrder
from simulators.driver import SimulatedDriver
from support import RunningCloud, wait_until
from testing_support.broker_logins import login

MODELS = load_models()


class HandMadeGateway:
    """Publishes hand-made batches, as a gateway's firmware would, with its own account."""

    def __init__(self, broker: MosquittoBroker, gateway_id: str) -> None:
        self.gateway_id = gateway_id
        self.seq = 0
        # Like a sensor sampled at 1 Hz: every reading later than the one before.
        self.clock = int(time.time() * 1000) - 60_000
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{gateway_id}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(*login(broker, gateway_id))
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def publish(self, payload: bytes | dict) -> None:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        info = self.client.publish(f"fp/v1/gw/{self.gateway_id}/telemetry", body, qos=1)
        info.wait_for_publish(timeout=10)

    def batch(self, device_id: str, values: list[dict[str, float]]) -> None:
        readings = []
        for m in values:
            self.clock += 1000
            readings.append({"dev": device_id, "ts": self.clock, "m": m})
        self.publish({"v": 1, "gw": self.gateway_id, "seq": self.seq,
                      "sent": int(time.time() * 1000), "readings": readings})
        self.seq += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _purifier(cloud: RunningCloud):
    return next(d for d in cloud.fleet.devices if d.model_id == "aquapure-ro500")


NORMAL = {"flow_lpm": 12.0, "tds_ppm": 25.0, "inlet_pressure_bar": 3.2, "filter_hours": 1200.0}


def test_threshold_crossing_becomes_one_alert_case_and_dispatched_work_order(cloud):
    device = _purifier(cloud)
    gw = HandMadeGateway(cloud.broker, device.gateway_id)
    engine = cloud.system.engine
    try:
        gw.batch(device.id, [NORMAL, NORMAL])
        # Many readings over the threshold, across several batches: still one alert.
        for _ in range(4):
            gw.batch(device.id, [{**NORMAL, "tds_ppm": 180.0 + i} for i in range(5)])

        def open_alerts():
            with Session(engine) as s:
                return s.exec(select(Alert).where(Alert.device_id == device.id)).all()

        wait_until(lambda: cloud.system.pipeline.stats.batches_stored >= 5, what="5 batches")
        alerts = open_alerts()
        assert [(a.rule_id, a.state, a.severity) for a in alerts] == [
            ("tds-high", "active", "critical")]

        with Session(engine) as s:
            cases = s.exec(select(Case).where(Case.device_id == device.id)).all()
            assert len(cases) == 1 and cases[0].alert_id == alerts[0].id
            audiences = {n.audience for n in s.exec(select(Notification))}
            assert audiences == {"owner", "supervisor", "customer"}

        def assigned_order():
            with Session(engine) as s:
                orders = s.exec(select(WorkOrder).where(WorkOrder.device_id == device.id)).all()
                return orders if orders and orders[0].engineer_id else None

        orders = wait_until(assigned_order, what="the work order to be dispatched")
        assert len(orders) == 1
        order = orders[0]
        assert order.status == "assigned" and order.eta is not None
        with Session(engine) as s:
            engineer = s.get(Engineer, order.engineer_id)
            assert "water-treatment" in engineer.skill_set()

        # Back to normal (below the clear level): the alert clears, no new one opens.
        gw.batch(device.id, [NORMAL, NORMAL])
        wait_until(lambda: all(a.state == "cleared" for a in open_alerts()),
                   what="the alert to clear")
        assert len(open_alerts()) == 1
    finally:
        gw.close()


def test_invalid_payload_is_dead_lettered_with_the_field_named(cloud):
    device = _purifier(cloud)
    gw = HandMadeGateway(cloud.broker, device.gateway_id)
    try:
        now = int(time.time() * 1000)
        gw.publish({"v": 1, "gw": device.gateway_id, "seq": 1, "sent": now,
                    "readings": [{"dev": device.id, "ts": "yesterday", "m": {"tds_ppm": 20}}]})
        gw.publish(b'{"v": 1, "gw": "truncated')
        gw.publish({"v": 1, "gw": device.gateway_id, "seq": 2, "sent": now,
                    "readings": [{"dev": device.id, "ts": now, "m": {"tds_ppm": 99999.0}}]})

        def letters():
            with Session(cloud.system.engine) as s:
                return s.exec(select(DeadLetter).order_by(DeadLetter.id)).all()

        rows = wait_until(lambda: len(letters()) >= 3 and letters(), what="3 dead letters")
        assert rows[0].field == "readings[0].ts" and "readings[0].ts" in rows[0].reason
        assert rows[1].field == "$" and "truncated" in rows[1].payload
        assert rows[2].field == "readings[0].m.tds_ppm" and "range" in rows[2].reason
        # The worker survived all of them and still stores good data.
        gw.batch(device.id, [NORMAL])
        wait_until(lambda: cloud.system.pipeline.stats.readings_stored >= 1, what="a good batch")
        stats = cloud.system.pipeline.stats.snapshot()
        assert stats["rejected_by_reason"] == {"contract": 2, "out_of_range": 1}
    finally:
        gw.close()


def test_edge_agent_streams_simulated_devices_into_the_store(cloud, tmp_path):
    gateway = cloud.fleet.gateways[0]
    devices = cloud.fleet.devices_of(gateway.id)
    username, password = login(cloud.broker, gateway.id)
    config = AgentConfig(gateway_id=gateway.id, state_dir=tmp_path / "edge",
                         broker_port=cloud.broker_port, username=username, password=password,
                         sample_period_s=0.2, batch_max_age_s=0.5)
    agent = EdgeAgent(config, SimulatedDriver(devices, MODELS, seed=1))
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,))
    thread.start()
    try:
        def latest_devices():
            with Session(cloud.system.engine) as s:
                return {row.device_id for row in s.exec(select(LatestValue))}

        wait_until(lambda: latest_devices() == {d.id for d in devices},
                   what="readings of every device")
        detail = wait_until(lambda: [d for d in _api_devices(cloud) if d["online"]],
                            what="devices shown online")
        assert {d["id"] for d in detail} == {d.id for d in devices}
    finally:
        stop.set()
        thread.join(timeout=10)
    # seq survives a restart: the next agent continues after the last batch it made.
    stored = cloud.system.pipeline.stats.batches_stored
    assert Outbox(tmp_path / "edge" / "outbox.sqlite3", 1 << 20).next_seq >= stored > 0


def _api_devices(cloud: RunningCloud) -> list[dict]:
    import httpx

    return httpx.get(f"{cloud.base_url}/api/devices", headers=cloud.auth, timeout=10).json()
