"""Threshold rule evaluation with hysteresis: pure, no I/O, no clock.

`RuleState` remembers which (device, rule) pairs are in alarm. Feeding it a
device's readings yields transitions: a `raise` the first time a value crosses
the threshold, a `clear` once the value is back past the clear level, and
nothing for every reading in between. That is what makes "one alert, not one
per reading" hold however many readings arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from asset_registry.catalog import DeviceModel, ThresholdRule


@dataclass(frozen=True, slots=True)
class Transition:
    kind: Literal["raise", "clear"]
    device_id: str
    rule: ThresholdRule
    ts: int
    value: float


def breaches(rule: ThresholdRule, value: float) -> bool:
    return value > rule.threshold if rule.condition == "above" else value < rule.threshold


def recovered(rule: ThresholdRule, value: float) -> bool:
    return value <= rule.clear if rule.condition == "above" else value >= rule.clear


@dataclass
class RuleState:
    active: set[tuple[str, str]] = field(default_factory=set)

    def step(
        self, device_id: str, model: DeviceModel, ts: int, metrics: Mapping[str, float]
    ) -> list[Transition]:
        out: list[Transition] = []
        for rule in model.rules:
            value = metrics.get(rule.metric)
            if value is None:
                continue
            key = (device_id, rule.id)
            if key not in self.active and breaches(rule, value):
                self.active.add(key)
                out.append(Transition("raise", device_id, rule, ts, value))
            elif key in self.active and recovered(rule, value):
                self.active.discard(key)
                out.append(Transition("clear", device_id, rule, ts, value))
        return out

    def run(
        self, model_of: Mapping[str, DeviceModel],
        readings: Iterable[tuple[str, int, Mapping[str, float]]],
    ) -> list[Transition]:
        """Evaluate readings (device, ts, metrics) in event-time order per device."""
        out: list[Transition] = []
        for device_id, ts, metrics in sorted(readings, key=lambda r: (r[0], r[1])):
            out.extend(self.step(device_id, model_of[device_id], ts, metrics))
        return out
