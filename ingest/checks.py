"""Checks on a telemetry batch: the contract's schema plus what only the registry knows.

Pure: takes the decoded batch and what the registry knows, returns the readings
to store and the ones to dead-letter, each with the exact field.

Two paths give the same answer. `fast_accept` is the hot path: one pass over
plain dicts that accepts a batch only when every reading is schema-valid *and*
passes the registry checks (the common case), and otherwise returns None. Then
the slow path runs the compiled JSON Schema (which names the offending field)
and `check_readings` (which names the rejected readings).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from asset_registry.catalog import DeviceModel
from firmware_contracts.kinds import (
    ID_PATTERN,
    MAX_JSON_INT,
    MAX_METRICS,
    MAX_READINGS,
    METRIC_PATTERN,
)

# A gateway clock running ahead by more than this is wrong, not early.
MAX_FUTURE_MS = 5 * 60 * 1000

_METRIC = re.compile(METRIC_PATTERN.replace("$", r"\Z"))
_ID = re.compile(ID_PATTERN.replace("$", r"\Z"))
_TOP_KEYS = frozenset({"v", "gw", "seq", "sent", "readings"})


def valid_id(value: str) -> bool:
    return _ID.match(value) is not None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    model: DeviceModel
    gateway_id: str
    # metric -> (min, max), only for names the contract allows: what the fast path
    # accepts must be a subset of what the schema accepts.
    bounds: Mapping[str, tuple[float, float]] = field(init=False, repr=False)
    model_id: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        bounds = {key: (a.min, a.max) for key, a in self.model.attributes.items()
                  if _METRIC.match(key)}
        object.__setattr__(self, "bounds", bounds)
        object.__setattr__(self, "model_id", self.model.id)


class AcceptedReading(NamedTuple):
    """A stored reading; a tuple, so building 200k of them a second stays cheap."""

    device_id: str
    model_id: str
    ts: int
    metrics: Mapping[str, float]


def _count(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_JSON_INT


def fast_accept(
    gateway_id: str, doc: dict, devices: Mapping[str, DeviceInfo], now_ms: int
) -> list[AcceptedReading] | None:
    """Every reading of a schema-valid, fully acceptable batch; None if anything is off.

    `devices` must hold only ids that match the contract's id pattern (the directory
    guarantees it), and `gateway_id` comes from a parsed topic, so it is valid too.
    """
    if doc.keys() != _TOP_KEYS or doc["gw"] != gateway_id:
        return None
    if type(doc["v"]) is not int or doc["v"] != 1 or not _count(doc["seq"]) \
            or not _count(doc["sent"]):
        return None
    readings = doc["readings"]
    if type(readings) is not list or not 0 < len(readings) <= MAX_READINGS:
        return None
    limit = now_ms + MAX_FUTURE_MS
    out: list[AcceptedReading] = []
    append = out.append
    get = devices.get
    # Wrong types surface as KeyError/TypeError/AttributeError (a list where an object
    # belongs, a string compared with a number, ...): all mean "take the slow path".
    try:
        for r in readings:
            if len(r) != 3:
                return None
            dev, ts, m = r["dev"], r["ts"], r["m"]
            info = get(dev)
            if info is None or info.gateway_id != gateway_id or ts.__class__ is not int \
                    or not 0 <= ts <= limit or not 0 < len(m) <= MAX_METRICS:
                return None
            bounds = info.bounds
            for key, value in m.items():
                low, high = bounds[key]
                if not low <= value <= high or value is True or value is False:
                    return None
            append(AcceptedReading(dev, info.model_id, ts, m))
    except (KeyError, TypeError, AttributeError):
        return None
    return out


@dataclass(frozen=True, slots=True)
class Reject:
    kind: str  # a short category, the key the rejects are counted by
    field: str
    reason: str
    reading: Mapping[str, object]


def _check_one(
    i: int, gateway_id: str, reading: Mapping, devices: Mapping[str, DeviceInfo], now_ms: int
) -> Reject | None:
    dev = reading["dev"]
    info = devices.get(dev)
    if info is None:
        return Reject("unknown_device", f"readings[{i}].dev", f"unknown device '{dev}'", reading)
    if info.gateway_id != gateway_id:
        return Reject(
            "foreign_device",
            f"readings[{i}].dev",
            f"device '{dev}' does not belong to gateway '{gateway_id}'",
            reading,
        )
    if reading["ts"] > now_ms + MAX_FUTURE_MS:
        return Reject(
            "future_timestamp",
            f"readings[{i}].ts",
            f"timestamp {reading['ts']} is more than {MAX_FUTURE_MS // 1000} s in the future",
            reading,
        )
    attributes = info.model.attributes
    for metric, value in reading["m"].items():
        attribute = attributes.get(metric)
        if attribute is None:
            return Reject(
                "unknown_metric",
                f"readings[{i}].m.{metric}",
                f"'{metric}' is not an attribute of model {info.model.id}",
                reading,
            )
        if not attribute.min <= value <= attribute.max:
            return Reject(
                "out_of_range",
                f"readings[{i}].m.{metric}",
                f"{value} outside the valid range "
                f"[{attribute.min:g}, {attribute.max:g}] {attribute.unit}",
                reading,
            )
    return None


def check_readings(
    gateway_id: str, readings: list[Mapping], devices: Mapping[str, DeviceInfo], now_ms: int
) -> tuple[list[AcceptedReading], list[Reject]]:
    accepted: list[AcceptedReading] = []
    rejects: list[Reject] = []
    for i, reading in enumerate(readings):
        reject = _check_one(i, gateway_id, reading, devices, now_ms)
        if reject is not None:
            rejects.append(reject)
            continue
        info = devices[reading["dev"]]
        metrics = {k: float(v) for k, v in reading["m"].items()}
        accepted.append(AcceptedReading(reading["dev"], info.model.id, int(reading["ts"]), metrics))
    return accepted, rejects
