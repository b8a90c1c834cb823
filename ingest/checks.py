"""Semantic checks on a telemetry batch that the JSON Schema cannot express.

Pure: takes the decoded, schema-valid batch and what the registry knows, returns
the readings to store and the ones to dead-letter, each with the exact field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from asset_registry.catalog import DeviceModel

# A gateway clock running ahead by more than this is wrong, not early.
MAX_FUTURE_MS = 5 * 60 * 1000


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    model: DeviceModel
    gateway_id: str


@dataclass(frozen=True, slots=True)
class AcceptedReading:
    device_id: str
    model_id: str
    ts: int
    metrics: Mapping[str, float]


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
        accepted.append(AcceptedReading(reading["dev"], info.model.id, reading["ts"], reading["m"]))
    return accepted, rejects
