"""Helpers for the edge agent tests: a driver that keeps a ledger, a recording subscriber.

The ledger is what makes "nothing lost" checkable across `kill -9`: the driver
writes each sample's timestamp to it *before* handing the readings to the agent,
so every ledger line but the very last one before a kill was accepted by the
agent, and must reach the cloud exactly once.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from asset_registry.catalog import load_models
from edge_agent.agent import EdgeAgent
from edge_agent.config import AgentConfig
from edge_agent.drivers import Reading
from fieldpulse.broker import MosquittoBroker
from testing_support.broker_logins import login
from testing_support.chaos_rig import normal_values  # noqa: F401 (the tests' one home for it)

MODELS = load_models()


class LedgerDriver:
    """Fixed values per device; `override` changes one device's values from now on."""

    def __init__(self, values: Mapping[str, Mapping[str, float]], ledger: Path | None = None
                 ) -> None:
        self._values = {dev: dict(m) for dev, m in values.items()}
        self._ledger = ledger.open("a") if ledger else None
        self.override: dict[str, dict[str, float]] = {}
        self.paused = False  # True: the devices answer nothing
        self.samples: list[int] = []

    def device_ids(self) -> list[str]:
        return list(self._values)

    def read(self, now_ms: int) -> list[Reading]:
        if self.paused:
            return []
        if self._ledger is not None:
            self._ledger.write(f"{now_ms}\n")
            self._ledger.flush()
        self.samples.append(now_ms)
        return [Reading(dev, now_ms, {**m, **self.override.get(dev, {})})
                for dev, m in self._values.items()]


def read_ledger(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


class Recorder:
    """A subscriber with a persistent session: every message on `filters`, in arrival order.

    It logs in as the cloud would, with an account of its own (`fieldpulse-{client_id}`),
    unless given `auth`."""

    def __init__(self, broker: MosquittoBroker, filters: list[str],
                 client_id: str = "test-recorder", auth: tuple[str, str] | None = None) -> None:
        auth = auth or login(broker, f"fieldpulse-{client_id}")
        port = broker.port
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._filters = filters
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(*auth)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise TimeoutError("recorder did not subscribe")

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if not reason_code.is_failure:
            client.subscribe([(f, 1) for f in self._filters])

    def _on_message(self, _client, _userdata, msg) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload))

    def on(self, suffix: str) -> list[dict]:
        with self._lock:
            return [orjson.loads(p) for t, p in self.messages if t.endswith(suffix) and p]

    def telemetry(self) -> list[dict]:
        return self.on("/telemetry")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def first_arrivals(batches: list[dict]) -> list[dict]:
    """Batches in arrival order, redeliveries (same seq) dropped: what ingest stores."""
    seen, out = set(), []
    for batch in batches:
        if batch["seq"] not in seen:
            seen.add(batch["seq"])
            out.append(batch)
    return out


def publish(broker: MosquittoBroker, topic: str, payload: bytes, retain: bool = False,
            auth: tuple[str, str] | None = None) -> None:
    """Publish as the cloud does (a cloud account), or as `auth`."""
    user, password = auth or login(broker, "fieldpulse-test-publish")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-pub-{time.time_ns()}",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def agent_config(tmp_path: Path, gateway_id: str, broker: MosquittoBroker | int,
                 cloud_acks: bool = False, **overrides) -> AgentConfig:
    """A gateway's config; on a broker, with the gateway's own account (or `overrides`).

    `cloud_acks`: a cloud runs and acks what it stored. Tests with a broker and no cloud
    keep the PUBACK behaviour (a cloud that does not ack), or nothing would ever leave."""
    login_as: dict[str, str] = {}
    if isinstance(broker, MosquittoBroker):
        user, password = login(broker, gateway_id)
        login_as = {"username": user, "password": password}
    port = broker.port if isinstance(broker, MosquittoBroker) else broker
    base = AgentConfig(gateway_id=gateway_id, state_dir=tmp_path / "edge", broker_port=port,
                       sample_period_s=0.1, batch_max_readings=20, batch_max_age_s=0.3,
                       reconnect_min_s=0.2, reconnect_max_s=1.0, status_interval_s=1.0,
                       cloud_acks=cloud_acks, **login_as)
    return replace(base, **overrides)


@contextmanager
def running(agent: EdgeAgent) -> Iterator[EdgeAgent]:
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), name="edge-agent-under-test")
    thread.start()
    try:
        yield agent
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the agent did not stop"


# -- a Modbus device: registers and the register map that reads them -------------------


def words(fmt: str, value: float) -> list[int]:
    raw = struct.pack(fmt, value)
    return [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]


INPUT = [4123, 65536 - 250]  # tds 412.3 (uint16 x 0.1), flow -2.5 (int16 x 0.01)
HOLDING = ([0] * 10 + words(">f", 3.25) + words(">I", 70000) + [0] * 6
           + list(reversed(words(">i", -5))))  # addresses 10, 12, 20 (little word order)

MAP = {
    "tds_ppm": {"table": "input", "address": 0, "type": "uint16", "scale": 0.1},
    "flow_lpm": {"table": "input", "address": 1, "type": "int16", "scale": 0.01},
    "pressure_bar": {"table": "holding", "address": 10, "type": "float32"},
    "filter_hours": {"table": "holding", "address": 12, "type": "uint32"},
    "temp_c": {"table": "holding", "address": 20, "type": "int32", "word_order": "little",
               "offset": 100},
}
