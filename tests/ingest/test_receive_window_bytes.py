"""Ingest's receive window is bounded in bytes as well as in messages: a few large batches
fill it long before `receive_maximum` messages would (issue: 10,000-reading batches took
ingest to 775 MB when the window was counted in messages only)."""

from __future__ import annotations

import time
from pathlib import Path

from ingest_helpers import MODELS, make_pipeline, open_registry
from publishing import Publisher, batch, normal_metrics, topic
from sqlalchemy import Connection, Engine

from fieldpulse.broker import MosquittoBroker
from foundations.workers import Supervisor
from ingest.consumer import ConsumerTuning, IngestConsumer
from ingest.telemetry_store import SqlTelemetryStore, StoredBatch
from simulators.fleet import Fleet
from support import wait_until
from testing_support.broker_logins import address


class SlowStore(SqlTelemetryStore):
    """The real SQL store, slowed down, noting what the consumer holds in its queue."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.consumer: IngestConsumer | None = None
        self.max_messages = self.max_bytes = 0

    def write(self, conn: Connection, batches: list[StoredBatch]) -> None:
        if self.consumer is not None:
            self.max_messages = max(self.max_messages, self.consumer._queue.qsize())
            self.max_bytes = max(self.max_bytes, self.consumer._queued_bytes)
        time.sleep(0.1)  # meanwhile the network thread fills the queue as far as allowed
        super().write(conn, batches)


def test_a_few_large_batches_fill_the_window_before_its_message_count_does(
        tmp_path: Path, mosquitto: MosquittoBroker, fleet: Fleet) -> None:
    engine = open_registry(f"sqlite:///{tmp_path / 'big.db'}", fleet)
    store = SlowStore(engine)
    pipeline = make_pipeline(engine, store)
    gw = fleet.gateways[0]
    device = fleet.devices_of(gw.id)[0]
    good = normal_metrics(MODELS[device.model_id])
    now = int(time.time() * 1000) - 3_600_000
    messages = [(topic(gw.id), batch(gw.id, seq, [
        {"dev": device.id, "ts": now + seq * 1000 + k, "m": good} for k in range(300)]))
        for seq in range(16)]
    size = max(len(payload) for _, payload in messages)
    # Room for two of these batches, in a window of 50 messages.
    tuning = ConsumerTuning(receive_maximum=50, group_messages=1, queue_bytes=size * 5 // 2)
    consumer = IngestConsumer(pipeline, address(mosquitto), tuning=tuning)
    store.consumer = consumer
    supervisor = Supervisor([consumer]).start()
    publisher = Publisher(mosquitto)
    try:
        wait_until(consumer.connected.is_set, what="ingest to subscribe")
        publisher.publish_all(messages)
        wait_until(lambda: pipeline.stats.batches_stored == len(messages), timeout_s=60,
                   what="every batch to be stored")
        assert 0 < store.max_bytes <= tuning.queue_bytes
        assert 1 <= store.max_messages <= 2 < tuning.receive_maximum
    finally:
        publisher.close()
        supervisor.stop()
        engine.dispose()
