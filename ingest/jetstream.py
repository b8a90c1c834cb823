"""Ingest from a NATS JetStream cluster: gateways speak MQTT to any node, workers come and go.

How a batch travels (measured, ingest/README.md "Cluster"):

1. A gateway publishes QoS 1 on `fp/v1/gw/{gw}/telemetry` to any node's MQTT listener.
   The engine's subject mapping (`engine_mappings`) rewrites the subject to
   `fpin.{partition}.{gw}.telemetry`, the partition a hash of the gateway id, and the
   MQTT layer stores the message in its replicated `$MQTT_msgs` stream before the PUBACK.
2. Each partition is a durable pull consumer on that stream, filtered to the partition.
   The stream keeps messages while a consumer has not acked them (interest retention).
3. A worker owns a partition while it holds that partition's PostgreSQL advisory lease
   (`foundations.leases`): one worker at a time, so a gateway's batches are stored in
   order by one process. Workers take a fair share (partitions / live workers) and give
   surplus back between groups, so a joining worker gets work within a rebalance; a
   killed worker's leases end with its database connection and the others take them.
4. A group of messages goes through the same `IngestPipeline` as the MQTT consumer, one
   transaction; only after the commit is each message acked to JetStream and each
   gateway told which batches are stored (`ingest.acks`). A crash before the ack makes
   JetStream redeliver after `ack_wait`, and dedupe on (gateway, epoch, seq) finds it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from foundations.leases import AdvisoryLeases, LeaseLost
from foundations.workers import Life, Worker
from ingest.acks import ack_messages
from ingest.consumer import relax_garbage_collector
from ingest.group_items import Outcome
from ingest.pipeline import IngestPipeline
from ingest.store_alone import store_alone

log = logging.getLogger("fieldpulse.ingest")

# The stream NATS' MQTT layer stores QoS 1 messages in (replicated as its `mqtt` block's
# `stream_replicas` says); its subjects are `$MQTT.msgs.` + the NATS form of the topic.
MQTT_STREAM = "$MQTT_msgs"
MQTT_PREFIX = "$MQTT.msgs."
INGEST_SUBJECT = "fpin"
# Advisory-lock space of the ingest partitions' leases (any int32 no other lease uses).
LEASE_SPACE = 0x46_50_49_4E  # "FPIN"
LEASE_GROUP = "fieldpulse-ingest-js"


def engine_mappings(partitions: int) -> str:
    """The `mappings` block of every engine node's configuration: telemetry and status
    go to `fpin.{partition}.{gw}.{kind}`, the partition a hash of the gateway id (NATS'
    `partition` function, stable across nodes). Ack and command topics stay as they are."""
    kinds = ("telemetry", "status")
    lines = [f'  "fp.v1.gw.*.{k}": "{INGEST_SUBJECT}.{{{{partition({partitions},1)}}}}'
             f'.{{{{wildcard(1)}}}}.{k}"' for k in kinds]
    return "mappings = {\n" + "\n".join(lines) + "\n}\n"


def consumer_name(partition: int) -> str:
    return f"fp-ingest-p{partition}"


def mqtt_topic(subject: str) -> str:
    """`$MQTT.msgs.fpin.3.gw-1.telemetry` -> `fp/v1/gw/gw-1/telemetry` (NATS writes an
    MQTT `.` as `//`); any other subject is passed on to be refused as a topic."""
    rest = subject.removeprefix(MQTT_PREFIX)
    tokens = rest.replace("//", "\x00").split(".")
    if len(tokens) == 4 and tokens[0] == INGEST_SUBJECT:
        return f"fp/v1/gw/{tokens[2]}/{tokens[3]}".replace("\x00", ".")
    return rest.replace("//", "\x00").replace(".", "/").replace("\x00", ".")


def nats_subject(topic: str) -> str:
    """The NATS subject an MQTT subscriber of `topic` listens on."""
    return ".".join(level.replace(".", "//") for level in topic.split("/"))


@dataclass(frozen=True, slots=True)
class JetStreamTuning:
    partitions: int = 16  # as many as `engine_mappings` was configured with
    group_messages: int = 64
    # A delivered message not acked this long is delivered again (a dead worker's).
    ack_wait_s: float = 6.0
    max_ack_pending: int = 1024
    # How often leases are checked and the fair share taken or given back.
    rebalance_s: float = 1.0
    # An idle partition's pull waits this long before the next partition is asked.
    idle_fetch_s: float = 0.05
    attempts: int = 3
    retry_backoff_s: float = 0.5
    acknowledge_gateways: bool = True


async def ensure_consumers(js: JetStreamContext, tuning: JetStreamTuning) -> None:
    """The partitions' durable consumers, created before any gateway publishes: with
    interest retention a message that no consumer's filter covers is not kept."""
    for p in range(tuning.partitions):
        await js.add_consumer(MQTT_STREAM, ConsumerConfig(
            durable_name=consumer_name(p),
            filter_subject=f"{MQTT_PREFIX}{INGEST_SUBJECT}.{p}.>",
            ack_policy=AckPolicy.EXPLICIT, ack_wait=tuning.ack_wait_s,
            max_ack_pending=tuning.max_ack_pending, max_deliver=-1))


class JetStreamIngest(Worker):
    """The `ingest` worker of a cluster: the partitions it leases, stored and acked."""

    name = "ingest"
    stall_after_s = 120.0

    def __init__(self, pipeline: IngestPipeline, servers: Sequence[str],
                 leases: AdvisoryLeases, tuning: JetStreamTuning = JetStreamTuning(),
                 on_partitions_taken: Callable[[], object] | None = None) -> None:
        """`on_partitions_taken`: called (between groups) after this worker took partitions
        from another; the rules reload which alerts are open (`RulesService.resync_alerts`)."""
        super().__init__()
        self._on_taken = on_partitions_taken
        self._pipeline = pipeline
        self._servers = list(servers)
        self._leases = leases
        self._tuning = tuning
        self._stopping = threading.Event()
        self._ready_at: dict[int, float] = {}  # partition -> when it may be fetched
        self._next_rebalance = 0.0
        self.connected = threading.Event()
        self.owned: frozenset[int] = frozenset()  # partitions leased now (for tests, /metrics)

    def setup(self) -> None:
        relax_garbage_collector()

    def interrupt(self) -> None:
        self._stopping.set()
        super().interrupt()

    def teardown(self) -> None:
        self._leases.close()
        self.owned = frozenset()

    def run(self, life: Life) -> None:
        asyncio.run(self._main(life))

    async def _main(self, life: Life) -> None:
        nc = await nats.connect(servers=self._servers, max_reconnect_attempts=-1,
                                reconnect_time_wait=0.25, connect_timeout=2,
                                name="fieldpulse-ingest")
        try:
            js = nc.jetstream(timeout=5)
            await self._wait_for_stream(js, life)
            await ensure_consumers(js, self._tuning)
            subs = {p: await js.pull_subscribe_bind(consumer_name(p), stream=MQTT_STREAM)
                    for p in range(self._tuning.partitions)}
            await self._rebalance(js)
            self.connected.set()
            while not self._stopping.is_set():
                life.beat()
                if time.monotonic() >= self._next_rebalance:
                    await nc.flush()  # our acks reach the engine before a lease is given up
                    await self._rebalance(js)
                owned = [p for p in sorted(self.owned)
                         if self._ready_at.get(p, 0) <= time.monotonic()]
                if not owned:
                    await asyncio.sleep(0.1)
                    continue
                fetched = await self._fetch_round(subs, owned)
                size = self._tuning.group_messages
                for i in range(0, len(fetched), size):  # each partition's messages in order
                    if not await self._process(nc, fetched[i:i + size]):
                        return
        finally:
            self.connected.clear()
            await nc.close()

    async def _wait_for_stream(self, js: JetStreamContext, life: Life) -> None:
        """The MQTT layer creates its stream when the first MQTT client connects (the
        cluster's start-up does that before the gateways are let in)."""
        while not self._stopping.is_set():
            try:
                await js.stream_info(MQTT_STREAM)
                return
            except NotFoundError:
                log.info("event=waiting_for_stream stream=%s", MQTT_STREAM)
                life.wait(1.0)

    async def _fetch_round(self, subs: dict[int, JetStreamContext.PullSubscription],
                           owned: list[int]) -> list[Msg]:
        """Up to a group from every owned partition, asked at once: a busy partition
        answers at once, an idle one after `idle_fetch_s`, so a round costs the longest
        wait, not the sum of them (asked one after the other, 16 mostly idle partitions
        held ingest to ~100 batches/s)."""
        async def one(p: int) -> list[Msg]:
            try:
                return await subs[p].fetch(self._tuning.group_messages,
                                           timeout=self._tuning.idle_fetch_s)
            except (NatsTimeout, TimeoutError):  # nats-py raises either when idle
                return []
        rounds = await asyncio.gather(*(one(p) for p in owned))
        return [m for msgs in rounds for m in msgs]

    async def _rebalance(self, js: JetStreamContext) -> None:
        """Hold a fair share of the partitions: give surplus back, take free ones."""
        self._next_rebalance = time.monotonic() + self._tuning.rebalance_s
        leases = self._leases
        try:
            fair = math.ceil(self._tuning.partitions / leases.members())
            for p in sorted(leases.held, reverse=True)[:max(0, len(leases.held) - fair)]:
                leases.give_up(p)
                log.info("event=partition_given_up partition=%d", p)
            taken = []
            for p in range(self._tuning.partitions):
                if len(leases.held) >= fair:
                    break
                if p not in leases.held and leases.try_take(p):
                    taken.append(p)
            # Asked together: an engine still electing a consumer's leader delays one answer
            # by the timeout, not every later partition's take-over by it.
            await asyncio.gather(*(self._taken(js, p) for p in taken))
            if taken and self._on_taken is not None:
                await asyncio.to_thread(self._on_taken)
        except LeaseLost as exc:
            log.warning("event=leases_lost error=%s (every partition dropped)", exc)
        self.owned = frozenset(leases.held)

    async def _taken(self, js: JetStreamContext, p: int) -> None:
        """A partition taken over with messages delivered to its last owner and never
        acked waits out `ack_wait`, so they are delivered again before newer ones."""
        try:
            info = await js.consumer_info(MQTT_STREAM, consumer_name(p), timeout=1.0)
            pending = info.num_ack_pending or 0
        except Exception as exc:  # the engine between leaders or nodes: assume the worst
            log.warning("event=consumer_info_failed partition=%d error=%r", p, exc)
            pending = -1
        self._ready_at[p] = time.monotonic() + (self._tuning.ack_wait_s + 0.5 if pending
                                                 else 0.0)
        log.info("event=partition_taken partition=%d unacked_from_before=%d", p, pending)

    async def _process(self, nc: NatsClient, group: list[Msg]) -> bool:
        topics = [(mqtt_topic(m.subject), m.data) for m in group]
        redelivered = {i for i, m in enumerate(group) if m.metadata.num_delivered > 1}
        try:
            outcomes = await asyncio.to_thread(self._pipeline.handle_many, topics, redelivered)
        except Exception:
            log.exception("event=group_failed messages=%d; retrying one by one", len(group))
            outcomes = []
            for (topic, payload), msg in zip(topics, group, strict=True):
                outcome = await asyncio.to_thread(
                    store_alone, self._pipeline, topic, payload, self._tuning.attempts,
                    self._tuning.retry_backoff_s, self._stopping)
                if outcome is None:
                    return False  # stopping while storing fails: JetStream keeps the rest
                await msg.ack()
                outcomes.append(outcome)
        else:
            for msg in group:
                await msg.ack()
        await self._acknowledge_to_gateways(nc, outcomes)
        return True

    async def _acknowledge_to_gateways(self, nc: NatsClient, outcomes: list[Outcome]) -> None:
        """Core NATS: a gateway's MQTT subscription gets it at QoS 0. One it misses (it was
        between two nodes) makes it send the batch again, and that copy is acked again."""
        if not self._tuning.acknowledge_gateways:
            return
        for topic, payload in ack_messages(outcomes):
            await nc.publish(nats_subject(topic), payload)
            self._pipeline.stats.count_acks(payload.count(b'"seq"'))
