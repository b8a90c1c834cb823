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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

import numpy as np

from asset_registry.catalog import DeviceModel
from firmware_contracts.kinds import (
    EPOCH_PATTERN,
    ID_PATTERN,
    MAX_JSON_INT,
    MAX_METRICS,
    MAX_READINGS,
    METRIC_PATTERN,
)

# A gateway clock running ahead by more than this is wrong, not early.
MAX_FUTURE_MS = 5 * 60 * 1000
# Nothing FieldPulse measures predates 2020-01-01T00:00:00Z: an earlier timestamp is a
# clock that was never set (1970, a reset RTC), not a late reading.
EARLIEST_TS_MS = 1_577_836_800_000

_METRIC = re.compile(METRIC_PATTERN.replace("$", r"\Z"))
_ID = re.compile(ID_PATTERN.replace("$", r"\Z"))
_EPOCH = re.compile(EPOCH_PATTERN.replace("$", r"\Z"))
_TOP_KEYS = frozenset({"v", "gw", "seq", "sent", "readings"})
_TOP_KEYS_WITH_EPOCH = _TOP_KEYS | {"epoch"}


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


NoneType = type(None)
# A decoded JSON object, before it is checked.
Json = dict[str, Any]
# A reading's metrics as decoded: checked to be numbers (or absent) by the checks here.
Metrics = dict[str, Any]
T = TypeVar("T")
_NUMBER_TYPES_OR_NONE = frozenset({int, float, NoneType})


class ModelColumns(NamedTuple):
    """One model's readings of a batch as plain lists (None: the reading lacks it)."""

    model_id: str
    devices: list[str]
    stamps: list[int]
    metrics: tuple[str, ...]
    columns: list[list[float | None]]


class AcceptedBatch:
    """A batch the fast path accepted whole: its readings as the original dicts and as
    per-model columns (what the rules and device state consume)."""

    __slots__ = (
        "_devs",
        "_maps",
        "_model_of",
        "_stamps",
        "devices",
        "parts",
        "ts_max",
        "ts_min",
    )

    def __init__(self, devs: list[str], stamps: list[int], maps: list[Metrics],
                 model_of: Mapping[str, str], parts: list[ModelColumns], ts_min: int,
                 ts_max: int) -> None:
        self._devs, self._stamps, self._maps, self._model_of = devs, stamps, maps, model_of
        self.parts, self.ts_min, self.ts_max = parts, ts_min, ts_max
        self.devices = model_of.keys()

    def __len__(self) -> int:
        return len(self._devs)

    def __iter__(self) -> Iterator[AcceptedReading]:
        model_of = self._model_of
        for dev, ts, m in zip(self._devs, self._stamps, self._maps, strict=True):
            yield AcceptedReading(dev, model_of[dev], ts, m)


def fast_accept(
    gateway_id: str, doc: Json, devices: Mapping[str, DeviceInfo], now_ms: int
) -> AcceptedBatch | None:
    """Every reading of a schema-valid, fully acceptable batch; None if anything is off.

    Column by column, not reading by reading: each check is a C-level pass over a
    list (`map`, `set`, `min`, `max`), which keeps validation cheap at 200k
    readings/s; numpy arrays are built later, once per group of batches. `devices`
    must hold only ids that match the contract's id pattern (the directory
    guarantees it), and `gateway_id` comes from a parsed topic.
    """
    keys = doc.keys()
    if keys != _TOP_KEYS and not (keys == _TOP_KEYS_WITH_EPOCH and type(doc["epoch"]) is str
                                  and _EPOCH.match(doc["epoch"])):
        return None
    if doc["gw"] != gateway_id:
        return None
    if type(doc["v"]) is not int or doc["v"] != 1 or not _count(doc["seq"]) \
            or not _count(doc["sent"]):
        return None
    readings = doc["readings"]
    if type(readings) is not list or not 0 < len(readings) <= MAX_READINGS:
        return None
    # Wrong types surface as KeyError/TypeError (a list where an object belongs, an
    # unhashable id, a string compared with a number, ...): all mean "take the slow
    # path", which names the field.
    try:
        # A reading that is not an object fails a lookup below (TypeError).
        if set(map(len, readings)) != {3}:
            return None
        devs = [r["dev"] for r in readings]
        stamps = [r["ts"] for r in readings]
        maps = [r["m"] for r in readings]
        if set(map(type, stamps)) != {int}:  # m that is not an object fails dict.get
            return None
        sizes = set(map(len, maps))
        if min(sizes) < 1 or max(sizes) > MAX_METRICS:
            return None
        ts_min, ts_max = min(stamps), max(stamps)
        if ts_min < EARLIEST_TS_MS or ts_max > now_ms + MAX_FUTURE_MS:
            return None
        if len(set(zip(devs, stamps, strict=True))) != len(devs):
            return None  # one device read twice at one instant: the slow path names it
        infos = {}
        for dev in set(devs):
            info = devices.get(dev)
            if info is None or info.gateway_id != gateway_id:
                return None
            infos[dev] = info
        model_of = {dev: info.model_id for dev, info in infos.items()}
        parts = _model_columns(devs, stamps, maps, infos, model_of)
    except (KeyError, TypeError):
        return None
    if parts is None:
        return None
    return AcceptedBatch(devs, stamps, maps, model_of, parts, ts_min, ts_max)


def _pick(values: list[T], rows: list[int]) -> list[T]:
    if len(rows) == 1:
        return [values[rows[0]]]
    return list(itemgetter(*rows)(values))


def _model_columns(devs: list[str], stamps: list[int], maps: list[Metrics],
                   infos: Mapping[str, DeviceInfo], model_of: Mapping[str, str]
                   ) -> list[ModelColumns] | None:
    """The batch split per model into columns, or None if a value is not a number in
    range or a reading carries a metric its model does not have."""
    by_model: dict[str, DeviceInfo] = {}
    for info in infos.values():
        by_model.setdefault(info.model_id, info)
    parts = []
    if len(by_model) > 1:  # rows per model: one C-level pass, then numpy
        code_of = {model_id: k for k, model_id in enumerate(by_model)}
        device_code = {dev: code_of[model_id] for dev, model_id in model_of.items()}
        row_codes = np.fromiter(map(device_code.__getitem__, devs), np.intp, len(devs))
    for model_id, info in by_model.items():
        if len(by_model) == 1:
            m_devs, m_stamps, m_maps = devs, stamps, maps
        else:
            rows = np.flatnonzero(row_codes == code_of[model_id]).tolist()
            m_devs, m_stamps, m_maps = _pick(devs, rows), _pick(stamps, rows), _pick(maps, rows)
        found = 0
        columns: list[tuple[str, list[float | None]]] = []
        for name, (low, high) in info.bounds.items():
            column: list[float | None] = list(map(dict.get, m_maps, repeat(name)))
            kinds = set(map(type, column))
            if not kinds <= _NUMBER_TYPES_OR_NONE:
                return None  # a string, a bool, a list, ...
            values: list[float] = column  # type: ignore[assignment]  # no None: checked below
            if NoneType in kinds:
                values = [v for v in column if v is not None]
                if not values:
                    continue  # no reading of this batch carries the metric
            if min(values) < low or max(values) > high:
                return None
            found += len(values)
            columns.append((name, column))
        # Each reading's found metrics are a subset of its keys: equal totals mean no
        # reading carries a metric its model lacks.
        if found != sum(map(len, m_maps)):
            return None
        columns.sort()
        parts.append(ModelColumns(model_id, m_devs, m_stamps, tuple(n for n, _ in columns),
                                  [c for _, c in columns]))
    return parts


@dataclass(frozen=True, slots=True)
class Reject:
    kind: str  # a short category, the key the rejects are counted by
    field: str
    reason: str
    reading: Mapping[str, object]


def timestamp_problem(ts: int, now_ms: int) -> tuple[str, str] | None:
    """(reason kind, message) if `ts` is outside what ingest accepts, else None."""
    if ts > now_ms + MAX_FUTURE_MS:
        return ("future_timestamp",
                f"timestamp {ts} is more than {MAX_FUTURE_MS // 1000} s in the future")
    if ts < EARLIEST_TS_MS:
        return ("ancient_timestamp",
                f"timestamp {ts} is before {EARLIEST_TS_MS} (2020-01-01): the clock is not set")
    return None


def _check_one(
    i: int, gateway_id: str, reading: Json, devices: Mapping[str, DeviceInfo], now_ms: int
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
    problem = timestamp_problem(reading["ts"], now_ms)
    if problem is not None:
        return Reject(problem[0], f"readings[{i}].ts", problem[1], reading)
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
    gateway_id: str, readings: list[Json], devices: Mapping[str, DeviceInfo], now_ms: int
) -> tuple[list[AcceptedReading], list[Reject]]:
    accepted: list[AcceptedReading] = []
    rejects: list[Reject] = []
    seen: set[tuple[str, int]] = set()
    for i, reading in enumerate(readings):
        reject = _check_one(i, gateway_id, reading, devices, now_ms)
        if reject is None and (reading["dev"], reading["ts"]) in seen:
            # A device has one value per metric at one instant; a second would be stored
            # beside the first and counted twice.
            reject = Reject("duplicate_reading", f"readings[{i}].ts", "this device already "
                            "has a reading at this ts in this batch", reading)
        if reject is not None:
            rejects.append(reject)
            continue
        seen.add((reading["dev"], reading["ts"]))
        info = devices[reading["dev"]]
        metrics = {k: float(v) for k, v in reading["m"].items()}
        accepted.append(AcceptedReading(reading["dev"], info.model.id, int(reading["ts"]), metrics))
    return accepted, rejects
