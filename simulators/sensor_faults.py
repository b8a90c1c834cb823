"""Sensor and wear faults that no threshold rule is meant to catch: anomaly territory.

Each applies to any continuous metric of any model, scaled to that metric's own
normal variation (noise + wander), so a fault is equally hard on every signal:

    spike        a short excursion far outside normal variation
    stuck        the sensor repeats its last value, without noise
    drift        a calibration drift growing linearly over the fault
    degradation  wear that starts slowly and accelerates (quadratic)

Labels use the same `Fault` record as the demo's faults; `expected_rule_id` is
empty because catching them is the anomaly detector's job.
"""

from __future__ import annotations

import random
from dataclasses import replace

from simulators.faults import Fault
from simulators.fleet import Fleet
from simulators.profiles import Signal, builtin_profiles

SENSOR_FAULTS = ("spike", "stuck", "drift", "degradation")
# How far each fault moves a metric, in units of its normal variation.
MAGNITUDE = {"spike": 8.0, "drift": 6.0, "degradation": 6.0}
SPIKE_S = 20  # a spike lasts this long, whatever the label's duration


def variation(sig: Signal) -> float:
    return sig.noise + sig.wander + 1e-9


def apply(fault: Fault, sig: Signal, value: float, stuck_at: float, ts_ms: int) -> float:
    """The faulty reading for `value` (the healthy one) at `ts_ms`."""
    progress = (ts_ms - fault.start_ms) / fault.duration_ms
    if fault.kind == "stuck":
        return stuck_at
    if fault.kind == "spike":
        in_spike = ts_ms - fault.start_ms < SPIKE_S * 1000
        return value + MAGNITUDE["spike"] * variation(sig) if in_spike else value
    if fault.kind == "drift":
        return value + MAGNITUDE["drift"] * variation(sig) * progress
    return value + MAGNITUDE["degradation"] * variation(sig) * progress**2


def sensor_fault_schedule(fleet: Fleet, start_ms: int, seed: int, per_kind: int = 10,
                          duration_s: int = 1800, horizon_s: int = 6 * 3600,
                          clean_s: int = 3600) -> list[Fault]:
    """`per_kind` faults of every sensor-fault kind over the horizon, one at a time per device.

    The first `clean_s` seconds stay fault-free, so detectors have warmed up.
    """
    rng = random.Random(seed)
    profiles = builtin_profiles()
    busy: dict[str, list[tuple[int, int]]] = {}
    faults: list[Fault] = []
    for kind in SENSOR_FAULTS:
        for _ in range(per_kind):
            for _attempt in range(1000):
                device = rng.choice(fleet.devices)
                signals = profiles[device.model_id].signals
                metric = rng.choice(sorted(k for k, s in signals.items() if isinstance(s, Signal)))
                begin = start_ms + rng.randint(clean_s, horizon_s - duration_s) * 1000
                end = begin + duration_s * 1000
                if all(end + 600_000 <= b or begin >= e + 600_000
                       for b, e in busy.get(device.id, [])):
                    break
            else:
                raise ValueError("sensor_fault_schedule: fleet too small for that many faults")
            busy.setdefault(device.id, []).append((begin, end))
            faults.append(Fault("", device.id, kind, begin, duration_s * 1000, metric, ""))
    faults.sort(key=lambda f: (f.start_ms, f.device_id))
    return [replace(f, id=f"snf-{i + 1:03d}") for i, f in enumerate(faults)]


def is_sensor_fault(fault: Fault) -> bool:
    return fault.kind in SENSOR_FAULTS
