"""Labelled faults and the demo's fault schedule.

Each fault names the rule it should trip, so an end-to-end run can be scored:
every label should turn into exactly that alert, and nothing else should fire.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time
from pathlib import Path
from typing import Any

from asset_registry.catalog import DeviceModel, load_models
from simulators.fleet import Device, Fleet
from simulators.profiles import SimulatorError, builtin_profiles

MIN_DURATION_S = 60
MAX_DURATION_S = 300
# Quiet time on a device between two faults, so the first alert has cleared.
GAP_S = 30
# Follow-up faults are spread over this window after the opening ones.
FOLLOW_UP_WINDOW_S = 3600


@dataclass(frozen=True, slots=True)
class Fault:
    """An equipment fault injected at a known time, labelled with the rule it trips."""

    id: str
    device_id: str
    kind: str
    start_ms: int
    duration_ms: int
    metric: str
    expected_rule_id: str

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms

    def active_at(self, ts_ms: int) -> bool:
        return self.start_ms <= ts_ms < self.end_ms

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        return cls(**data)


def _opens_work_order(model: DeviceModel, rule_id: str) -> bool:
    rule = next(r for r in model.rules if r.id == rule_id)
    return rule.severity == "critical" and "open_work_order" in model.actions_for(rule.severity)


def _make(rng: random.Random, device: Device, kind: str, start_ms: int) -> Fault:
    spec = builtin_profiles()[device.model_id].faults[kind]
    duration_s = rng.randint(MIN_DURATION_S, MAX_DURATION_S)
    return Fault("", device.id, kind, start_ms, duration_s * 1000, spec.metric, spec.rule_id)


def fault_schedule(
    fleet: Fleet,
    start_ms: int,
    seed: int,
    first_after_s: float = 10,
    count: int = 8,
    models: Mapping[str, DeviceModel] | None = None,
) -> list[Fault]:
    """Faults for a demo run, sorted by start, ids `flt-001`….

    Two devices of different models get a work-order-opening fault
    `first_after_s` after `start_ms` (something to dispatch at once); the other
    `count - 2` faults start at random over the following hour.
    """
    if count < 2:
        raise SimulatorError("fault_schedule: count must be at least 2")
    models = load_models() if models is None else models
    profiles = builtin_profiles()
    rng = random.Random(seed)
    faultable = [d for d in fleet.devices if d.model_id in profiles and profiles[d.model_id].faults]

    # Opening faults: one device from each of two models that can open a work order.
    critical: dict[str, list[tuple[Device, str]]] = {}
    for device in faultable:
        for kind, spec in sorted(profiles[device.model_id].faults.items()):
            if _opens_work_order(models[device.model_id], spec.rule_id):
                critical.setdefault(device.model_id, []).append((device, kind))
    if len(critical) < 2:
        raise SimulatorError("fault_schedule: fleet needs two models with work-order faults")
    first_ms = start_ms + round(first_after_s * 1000)
    faults = [
        _make(rng, *rng.choice(critical[m]), first_ms) for m in rng.sample(sorted(critical), 2)
    ]

    busy: dict[str, list[Fault]] = {}
    for fault in faults:
        busy.setdefault(fault.device_id, []).append(fault)
    for _ in range(count - 2):
        for _attempt in range(1000):
            device = rng.choice(faultable)
            kind = rng.choice(sorted(profiles[device.model_id].faults))
            offset_s = rng.randint(MIN_DURATION_S, FOLLOW_UP_WINDOW_S)
            fault = _make(rng, device, kind, first_ms + offset_s * 1000)
            gap = GAP_S * 1000
            if all(
                fault.start_ms >= f.end_ms + gap or fault.end_ms + gap <= f.start_ms
                for f in busy.get(device.id, [])
            ):
                break
        else:
            raise SimulatorError("fault_schedule: fleet too small for that many faults")
        faults.append(fault)
        busy.setdefault(device.id, []).append(fault)

    faults.sort(key=lambda f: (f.start_ms, f.device_id))
    return [replace(f, id=f"flt-{i + 1:03d}") for i, f in enumerate(faults)]


def write_labels(faults: Iterable[Fault], path: Path | str) -> None:
    """One JSON object per line, so a long run can append and a reader can stream."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for fault in faults:
            fh.write(json.dumps(fault.to_dict()) + "\n")


def read_labels(path: Path | str) -> list[Fault]:
    with Path(path).open(encoding="utf-8") as fh:
        return [Fault.from_dict(json.loads(line)) for line in fh if line.strip()]


def demo_engineer(fleet: Fleet, faults: Sequence[Fault], at: datetime,
                  models: Mapping[str, DeviceModel] | None = None) -> str:
    """The engineer the demo's engineer account is: one who can take the work the
    demo's faults open (the skill of the most faulted devices, the work-order-opening
    ones counted first) and is on shift at `at` (local time) if any such one is."""
    models = load_models() if models is None else models
    skill_of = {d.id: models[d.model_id].service_skill for d in fleet.devices}
    first = [f.device_id for f in faults[:2]]  # the two that open work orders at once

    def fit(k_engineer: tuple[int, Any]) -> tuple[bool, int, bool, int, int]:
        k, engineer = k_engineer
        start, end = (time.fromisoformat(engineer.shift_start),
                      time.fromisoformat(engineer.shift_end))
        on_shift = start <= at.time() < end if start < end else not end <= at.time() < start
        urgent = sum(skill_of[d] in engineer.skills for d in first)
        later = sum(skill_of[f.device_id] in engineer.skills for f in faults)
        return urgent > 0 and on_shift, urgent, on_shift, later, -k

    return max(enumerate(fleet.engineers), key=fit)[1].id
