"""Edge threshold rules: evaluated on every sample, on the gateway, even while offline.

Pure logic over readings, no I/O. The semantics match the cloud's rule engine
(`rules.engine`): raise when the value goes past the threshold, re-arm once it is
back past the clear level, so one episode raises one event, not one per reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edge_agent.drivers import Reading


@dataclass(frozen=True, slots=True)
class EdgeRule:
    id: str
    metric: str
    condition: str  # "above" | "below"
    threshold: float
    clear: float
    severity: str
    devices: frozenset[str] | None = None  # None: every device reporting the metric

    def applies_to(self, dev: str) -> bool:
        return self.devices is None or dev in self.devices

    def crossed(self, value: float) -> bool:
        return value > self.threshold if self.condition == "above" else value < self.threshold

    def cleared(self, value: float) -> bool:
        return value <= self.clear if self.condition == "above" else value >= self.clear


@dataclass(frozen=True, slots=True)
class EdgeEvent:
    rule: EdgeRule
    dev: str
    ts: int
    value: float


class RuleState:
    """Which (rule, device) episodes are active; `evaluate` returns the new crossings."""

    def __init__(self, rules: Iterable[EdgeRule] = ()) -> None:
        self.rules: tuple[EdgeRule, ...] = tuple(rules)
        self._active: set[tuple[str, str]] = set()

    def replace_rules(self, rules: Iterable[EdgeRule]) -> None:
        self.rules = tuple(rules)
        ids = {r.id for r in self.rules}
        # Keep the episodes of rules that stay, so a new config does not re-raise them.
        self._active = {key for key in self._active if key[0] in ids}

    def evaluate(self, readings: Iterable[Reading]) -> list[EdgeEvent]:
        events: list[EdgeEvent] = []
        for reading in readings:
            for rule in self.rules:
                value = reading.m.get(rule.metric)
                if value is None or not rule.applies_to(reading.dev):
                    continue
                key = (rule.id, reading.dev)
                if key in self._active:
                    if rule.cleared(value):
                        self._active.discard(key)
                elif rule.crossed(value):
                    self._active.add(key)
                    events.append(EdgeEvent(rule, reading.dev, reading.ts, value))
        return events
