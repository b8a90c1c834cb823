"""Topic scheme fp/v1/gw/{gateway_id}/{kind}: building, parsing, QoS and retain."""

import pytest

from firmware_contracts.errors import ContractError
from firmware_contracts.kinds import KINDS, Kind
from firmware_contracts.topics import (
    CMD_ACK_FILTER,
    PREFIX,
    STATUS_FILTER,
    TELEMETRY_FILTER,
    TOPICS,
    cmd_ack_topic,
    cmd_topic,
    config_topic,
    parse_topic,
    status_topic,
    telemetry_topic,
    topic_for,
)

GATEWAYS = ["gw-001", "G", "plant_7-north", "0" * 64]


def mqtt_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching for the + wildcard, enough to check our filters."""
    wanted, levels = topic_filter.split("/"), topic.split("/")
    if len(wanted) != len(levels):
        return False
    return all(want in ("+", level) for want, level in zip(wanted, levels, strict=True))


def test_named_builders() -> None:
    assert telemetry_topic("gw-001") == "fp/v1/gw/gw-001/telemetry"
    assert status_topic("gw-001") == "fp/v1/gw/gw-001/status"
    assert config_topic("gw-001") == "fp/v1/gw/gw-001/config"
    assert cmd_topic("gw-001") == "fp/v1/gw/gw-001/cmd"
    assert cmd_ack_topic("gw-001") == "fp/v1/gw/gw-001/cmd/ack"


@pytest.mark.parametrize("gateway_id", GATEWAYS)
@pytest.mark.parametrize("kind", KINDS)
def test_topics_round_trip(kind: Kind, gateway_id: str) -> None:
    topic = topic_for(kind, gateway_id)
    assert topic.startswith(PREFIX + "/")
    assert parse_topic(topic) == (gateway_id, kind)


def test_subscription_filters_match_their_topics_only() -> None:
    assert TELEMETRY_FILTER == "fp/v1/gw/+/telemetry"
    assert STATUS_FILTER == "fp/v1/gw/+/status"
    for topic_filter, kind in [
        (TELEMETRY_FILTER, "telemetry"),
        (STATUS_FILTER, "status"),
        (CMD_ACK_FILTER, "cmd_ack"),
    ]:
        for other in KINDS:
            assert mqtt_matches(topic_filter, topic_for(other, "gw-001")) == (other == kind)


@pytest.mark.parametrize(
    "topic",
    [
        "fp/v2/gw/gw-001/telemetry",
        "fp/v1/gw/gw-001",
        "fp/v1/gw/gw-001/",
        "fp/v1/gw//telemetry",
        "fp/v1/gw/+/telemetry",
        "fp/v1/gw/#",
        "fp/v1/gw/gw-001/telemetry/extra",
        "fp/v1/gw/gw-001/cmd/ack/extra",
        "fp/v1/gw/gw-001/ack/extra",  # .../ack alone is the cloud's ack topic now
        "fp/v1/gw/gw 001/status",
        "xfp/v1/gw/gw-001/status",
        "/fp/v1/gw/gw-001/status",
        "homeassistant/status",
        "",
    ],
)
def test_foreign_topics_parse_to_none(topic: str) -> None:
    assert parse_topic(topic) is None


@pytest.mark.parametrize("gateway_id", ["", "gw/1", "+", "#", "-gw", "g" * 65, "gw-001\n", "gw.1"])
def test_unsafe_gateway_id_is_refused(gateway_id: str) -> None:
    with pytest.raises(ContractError) as caught:
        telemetry_topic(gateway_id)
    assert caught.value.field == "gw"


def test_qos_and_retain_per_kind() -> None:
    assert set(TOPICS) == set(KINDS)
    assert all(spec.qos == 1 for spec in TOPICS.values())
    retained = {kind for kind, spec in TOPICS.items() if spec.retain}
    assert retained == {"status", "config"}
    to_cloud = {kind for kind, spec in TOPICS.items() if spec.direction == "gateway->cloud"}
    assert to_cloud == {"telemetry", "status", "cmd_ack"}
