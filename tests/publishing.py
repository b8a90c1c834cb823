"""Publishing telemetry as a gateway does, for tests that need readings through a real
broker: v1 batches, their topics, quiet and breaching values, a QoS 1 publisher."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from asset_registry.catalog import DeviceModel, quiet_values
from fieldpulse.broker import MosquittoBroker
from testing_support.broker_logins import login
from testing_support.cluster_rig import breaching_metrics  # noqa: F401  (tests import it here)


def normal_metrics(model: DeviceModel, wiggle: float = 0.0) -> dict[str, float]:
    """Values inside the ranges and clear of every threshold and band (plus a wiggle)."""
    return quiet_values(model, position=0.5 + wiggle)


def batch(gateway_id: str, seq: int, readings: list[dict[str, Any]], now: int | None = None
          ) -> bytes:
    now = now if now is not None else int(time.time() * 1000)
    return orjson.dumps({"v": 1, "gw": gateway_id, "seq": seq, "sent": now,
                         "readings": readings})


def topic(gateway_id: str, kind: str = "telemetry") -> str:
    return f"fp/v1/gw/{gateway_id}/{kind}"


class Publisher:
    """A gateway-side client that publishes QoS 1 and resends until the broker acks.

    Like the edge agent's outbox: a batch is only "sent" once PUBACKed, and a broker
    restart makes it publish the same (gateway, seq) again.
    """

    def __init__(self, broker: MosquittoBroker, client_id: str = "test-publisher") -> None:
        # Publishes for every gateway: a cloud account (fieldpulse-…), as the tests' own.
        user, password = login(broker, f"fieldpulse-{client_id}")
        self.port = broker.port
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user,
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, password)
        self.client.max_inflight_messages_set(200)
        self.client.reconnect_delay_set(0.1, 1)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def publish_all(self, messages: list[tuple[str, bytes]],
                    between: Callable[[int], None] = lambda i: None,
                    timeout_s: float = 60) -> None:
        pending: list[tuple[tuple[str, bytes], Any]] = []
        for i, message in enumerate(messages):
            between(i)
            pending.append((message, self.client.publish(*message, qos=1)))
            if len(pending) >= 100:
                pending = self._settle(pending, timeout_s)
        while pending:
            pending = self._settle(pending, timeout_s)

    def _settle(self, pending, timeout_s: float):
        """Wait for acks; resend whatever the broker did not acknowledge."""
        retry = []
        for message, info in pending:
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=timeout_s)
            if not info.is_published():
                time.sleep(0.2)
                retry.append((message, self.client.publish(*message, qos=1)))
        return retry

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
