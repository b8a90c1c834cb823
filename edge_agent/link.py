"""The gateway's MQTT link: one thread owns the connection and publishes from the outbox.

- Reconnects with jittered exponential backoff (`backoff_delay`), so a fleet of
  gateways that lost the same broker does not come back in lockstep.
- A fresh paho client per connection: paho's own queue never holds anything
  that matters, the outbox is the only queue. After a reconnect, whatever was
  in flight is simply published again from the outbox (the cloud dedupes by seq).
- At most `inflight_window` batches (and `inflight_max_bytes`) are unconfirmed at
  once (`edge_agent.delivery_window`): memory stays flat whatever the backlog, the
  backlog leaves oldest first, and when the cloud's acks lag the link stops
  publishing (back-pressure) instead of filling the broker's queues.
- A batch leaves the outbox only when the cloud acks it on `fp/v1/gw/{id}/ack`,
  after its commit (`cloud_acks`; a broker's PUBACK is no proof of storage:
  Mosquitto drops for a full queue and loses what it held since its last
  autosave). Unacked after `ack_timeout_s`, it is published again. With
  `cloud_acks = false` (a cloud that does not ack yet) the PUBACK deletes it.
- A PUBACK with a failure reason code (MQTT 5; e.g. 0x87 not authorized) keeps
  the batch on disk, counted, and it is tried again later.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.config import AgentConfig
from edge_agent.delivery_window import DeliveryWindow
from edge_agent.outbox import Outbox, PendingBatch, envelope
from firmware_contracts.topics import (
    ack_topic,
    cmd_topic,
    config_topic,
    status_topic,
    telemetry_topic,
)
from firmware_contracts.validate import ContractError, load

log = logging.getLogger("fieldpulse.edge")

REFUSED_RETRY_S = 10.0  # a batch the broker refused is offered again after this long
# On a clean stop, keep sending this long; whatever is left stays in the outbox.
STOP_DRAIN_S = 3.0
# What the envelope adds to a batch's readings, about: enough to plan the window's bytes.
ENVELOPE_BYTES = 160


def backoff_delay(attempt: int, min_s: float, max_s: float,
                  rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: between half and all of min_s * 2**attempt, capped."""
    ceiling = min(max_s, min_s * 2 ** min(attempt, 30))
    return float(ceiling * (0.5 + 0.5 * rand()))


@dataclass(slots=True)
class LinkStats:
    connects: int = 0
    # No session: the broker unreachable, or its TLS certificate not one to trust.
    connect_failures: int = 0
    refused_connects: int = 0  # CONNACK failures: bad credentials, not authorized
    published: int = 0
    acked: int = 0  # PUBACKs from the broker
    confirmed: int = 0  # batches the cloud acked as committed (deleted on it)
    resent: int = 0  # published again: no ack from the cloud within ack_timeout_s
    foreign_acks: int = 0  # ack entries for a batch not ours (another epoch, not sent)
    bad_acks: int = 0  # ack messages that break the contract
    window_full: int = 0  # times the link held back because the window was full
    refused_batches: int = 0  # PUBACKs with a failure reason code
    control_dropped: int = 0  # acks/status that could not be queued while offline


class Link:
    def __init__(self, config: AgentConfig, outbox: Outbox,
                 status: Callable[[str], bytes],
                 on_message: Callable[[str, bytes], None],
                 rand: Callable[[], float] = random.random) -> None:
        self._config = config
        self._outbox = outbox
        self._status = status  # "online"/"offline" -> the status payload, built when sent
        self._on_message = on_message
        self._rand = rand
        self.connected = threading.Event()
        self.stats = LinkStats()
        # Acks to commands and status updates asked for by other threads.
        self._control: deque[tuple[str, bytes, bool]] = deque(maxlen=256)
        self._topic = telemetry_topic(config.gateway_id)
        self._ack_topic = ack_topic(config.gateway_id)
        self.window = DeliveryWindow(config.inflight_window, config.inflight_max_bytes,
                                     config.ack_timeout_s)
        self._reset_session()

    def _reset_session(self) -> None:
        # A new connection: nothing is in flight on it. Acks of the old one may be lost
        # (a clean session), so everything unconfirmed is published again.
        self.window.clear()
        self._inflight: dict[int, int] = {}  # paho mid -> batch seq, until its PUBACK
        self._acked: list[int] = []
        self._refused: dict[int, float] = {}  # seq -> monotonic time it may be retried
        self._seen_generation = -1
        self._more = True
        self._session_up = False
        self._next_status = 0.0

    # -- for other threads ---------------------------------------------------------

    def send_control(self, topic: str, payload: bytes, retain: bool = False) -> None:
        if len(self._control) == self._control.maxlen:
            self.stats.control_dropped += 1
        self._control.append((topic, payload, retain))

    def request_status(self) -> None:
        self._next_status = 0.0

    # -- the link thread -------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        attempt = 0
        endpoints = self._config.broker_endpoints()
        turn = 0
        while not stop.is_set():
            host, port = endpoints[turn % len(endpoints)]
            client = self._client()
            self._reset_session()
            try:
                if self._config.mqtt_version == "5":
                    client.connect(host, port, keepalive=self._config.keepalive_s,
                                   clean_start=True)
                else:  # 3.1.1: the clean session is set on the client
                    client.connect(host, port, keepalive=self._config.keepalive_s)
            except (OSError, ValueError) as exc:  # ssl.SSLError (a broker not trusted) too
                self.stats.connect_failures += 1
                log.warning("gateway %s cannot reach %s:%s: %s", self._config.gateway_id,
                            host, port, exc)
            else:
                try:
                    if self._serve(client, stop):
                        attempt = 0
                except Exception:  # the link must outlive any one connection's failure
                    log.exception("gateway %s: connection failed", self._config.gateway_id)
                    client.disconnect()
            self.connected.clear()
            if stop.is_set():
                break
            turn += 1  # the next node of a cluster; the back-off grows once per round
            delay = backoff_delay(attempt // len(endpoints), self._config.reconnect_min_s,
                                  self._config.reconnect_max_s, self._rand)
            attempt += 1
            log.info("gateway %s reconnects in %.1f s", self._config.gateway_id, delay)
            stop.wait(delay)

    def _client(self) -> mqtt.Client:
        cfg = self._config
        if cfg.mqtt_version == "5":
            client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                 client_id=f"edge-{cfg.gateway_id}", protocol=mqtt.MQTTv5)
        else:
            client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                 client_id=f"edge-{cfg.gateway_id}", protocol=mqtt.MQTTv311,
                                 clean_session=True)
        # Our window is the limit; paho's must not be smaller, or it would queue.
        client.max_inflight_messages_set(cfg.inflight_window + 16)
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password)
        if cfg.tls:
            client.tls_set(
                ca_certs=str(cfg.tls_ca_file) if cfg.tls_ca_file else None,
                certfile=str(cfg.tls_cert_file) if cfg.tls_cert_file else None,
                keyfile=str(cfg.tls_key_file) if cfg.tls_key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        client.will_set(status_topic(cfg.gateway_id), self._status("offline"), qos=1,
                        retain=True)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        client.on_message = self._on_message_cb
        return client

    def _serve(self, client: mqtt.Client, stop: threading.Event) -> bool:
        """Run one connection until it drops or `stop`; True if the broker accepted us."""
        while not stop.is_set():
            if client.loop(timeout=0.1) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                if self._session_up:
                    log.warning("gateway %s lost the broker", self._config.gateway_id)
                break
            if self._session_up:
                self._pump(client)
                self._send_control(client)
        else:
            self._goodbye(client)
        return self._session_up

    def _goodbye(self, client: mqtt.Client) -> None:
        """Clean stop: send what is left for a moment, then say offline ourselves (the
        broker does not send the will on a normal disconnect)."""
        if self._session_up:
            deadline = time.monotonic() + STOP_DRAIN_S
            # Answers given just before the stop (a reboot's) go out before we do.
            while self._control:
                topic, payload, retain = self._control.popleft()
                client.publish(topic, payload, qos=1, retain=retain)
            while time.monotonic() < deadline and (
                    self.window or self._outbox.backlog_readings > 0):
                if client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
                self._pump(client)
            if self._outbox.acknowledge(self._acked):
                self._acked = []
            info = client.publish(status_topic(self._config.gateway_id),
                                  self._status("offline"), qos=1, retain=True)
            while not info.is_published() and time.monotonic() < deadline + 1.0:
                if client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
        client.disconnect()

    # -- paho callbacks (run inside client.loop, on this thread) ------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: object, _flags: ConnectFlags,
                    reason_code: ReasonCode, _props: Properties | None) -> None:
        gw = self._config.gateway_id
        if reason_code.is_failure:
            self.stats.refused_connects += 1
            log.error("broker refused gateway %s: %s (check username/password)", gw, reason_code)
            return
        self.stats.connects += 1
        topics = [(config_topic(gw), 1), (cmd_topic(gw), 1)]
        if self._config.cloud_acks:
            topics.append((self._ack_topic, 1))
        client.subscribe(topics)
        # Birth first: the cloud learns backlog and evicted count before the data.
        client.publish(status_topic(gw), self._status("online"), qos=1, retain=True)
        self._next_status = time.monotonic() + self._config.status_interval_s
        self._session_up = True
        self.connected.set()
        log.info("gateway %s online, %d readings to send", gw, self._outbox.backlog_readings)

    def _on_publish(self, _client: mqtt.Client, _userdata: object, mid: int,
                    reason_code: ReasonCode, _props: Properties) -> None:
        seq = self._inflight.pop(mid, None)
        if seq is None:
            return  # a status or command ack
        if reason_code.is_failure:
            self.stats.refused_batches += 1
            self.window.discard(seq)
            self._refused[seq] = time.monotonic() + REFUSED_RETRY_S
            log.error("broker refused batch %d of gateway %s: %s; kept, retried later",
                      seq, self._config.gateway_id, reason_code)
            self._more = True
            return
        self.stats.acked += 1
        if not self._config.cloud_acks and self.window.discard(seq):
            self._acked.append(seq)
            self._more = True

    def _on_cloud_ack(self, payload: bytes) -> None:
        """The cloud committed these batches: they may leave the outbox. An entry counts only
        for a batch this outbox has unconfirmed under that very epoch (an ack for a lost
        outbox's batch, or a forged one, deletes nothing)."""
        try:
            doc = load("ack", payload)
        except ContractError as err:
            self.stats.bad_acks += 1
            log.error("gateway %s: invalid ack from the cloud: %s", self._config.gateway_id, err)
            return
        for entry in doc["acks"]:
            seq = entry["seq"]
            if entry.get("epoch") == self._outbox.epoch_of(seq) and self.window.discard(seq):
                self._acked.append(seq)
                self.stats.confirmed += 1
            else:
                self.stats.foreign_acks += 1
        self._more = True

    def _on_message_cb(self, _client: mqtt.Client, _userdata: object,
                       msg: mqtt.MQTTMessage) -> None:
        try:
            if msg.topic == self._ack_topic:
                self._on_cloud_ack(bytes(msg.payload))
                return
            self._on_message(msg.topic, bytes(msg.payload))
        except Exception:  # one bad message must not take the link down
            log.exception("gateway %s failed to handle a message on %s",
                          self._config.gateway_id, msg.topic)

    # -- publishing ------------------------------------------------------------------

    def _pump(self, client: mqtt.Client) -> None:
        try:
            self._publish_more(client)
        except sqlite3.OperationalError as exc:  # a full disk: the outbox makes room itself
            log.warning("gateway %s: outbox write failed (%s); retried", self._config.gateway_id,
                        exc)

    def _publish_more(self, client: mqtt.Client) -> None:
        if self._acked and self._outbox.acknowledge(self._acked):
            self._acked = []
        now = time.monotonic()
        self._refused = {s: t for s, t in self._refused.items() if t > now}
        overdue = self.window.overdue()
        if overdue:
            self.stats.resent += len(overdue)
            self._more = True
            log.warning("gateway %s: no ack from the cloud for %d batches in %.0f s; "
                        "sending them again", self._config.gateway_id, len(overdue),
                        self._config.ack_timeout_s)
        room = self.window.room()
        generation = self._outbox.generation
        if room <= 0:
            if self._more or generation != self._seen_generation:
                self.stats.window_full += 1  # batches wait on disk: back-pressure
            return
        if generation == self._seen_generation and not self._more:
            return
        skip = self.window.seqs() | set(self._refused)
        batches = self._outbox.next_batches(room, skip=skip)
        self._seen_generation, self._more = generation, len(batches) == room
        marked = self._outbox.mark_sent([b.seq for b in self._within_bytes(batches)])
        batches = [b for b in batches if b.seq in marked]
        if not batches:
            return
        sent_ms = int(time.time() * 1000)
        for batch in batches:
            payload = envelope(self._config.gateway_id, batch.seq, sent_ms, batch.body,
                               batch.epoch)
            info = client.publish(self._topic, payload, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._more = True
                break
            self._inflight[info.mid] = batch.seq
            self.window.add(batch.seq, len(payload))
            self.stats.published += 1

    def _within_bytes(self, batches: list[PendingBatch]) -> list[PendingBatch]:
        """The first of `batches` that fit the window's byte bound (at least one if the
        window is empty), so only batches really published are marked sent."""
        size, chosen = self.window.bytes, list[PendingBatch]()
        for batch in batches:
            if (chosen or len(self.window)) and size >= self.window.max_bytes:
                self._more = True
                break
            chosen.append(batch)
            size += len(batch.body) + ENVELOPE_BYTES
        return chosen

    def _send_control(self, client: mqtt.Client) -> None:
        while self._control:
            topic, payload, retain = self._control.popleft()
            client.publish(topic, payload, qos=1, retain=retain)
        if time.monotonic() >= self._next_status:
            client.publish(status_topic(self._config.gateway_id), self._status("online"),
                           qos=1, retain=True)
            self._next_status = time.monotonic() + self._config.status_interval_s
