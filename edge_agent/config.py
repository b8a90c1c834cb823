"""The gateway's local configuration: read once at start from a TOML or JSON file.

The file has sections (see `examples/gateway.toml`); every key is checked and an
unknown one is refused with its dotted name, so a typo never silently falls back
to a default. What the cloud may change at run time (sampling, batching, edge
rules) starts from the `[sampling]` section and is then replaced by the remote
config (`edge_agent.settings`).
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from firmware_contracts.errors import ContractError
from firmware_contracts.topics import topic_for


class ConfigError(ValueError):
    """A setting is wrong; the message names it."""


@dataclass(frozen=True, slots=True)
class AgentConfig:
    gateway_id: str
    state_dir: Path
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    # Other nodes of a broker cluster ("host:port"), tried in turn after the one above when
    # a connection fails or drops; the outbox re-sends whatever the cloud has not acked.
    broker_fallbacks: tuple[str, ...] = ()
    # "5", or "3.1.1" for brokers without MQTT 5 (NATS' MQTT listener, RabbitMQ < 3.13).
    mqtt_version: str = "5"
    username: str | None = None
    password: str | None = None
    tls: bool = False
    tls_ca_file: Path | None = None  # None with tls: the system's CA certificates
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    keepalive_s: int = 30
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    firmware: str = "fieldpulse-edge/0.2.0"
    sample_period_s: float = 1.0
    batch_max_readings: int = 100
    batch_max_age_s: float = 2.0
    # The outbox's disk budget (batch payload bytes); past it the oldest batches go.
    outbox_max_bytes: int = 64 * 1024 * 1024
    # A hard cap on the outbox's database file (SQLite max_page_count): past it, as on a
    # full disk, the oldest unsent batches are evicted. None: twice the budget + 4 MiB.
    outbox_max_file_bytes: int | None = None
    # Batches published and not yet acknowledged, at most: bounds paho's memory
    # and keeps the drain order strict while still filling the link.
    inflight_window: int = 32
    # ... and at most this many payload bytes: a window of 10,000-reading batches must not
    # fill the broker's queue for the cloud (Mosquitto drops past max_queued_bytes).
    inflight_max_bytes: int = 2 * 1024 * 1024
    # Keep a batch until the cloud acks it on fp/v1/gw/{id}/ack (after its commit); false
    # for a cloud that does not ack yet: then the broker's PUBACK deletes it, as before.
    cloud_acks: bool = True
    # A batch the cloud has not acked this long after it was published is sent again.
    ack_timeout_s: float = 30.0
    status_interval_s: float = 60.0
    # Anything driver-specific (register maps, simulator settings) stays opaque here.
    driver: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            topic_for("telemetry", self.gateway_id)
        except ContractError as exc:
            raise ConfigError(f"gateway_id {self.gateway_id!r}: {exc}") from None
        positive = ("sample_period_s", "batch_max_age_s", "reconnect_min_s", "reconnect_max_s",
                    "status_interval_s", "ack_timeout_s")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a number > 0, got {value!r}")
        for name in ("batch_max_readings", "outbox_max_bytes", "inflight_window",
                     "inflight_max_bytes", "keepalive_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if self.outbox_max_file_bytes is not None and (
                isinstance(self.outbox_max_file_bytes, bool)
                or not isinstance(self.outbox_max_file_bytes, int)
                or self.outbox_max_file_bytes < 64 * 1024):
            raise ConfigError("max_file_bytes must be an integer >= 65536, got "
                              f"{self.outbox_max_file_bytes!r}")
        if self.batch_max_readings > 10_000:
            raise ConfigError("batch_max_readings must be <= 10000 (the contract's batch limit)")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ConfigError("reconnect_min_s must not exceed reconnect_max_s")
        if not 1 <= self.broker_port <= 65535:
            raise ConfigError(f"broker_port {self.broker_port} is not a TCP port")
        if self.mqtt_version not in ("5", "3.1.1"):
            raise ConfigError(f"mqtt_version must be \"5\" or \"3.1.1\", got "
                              f"{self.mqtt_version!r}")
        for endpoint in self.broker_fallbacks:
            host, _, port = str(endpoint).rpartition(":")
            if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ConfigError(f"broker fallback {endpoint!r} is not HOST:PORT")

    def broker_endpoints(self) -> list[tuple[str, int]]:
        """The broker first, then its fallbacks, in the order they are tried."""
        rest = [(h, int(p)) for h, _, p in (e.rpartition(":") for e in self.broker_fallbacks)]
        return [(self.broker_host, self.broker_port), *rest]
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ConfigError("tls_cert_file and tls_key_file go together")

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        """Read a `.toml` or `.json` gateway config; ConfigError names the bad setting."""
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        try:
            raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a table of settings")
        try:
            return cls(**_flatten(raw, path.parent))
        except TypeError as exc:  # a wrong type that __post_init__ did not catch
            raise ConfigError(f"{path}: {exc}") from None
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None


# File layout: section -> {key in the file: AgentConfig field}.
_SECTIONS: dict[str, dict[str, str]] = {
    "": {"gateway_id": "gateway_id", "state_dir": "state_dir", "firmware": "firmware",
         "status_interval_s": "status_interval_s"},
    "broker": {"host": "broker_host", "port": "broker_port", "fallbacks": "broker_fallbacks",
               "mqtt_version": "mqtt_version", "username": "username",
               "password": "password", "tls": "tls", "ca_file": "tls_ca_file",
               "cert_file": "tls_cert_file", "key_file": "tls_key_file",
               "keepalive_s": "keepalive_s", "reconnect_min_s": "reconnect_min_s",
               "reconnect_max_s": "reconnect_max_s"},
    "sampling": {"sample_period_s": "sample_period_s", "batch_max_readings": "batch_max_readings",
                 "batch_max_age_s": "batch_max_age_s"},
    "outbox": {"max_bytes": "outbox_max_bytes", "inflight_window": "inflight_window",
               "inflight_max_bytes": "inflight_max_bytes", "cloud_acks": "cloud_acks",
               "ack_timeout_s": "ack_timeout_s", "max_file_bytes": "outbox_max_file_bytes"},
}
_PATHS = {"state_dir", "tls_ca_file", "tls_cert_file", "tls_key_file"}
_TYPES = {f.name: f.type for f in fields(AgentConfig)}


def _flatten(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "driver":
            if not isinstance(value, dict):
                raise ConfigError("driver: expected a table")
            out["driver"] = value
        elif key in _SECTIONS and key:
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: expected a table")
            for sub, sub_value in value.items():
                _put(out, key, sub, sub_value, base)
        else:
            _put(out, "", key, value, base)
    for required in ("gateway_id", "state_dir"):
        if required not in out:
            raise ConfigError(f"'{required}' is required")
    return out


def _put(out: dict[str, Any], section: str, key: str, value: Any, base: Path) -> None:
    dotted = f"{section}.{key}" if section else key
    if section == "broker" and key == "password_file":
        # Keeps the secret out of a world-readable config file.
        try:
            out["password"] = (base / str(value)).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{dotted}: cannot read {value}: {exc.strerror}") from None
        return
    name = _SECTIONS.get(section, {}).get(key)
    if name is None:
        known = sorted(_SECTIONS[section]) + (["password_file"] if section == "broker" else [])
        raise ConfigError(f"unknown setting '{dotted}' (known: {', '.join(known)})")
    if name in _PATHS:
        if not isinstance(value, str):
            raise ConfigError(f"{dotted}: expected a path string, got {value!r}")
        value = base / value  # relative paths are relative to the config file
    elif "float" in str(_TYPES[name]) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif name == "broker_fallbacks":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{dotted}: expected a list of \"HOST:PORT\" strings, "
                              f"got {value!r}")
        value = tuple(value)
    elif name in ("broker_host", "username", "password", "firmware", "gateway_id",
                  "mqtt_version"):
        if not isinstance(value, str):
            raise ConfigError(f"{dotted}: expected a string, got {value!r}")
    elif name in ("tls", "cloud_acks") and not isinstance(value, bool):
        raise ConfigError(f"{dotted}: expected true or false, got {value!r}")
    out[name] = value
