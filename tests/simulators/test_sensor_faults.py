"""Sensor faults (spike, stuck, drift, degradation) change reports as labelled."""

from __future__ import annotations

import statistics
from itertools import pairwise

from simulators.faults import Fault
from simulators.profiles import builtin_profiles
from simulators.sensor_faults import SENSOR_FAULTS, SPIKE_S, sensor_fault_schedule, variation
from simulators.signals import DeviceSimulator

START = 1_800_000_000_000
MIN = 60_000


def _pair(models, fleet, kind: str):
    device = next(d for d in fleet.devices if d.model_id == "polarflow-ch200")
    fault = Fault("f1", device.id, kind, START + 10 * MIN, 30 * MIN, "supply_temp_c", "")
    model = models[device.model_id]
    return (DeviceSimulator(device.id, model, 3, [fault], origin_ms=START),
            DeviceSimulator(device.id, model, 3, [], origin_ms=START), fault)


def _series(sim, start: int, minutes: int) -> list[float]:
    return [sim.sample(start + i * MIN)["supply_temp_c"] for i in range(minutes)]


def test_identical_to_healthy_outside_the_fault(models, fleet) -> None:
    faulty, healthy, fault = _pair(models, fleet, "drift")
    assert _series(faulty, START, 10) == _series(healthy, START, 10)
    assert _series(faulty, fault.end_ms, 10) == _series(healthy, fault.end_ms, 10)


def test_stuck_sensor_repeats_one_value(models, fleet) -> None:
    faulty, healthy, fault = _pair(models, fleet, "stuck")
    during = _series(faulty, fault.start_ms, 30)
    assert len(set(during)) == 1
    assert len(set(_series(healthy, fault.start_ms, 30))) > 5


def test_spike_is_short_and_far_outside_normal_variation(models, fleet) -> None:
    faulty, healthy, fault = _pair(models, fleet, "spike")
    sig = builtin_profiles()["polarflow-ch200"].signals["supply_temp_c"]
    at = fault.start_ms
    assert faulty.sample(at)["supply_temp_c"] - healthy.sample(at)["supply_temp_c"] > (
        6 * variation(sig))
    after = at + (SPIKE_S + 1) * 1000
    assert faulty.sample(after) == healthy.sample(after)


def test_drift_grows_linearly_and_degradation_accelerates(models, fleet) -> None:
    for kind in ("drift", "degradation"):
        faulty, healthy, fault = _pair(models, fleet, kind)
        gaps = [f - h for f, h in zip(_series(faulty, fault.start_ms, 30),
                                      _series(healthy, fault.start_ms, 30), strict=True)]
        first, second = statistics.mean(gaps[:15]), statistics.mean(gaps[15:])
        assert 0 <= first < second
        ratio = second / max(first, 1e-9)
        assert (ratio > 4) if kind == "degradation" else (2 < ratio < 4.5)


def test_schedule_covers_every_kind_without_overlap(fleet) -> None:
    faults = sensor_fault_schedule(fleet, START, seed=5, per_kind=4)
    assert sorted({f.kind for f in faults}) == sorted(SENSOR_FAULTS)
    assert len(faults) == 4 * len(SENSOR_FAULTS) and len({f.id for f in faults}) == len(faults)
    by_device: dict[str, list[Fault]] = {}
    for f in faults:
        by_device.setdefault(f.device_id, []).append(f)
        assert f.start_ms >= START + 3600_000 and f.expected_rule_id == ""
    for items in by_device.values():
        items.sort(key=lambda f: f.start_ms)
        assert all(a.end_ms <= b.start_ms for a, b in pairwise(items))
    assert sensor_fault_schedule(fleet, START, seed=5, per_kind=4) == faults
