"""MQTT side of ingest: a persistent QoS 1 session, acknowledged after storing.

paho's network thread only enqueues; one worker thread runs the pipeline and
then acknowledges (manual ack). The queue is bounded, so when storing is slow
the network thread blocks, the broker's in-flight window fills and the broker
holds the rest: backpressure instead of memory growth.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware_contracts.topics import STATUS_FILTER, TELEMETRY_FILTER
from ingest.pipeline import IngestPipeline

log = logging.getLogger("fieldpulse.ingest")

# The broker keeps the session (and queues QoS 1 messages) this long while
# ingest is down; past that it forgets it. Sized for a restart or an upgrade.
SESSION_EXPIRY_S = 3600


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int


class IngestConsumer:
    def __init__(
        self,
        pipeline: IngestPipeline,
        broker: BrokerAddress,
        client_id: str = "fieldpulse-ingest",
        queue_size: int = 256,
    ) -> None:
        self._pipeline = pipeline
        self._broker = broker
        self._queue: queue.Queue[_Message | None] = queue.Queue(maxsize=queue_size)
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._worker = threading.Thread(target=self._work, name="ingest-worker", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self._worker.start()
        self._client.connect_async(
            self._broker.host, self._broker.port, keepalive=30,
            clean_start=False, properties=props,
        )
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._queue.put(None)
        self._worker.join(timeout=10)

    # -- paho callbacks (network thread) -------------------------------------------

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.error("broker refused ingest: %s", reason_code)
            return
        client.subscribe([(TELEMETRY_FILTER, 1), (STATUS_FILTER, 1)])
        log.info("ingest connected to %s:%s", self._broker.host, self._broker.port)

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _props) -> None:
        # "Connected" means ready to receive: set only once the broker granted
        # the subscriptions, so nothing published after it can be missed.
        if all(not rc.is_failure for rc in reason_codes):
            self.connected.set()
        else:
            log.error("broker refused ingest's subscriptions: %s", reason_codes)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _props) -> None:
        self.connected.clear()
        log.warning("ingest disconnected: %s", reason_code)

    def _on_message(self, _client, _userdata, msg: mqtt.MQTTMessage) -> None:
        self._queue.put(_Message(msg.topic, msg.payload, msg.mid, msg.qos))

    # -- worker ----------------------------------------------------------------

    def _work(self) -> None:
        while (msg := self._queue.get()) is not None:
            try:
                self._pipeline.handle(msg.topic, msg.payload)
            except Exception:
                # Not acknowledged: the broker redelivers it after a reconnect,
                # and dedupe makes that safe. One bad message never stops the loop.
                log.exception("failed to ingest a message on %s", msg.topic)
                continue
            if msg.qos > 0:
                self._client.ack(msg.mid, msg.qos)
