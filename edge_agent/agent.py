"""The gateway process: sample the driver, batch readings, publish with QoS 1.

Announces itself with a retained birth message and leaves an MQTT last will
(retained "offline") so the cloud knows when the gateway drops off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config import AgentConfig
from edge_agent.drivers import Driver, Reading
from edge_agent.sequence import SequenceCounter
from firmware_contracts.topics import status_topic, telemetry_topic

log = logging.getLogger("fieldpulse.edge")


def _status(config: AgentConfig, state: str, ts: int, devices: list[str] | None = None) -> bytes:
    doc: dict = {"v": 1, "gw": config.gateway_id, "state": state, "ts": ts, "fw": config.firmware}
    if devices is not None:
        doc["devices"] = devices
    return orjson.dumps(doc)


class EdgeAgent:
    def __init__(
        self, config: AgentConfig, driver: Driver, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self._driver = driver
        self._clock = clock
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self._seq = SequenceCounter(config.state_dir / "seq")
        self._buffer: list[Reading] = []
        self._batch_opened = 0.0
        self.published_batches = 0
        self.connected = threading.Event()
        self._client = self._make_client()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _make_client(self) -> mqtt.Client:
        cfg = self.config
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-{cfg.gateway_id}",
                             protocol=mqtt.MQTTv5)
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password)
        client.will_set(status_topic(cfg.gateway_id), _status(cfg, "offline", self._now_ms()),
                        qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.error("broker refused gateway %s: %s", self.config.gateway_id, reason_code)
            return
        birth = _status(self.config, "online", self._now_ms(), self._driver.device_ids())
        client.publish(status_topic(self.config.gateway_id), birth, qos=1, retain=True)
        self.connected.set()
        log.info("gateway %s online", self.config.gateway_id)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self.connected.clear()
        log.warning("gateway %s disconnected: %s", self.config.gateway_id, reason_code)

    # -- batching ---------------------------------------------------------------

    def sample(self) -> None:
        readings = self._driver.read(self._now_ms())
        if readings and not self._buffer:
            self._batch_opened = self._clock()
        self._buffer.extend(readings)

    def batch_due(self) -> bool:
        if not self._buffer:
            return False
        age = self._clock() - self._batch_opened
        return len(self._buffer) >= self.config.batch_max_readings or (
            age >= self.config.batch_max_age_s
        )

    def flush(self) -> None:
        while self._buffer:
            chunk = self._buffer[: self.config.batch_max_readings]
            del self._buffer[: len(chunk)]
            payload = orjson.dumps({
                "v": 1, "gw": self.config.gateway_id, "seq": self._seq.take(),
                "sent": self._now_ms(),
                "readings": [{"dev": r.dev, "ts": r.ts, "m": r.m} for r in chunk],
            })
            self._client.publish(telemetry_topic(self.config.gateway_id), payload, qos=1)
            self.published_batches += 1

    # -- life cycle -------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        cfg = self.config
        self._client.connect_async(cfg.broker_host, cfg.broker_port, keepalive=30)
        self._client.loop_start()
        next_sample = time.monotonic()
        try:
            while not stop.is_set():
                self.sample()
                if self.batch_due():
                    self.flush()
                next_sample += cfg.sample_period_s
                stop.wait(max(0.0, next_sample - time.monotonic()))
        finally:
            self.flush()
            # A clean goodbye: the broker does not send the will on a normal
            # disconnect, so say "offline" ourselves.
            info = self._client.publish(status_topic(cfg.gateway_id),
                                        _status(cfg, "offline", self._now_ms()),
                                        qos=1, retain=True)
            if self.connected.is_set():
                info.wait_for_publish(timeout=5)
            self._client.disconnect()
            self._client.loop_stop()
