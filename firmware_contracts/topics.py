"""MQTT topic scheme of contract v1: fp/v1/gw/{gateway_id}/{kind}, with QoS and retain per kind."""

import re
from dataclasses import dataclass
from typing import Final, Literal

from firmware_contracts.errors import ContractError
from firmware_contracts.kinds import ID_PATTERN, Kind

PREFIX: Final = "fp/v1/gw"

_GATEWAY_ID = re.compile(ID_PATTERN.replace("$", r"\Z"))


@dataclass(frozen=True, slots=True)
class TopicSpec:
    kind: Kind
    suffix: str
    direction: Literal["gateway->cloud", "cloud->gateway"]
    qos: int
    # Retained topics hand the latest message to whoever subscribes later: a gateway's
    # presence to a restarted cloud, the current config to a rebooted gateway.
    retain: bool


TOPICS: Final[dict[Kind, TopicSpec]] = {
    spec.kind: spec
    for spec in (
        TopicSpec("telemetry", "telemetry", "gateway->cloud", qos=1, retain=False),
        TopicSpec("status", "status", "gateway->cloud", qos=1, retain=True),
        TopicSpec("config", "config", "cloud->gateway", qos=1, retain=True),
        # Not retained: a command must not run again when a gateway reconnects.
        TopicSpec("cmd", "cmd", "cloud->gateway", qos=1, retain=False),
        TopicSpec("cmd_ack", "cmd/ack", "gateway->cloud", qos=1, retain=False),
        # The cloud's word that telemetry batches are committed to its store (or kept as
        # dead letters): only then does the gateway delete them. Not retained: a gateway
        # that missed one sends the batch again, and the dedupe answers it once more.
        TopicSpec("ack", "ack", "cloud->gateway", qos=1, retain=False),
    )
}
_KIND_BY_SUFFIX: Final = {spec.suffix: spec.kind for spec in TOPICS.values()}

TELEMETRY_FILTER: Final = f"{PREFIX}/+/telemetry"
STATUS_FILTER: Final = f"{PREFIX}/+/status"
CMD_ACK_FILTER: Final = f"{PREFIX}/+/cmd/ack"


def topic_for(kind: Kind, gateway_id: str) -> str:
    """The topic of `kind` for one gateway; ContractError for an id that would break it."""
    # An id with "/", "+" or "#" would publish to, or subscribe to, other gateways' topics.
    if not _GATEWAY_ID.match(gateway_id):
        raise ContractError(kind, "gw", f"must match pattern {ID_PATTERN}")
    return f"{PREFIX}/{gateway_id}/{TOPICS[kind].suffix}"


def telemetry_topic(gateway_id: str) -> str:
    return topic_for("telemetry", gateway_id)


def status_topic(gateway_id: str) -> str:
    return topic_for("status", gateway_id)


def config_topic(gateway_id: str) -> str:
    return topic_for("config", gateway_id)


def cmd_topic(gateway_id: str) -> str:
    return topic_for("cmd", gateway_id)


def cmd_ack_topic(gateway_id: str) -> str:
    return topic_for("cmd_ack", gateway_id)


def ack_topic(gateway_id: str) -> str:
    return topic_for("ack", gateway_id)


def parse_topic(topic: str) -> tuple[str, Kind] | None:
    """`fp/v1/gw/gw-001/cmd/ack` -> ("gw-001", "cmd_ack"); None for any other topic."""
    if not topic.startswith(PREFIX + "/"):
        return None
    gateway_id, _, suffix = topic.removeprefix(PREFIX + "/").partition("/")
    kind = _KIND_BY_SUFFIX.get(suffix)
    if kind is None or not _GATEWAY_ID.match(gateway_id):
        return None
    return gateway_id, kind


def topic_problem(topic: str) -> ContractError | None:
    """Why a topic of our scheme cannot be parsed (`fp/v1/gw/gw.bad/telemetry`: the gateway
    id), so the cloud can dead-letter what a subscription's `+` let through; None for a
    valid topic or one outside the scheme."""
    if not topic.startswith(PREFIX + "/") or parse_topic(topic) is not None:
        return None
    gateway_id, _, suffix = topic.removeprefix(PREFIX + "/").partition("/")
    kind = _KIND_BY_SUFFIX.get(suffix)
    if kind is None:
        return None
    return ContractError(kind, "topic", f"gateway id {gateway_id!r} in the topic must match "
                         f"pattern {ID_PATTERN}")
