"""What the engine promises the gateways, measured on a real 3-node cluster: a QoS 1
PUBACK means the batch is stored on a majority, so killing the node that acked it
(here also the leader of the stream) loses nothing."""

from __future__ import annotations

import asyncio
import time

import nats
import paho.mqtt.client as mqtt
from nats.errors import TimeoutError as NatsTimeout
from paho.mqtt.enums import CallbackAPIVersion

from ingest.jetstream import MQTT_STREAM, JetStreamTuning, consumer_name, ensure_consumers
from testing_support.nats_cluster import NatsCluster

TUNING = JetStreamTuning(partitions=16)


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _stream_leader(cluster: NatsCluster) -> str:
    nc = await nats.connect(cluster.urls)
    js = nc.jetstream()
    await ensure_consumers(js, TUNING)
    info = await js.stream_info(MQTT_STREAM)
    await nc.close()
    assert info.cluster is not None and info.cluster.leader
    assert info.config.num_replicas == 3
    return info.cluster.leader


async def _drain(cluster: NatsCluster, expected: int) -> list[bytes]:
    """Every message the partitions' consumers hold, read from the surviving nodes. Right
    after the kill the stream and its consumers elect new leaders: an empty fetch then
    means "not yet", so the partitions are read again until `expected` arrived or 60 s."""
    nc = await nats.connect([n.url for n in cluster.nodes if n.running])
    js = nc.jetstream(timeout=10)
    got: list[bytes] = []
    subs = {}
    deadline = time.monotonic() + 60
    while len(got) < expected and time.monotonic() < deadline:
        for p in range(TUNING.partitions):
            try:
                if p not in subs:
                    subs[p] = await js.pull_subscribe_bind(consumer_name(p), stream=MQTT_STREAM)
                msgs = await subs[p].fetch(200, timeout=0.5)
            except (NatsTimeout, TimeoutError):
                continue
            for m in msgs:
                got.append(m.data)
                await m.ack()
    await nc.close()
    return got


def test_a_batch_acked_by_a_node_survives_that_node_killed(nats_cluster: NatsCluster) -> None:
    leader = _run(_stream_leader(nats_cluster))
    node = next(i for i, n in enumerate(nats_cluster.nodes) if n.name == leader)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="gw-puback",
                         protocol=mqtt.MQTTv311, clean_session=True)
    client.connect("127.0.0.1", nats_cluster.nodes[node].mqtt_port)
    client.loop_start()
    sent = [b'{"n":%d}' % i for i in range(300)]
    infos = [client.publish(f"fp/v1/gw/gw-{i % 7}/telemetry", body, qos=1)
             for i, body in enumerate(sent)]
    for info in infos:
        info.wait_for_publish(timeout=30)
        assert info.is_published()  # PUBACK received
    nats_cluster.kill(node)  # at once after the last PUBACK: no time to replicate later
    client.loop_stop()

    got = _run(_drain(nats_cluster, len(sent)))

    assert sorted(got) == sorted(sent)
