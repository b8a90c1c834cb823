"""MQTT side of ingest: a persistent QoS 1 session, acknowledged after storing.

paho's network thread only enqueues; one worker thread takes whatever has
arrived (up to a group limit), runs it through the pipeline as one transaction,
then acknowledges each message (manual ack). Nothing is acknowledged before it
is committed, so a crash loses nothing: the broker redelivers the unacknowledged
messages to the persistent session and dedupe by (gateway, epoch, seq) skips what
was already stored. Then each gateway is told which of its batches are committed
(`ingest.acks`): only that lets it delete them from its outbox.

Flow control, two layers: the CONNECT packet's Receive Maximum asks the broker
to send at most that many unacknowledged QoS 1 messages, and the hand-off queue
holds at most that many. Mosquitto 2.0.11 stops honouring Receive Maximum once
acks flow (measured: 54 of 60 messages queued with a window of 10), so the
bounded queue is what holds: when storing is slow, the network thread waits on
it, stops reading the socket, TCP pushes back and the broker keeps the backlog
in the session (sized by its queue limits). Memory here is bounded by the
window, never by the backlog.

Horizontal scale: `Partition(index, count)` makes this worker own the gateways
whose CRC-32 of the id falls in its slot. Every worker subscribes to the same
filters under its own client id and acknowledges the others' messages unread,
so all readings of one gateway (hence of each of its devices) are evaluated by
one worker, in order. See ingest/README.md for the broker-cluster version.
"""

from __future__ import annotations

import gc
import logging
import queue
import ssl
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.client import ConnectFlags, DisconnectFlags
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from firmware_contracts.topics import STATUS_FILTER, TELEMETRY_FILTER, parse_topic
from foundations.workers import Life, Worker
from ingest.acks import ack_messages
from ingest.group_items import Outcome
from ingest.pipeline import IngestPipeline
from ingest.store_alone import store_alone

log = logging.getLogger("fieldpulse.ingest")

# The broker keeps the session (and queues QoS 1 messages) this long while
# ingest is down; past that it forgets it. Sized for a restart or an upgrade.
SESSION_EXPIRY_S = 3600


# Young-generation threshold of the cyclic garbage collector while ingest runs.
GC_YOUNG_THRESHOLD = 50_000


def relax_garbage_collector() -> None:
    """A group holds some 13,000 freshly decoded dicts and lists until it commits. With
    CPython's default threshold (700 allocations) the cyclic collector runs dozens of
    times per group and walks every survivor, a third of ingest's CPU (measured with
    `fieldpulse bench ingest`). Ingest's objects are freed by reference counting, not
    by the cycle collector, so running it every 50,000 allocations costs little memory;
    freezing what start-up built keeps full collections off the long-lived heap."""
    if gc.get_threshold()[0] < GC_YOUNG_THRESHOLD:
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and how to log in: the account, and TLS to verify the broker."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line
    tls: bool = False
    ca_file: Path | None = None  # None with tls: the system's CA certificates
    cert_file: Path | None = None  # a client certificate, if the broker asks for one
    key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class Partition:
    """This worker's share of the gateways: index in [0, count)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"partition index {self.index} not in [0, {self.count})")

    def owns(self, gateway_id: str) -> bool:
        return self.count == 1 or zlib.crc32(gateway_id.encode()) % self.count == self.index


def ingest_client_id(partition: Partition) -> str:
    """The consumer's MQTT client id, which keys its persistent session in the broker. A
    broker that takes the username as the client id needs an account of this name."""
    return ("fieldpulse-ingest" if partition.count == 1
            else f"fieldpulse-ingest-{partition.index}of{partition.count}")


@dataclass(frozen=True, slots=True)
class ConsumerTuning:
    # Unacknowledged messages the broker may send us (MQTT 5 Receive Maximum).
    receive_maximum: int = 400
    # Payload bytes the hand-off queue holds at most (beside `receive_maximum` messages):
    # 400 batches of 10,000 readings would otherwise be gigabytes in memory.
    queue_bytes: int = 64 * 1024 * 1024
    # One transaction takes at most this many messages / payload bytes.
    group_messages: int = 64
    group_bytes: int = 4 * 1024 * 1024
    # A message that fails alone this many times is dead-lettered as an ingest error.
    attempts: int = 3
    retry_backoff_s: float = 0.5
    # Ack each committed batch to its gateway (`ingest.acks`). Off only to measure what the
    # acks cost (`fieldpulse bench ingest`): gateways with `cloud_acks` would re-send forever.
    acknowledge_gateways: bool = True


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int  # connection it arrived on: a mid is only valid there
    dup: bool = False  # the broker says it may have sent this before (MQTT DUP flag)


class IngestConsumer(Worker):
    """The `ingest` worker: paho's network thread fills the hand-off queue; `run` takes
    groups from it, stores them, then acknowledges them."""

    name = "ingest"
    # A group that takes this long is a stuck store (a lock, a dead connection).
    stall_after_s = 120.0

    def __init__(
        self,
        pipeline: IngestPipeline,
        broker: BrokerAddress,
        client_id: str = "fieldpulse-ingest",
        partition: Partition = Partition(),
        tuning: ConsumerTuning = ConsumerTuning(),
    ) -> None:
        super().__init__()
        self._pipeline = pipeline
        self._broker = broker
        self._partition = partition
        self._tuning = tuning
        self._queue: queue.Queue[_Message] = queue.Queue(maxsize=tuning.receive_maximum)
        self._queued_bytes = 0  # payload bytes in the queue, under `_room`
        self._room = threading.Condition()
        self._stopping = threading.Event()
        self._generation = 0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self._client.tls_set(
                ca_certs=str(broker.ca_file) if broker.ca_file else None,
                certfile=str(broker.cert_file) if broker.cert_file else None,
                keyfile=str(broker.key_file) if broker.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,  # and paho checks the host name
            )
        # paho declares int seconds but waits fractions as well: retry fast after a blip.
        self._client.reconnect_delay_set(min_delay=0.2, max_delay=5)  # type: ignore[arg-type]
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self.connected = threading.Event()

    def setup(self) -> None:
        relax_garbage_collector()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho's
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = self._tuning.receive_maximum
        self._client.connect_async(
            self._broker.host, self._broker.port, keepalive=30,
            clean_start=False, properties=props,
        )
        self._client.loop_start()

    def interrupt(self) -> None:
        """Finish the group in hand, ack it, leave the rest to the broker's session."""
        self._stopping.set()
        super().interrupt()

    def teardown(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho callbacks (network thread) -------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: object, flags: ConnectFlags,
                    reason_code: ReasonCode, _props: Properties | None) -> None:
        if reason_code.is_failure:
            log.error("event=connect_refused reason=%s user=%s (check the broker account "
                      "and password)", reason_code, self._broker.username)
            return
        self._generation += 1
        client.subscribe([(TELEMETRY_FILTER, 1), (STATUS_FILTER, 1)])
        log.info("event=connected broker=%s:%s session_present=%s partition=%s/%s",
                 self._broker.host, self._broker.port, flags.session_present,
                 self._partition.index, self._partition.count)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: object, _mid: int,
                      reason_codes: list[ReasonCode], _props: Properties) -> None:
        # "Connected" means ready to receive: set only once the broker granted
        # the subscriptions, so nothing published after it can be missed.
        if all(not rc.is_failure for rc in reason_codes):
            self.connected.set()
        else:
            log.error("event=subscribe_refused reasons=%s", reason_codes)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: object, _flags: DisconnectFlags,
                       reason_code: ReasonCode, _props: Properties | None) -> None:
        self.connected.clear()
        level = logging.WARNING if reason_code.is_failure else logging.INFO
        log.log(level, "event=disconnected reason=%s", reason_code)

    def _on_message(self, client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage
                    ) -> None:
        parsed = parse_topic(msg.topic)
        if parsed is not None and not self._partition.owns(parsed[0]):
            if msg.qos > 0:
                client.ack(msg.mid, msg.qos)  # another worker owns this gateway
            return
        item = _Message(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self._generation,
                        bool(msg.dup))
        # Bounded in bytes too: wait (the network thread stops reading, TCP pushes back)
        # until the worker has taken enough; a message alone always fits.
        with self._room:
            while (self._queued_bytes and self._queued_bytes + len(item.payload)
                   > self._tuning.queue_bytes and not self._stopping.is_set()):
                self._room.wait(0.2)
            self._queued_bytes += len(item.payload)
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue  # the worker is behind; the broker's window holds the rest

    # -- worker ----------------------------------------------------------------

    def _next_group(self) -> list[_Message] | None:
        try:
            first = self._queue.get(timeout=0.2)
        except queue.Empty:
            return None
        group, size = [first], len(first.payload)
        while len(group) < self._tuning.group_messages and size < self._tuning.group_bytes:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                break
            group.append(msg)
            size += len(msg.payload)
        with self._room:
            self._queued_bytes -= size
            self._room.notify_all()
        return group

    def run(self, life: Life) -> None:
        while not self._stopping.is_set():
            life.beat()
            group = self._next_group()
            if group is not None and not self._process(group):
                return  # stopping while storage fails: the session keeps the rest

    def _process(self, group: list[_Message]) -> bool:
        try:
            outcomes = self._pipeline.handle_many(
                [(m.topic, m.payload) for m in group],
                redelivered={i for i, m in enumerate(group) if m.dup})
        except Exception:
            log.exception("event=group_failed messages=%d; retrying one by one", len(group))
            for msg in group:
                outcome = self._process_alone(msg)
                if outcome is None:
                    return False
                self._ack(msg)
                self._acknowledge_to_gateways([outcome])
            return True
        for msg in group:
            self._ack(msg)
        self._acknowledge_to_gateways(outcomes)
        return True

    def _process_alone(self, msg: _Message) -> Outcome | None:
        return store_alone(self._pipeline, msg.topic, msg.payload, self._tuning.attempts,
                           self._tuning.retry_backoff_s, self._stopping)

    def _acknowledge_to_gateways(self, outcomes: list[Outcome]) -> None:
        """After the commit: tell each gateway which of its batches it may delete. An ack
        lost on the way (we crash, the broker drops it) only makes the gateway send the
        batch again, and the dedupe acks it again."""
        if not self._tuning.acknowledge_gateways:
            return
        for topic, payload in ack_messages(outcomes):
            self._client.publish(topic, payload, qos=1)
            self._pipeline.stats.count_acks(payload.count(b'"seq"'))

    def _ack(self, msg: _Message) -> None:
        # A message from an earlier connection is redelivered on this one; its old mid
        # means nothing now. The redelivered copy is acked after it dedupes.
        if msg.qos > 0 and msg.generation == self._generation:
            self._client.ack(msg.mid, msg.qos)
