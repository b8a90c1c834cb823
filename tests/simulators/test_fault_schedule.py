from dataclasses import replace

import pytest

from simulators.faults import GAP_S, MAX_DURATION_S, MIN_DURATION_S
from simulators.fleet import generate_fleet
from simulators.profiles import SimulatorError
from simulators.signals import fault_schedule, read_labels, write_labels

START_MS = 1_750_000_000_000


def test_schedule_is_deterministic_for_a_seed(fleet):
    assert fault_schedule(fleet, START_MS, seed=1) == fault_schedule(fleet, START_MS, seed=1)
    assert fault_schedule(fleet, START_MS, seed=1) != fault_schedule(fleet, START_MS, seed=2)


@pytest.mark.parametrize("seed", range(20))
def test_work_orders_open_on_two_models_within_the_first_30_s(seed, fleet, models):
    faults = fault_schedule(fleet, START_MS, seed=seed, first_after_s=10)
    opening = [f for f in faults if f.start_ms == START_MS + 10_000]
    opening_models = {fleet.device(f.device_id).model_id for f in opening}
    assert len(opening_models) >= 2
    early = [f for f in faults if f.start_ms - START_MS <= 30_000]
    assert {fleet.device(f.device_id).model_id for f in early} == opening_models
    for fault in opening:
        model = models[fleet.device(fault.device_id).model_id]
        rule = next(r for r in model.rules if r.id == fault.expected_rule_id)
        assert rule.severity == "critical"
        assert "open_work_order" in model.actions_for(rule.severity)


@pytest.mark.parametrize("seed", range(20))
def test_faults_last_minutes_spread_over_an_hour_and_never_overlap_on_a_device(seed, fleet):
    faults = fault_schedule(fleet, START_MS, seed=seed, count=10)
    assert len(faults) == 10
    assert [f.id for f in faults] == [f"flt-{i:03d}" for i in range(1, 11)]
    assert faults == sorted(faults, key=lambda f: f.start_ms)
    for fault in faults:
        assert MIN_DURATION_S * 1000 <= fault.duration_ms <= MAX_DURATION_S * 1000
        assert START_MS + 10_000 <= fault.start_ms <= START_MS + 10_000 + 3600_000
    for a in faults:
        for b in faults:
            if a.id < b.id and a.device_id == b.device_id:
                assert b.start_ms >= a.end_ms + GAP_S * 1000 or a.start_ms >= b.end_ms


def test_labels_round_trip_through_json_lines(fleet, tmp_path):
    faults = fault_schedule(fleet, START_MS, seed=4)
    path = tmp_path / "labels.jsonl"
    write_labels(faults, path)
    assert len(path.read_text().splitlines()) == len(faults)
    assert read_labels(path) == faults


def test_a_fleet_with_a_single_model_cannot_open_two_work_orders():
    fleet = generate_fleet(seed=1, sites=1)
    model_id = fleet.devices[0].model_id
    single = replace(fleet, devices=tuple(d for d in fleet.devices if d.model_id == model_id))
    with pytest.raises(SimulatorError, match="two models"):
        fault_schedule(single, START_MS, seed=1)


@pytest.mark.parametrize("hour", [7, 9, 12, 15, 18])
@pytest.mark.parametrize("seed", [7, 8, 9])
def test_the_demo_engineer_can_take_the_faults_work_and_is_on_shift_if_anyone_is(
        seed, hour, fleet, models):
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from simulators.faults import demo_engineer

    faults = fault_schedule(fleet, START_MS, seed=seed, first_after_s=15)
    at = datetime(2026, 3, 3, hour, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    skills = {models[d.model_id].service_skill for d in fleet.devices
              if d.id in {f.device_id for f in faults[:2]}}
    chosen = next(e for e in fleet.engineers if e.id == demo_engineer(fleet, faults, at, models))
    assert skills & set(chosen.skills), "the account's engineer can take an opening fault's job"

    def on_shift(e):
        return time.fromisoformat(e.shift_start) <= at.time() < time.fromisoformat(e.shift_end)

    qualified = [e for e in fleet.engineers if skills & set(e.skills)]
    if any(on_shift(e) for e in qualified):
        assert on_shift(chosen)
