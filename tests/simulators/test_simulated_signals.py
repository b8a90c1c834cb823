import pytest

from asset_registry.rule_spec import Rule
from simulators.profiles import Counter, builtin_profiles
from simulators.signals import DeviceSimulator, Fault

PROFILES = builtin_profiles()
FAULT_KINDS = [(m, k) for m, p in sorted(PROFILES.items()) for k in sorted(p.faults)]
DAY_MS = 24 * 3600 * 1000


def past_threshold(rule: Rule, value: float) -> bool:
    return value > rule.threshold if rule.condition == "above" else value < rule.threshold


def safe_of_clear(rule: Rule, value: float) -> bool:
    return value < rule.clear if rule.condition == "above" else value > rule.clear


def is_counter(model_id: str, metric: str) -> bool:
    return isinstance(PROFILES[model_id].signals[metric], Counter)


@pytest.mark.parametrize("model_id", sorted(PROFILES))
def test_a_normal_day_raises_no_alert_and_stays_in_range(model_id, models, wednesday_ms):
    model = models[model_id]
    for n in range(8):  # several devices, so per-device offsets are exercised
        sim = DeviceSimulator(f"dev-{n:04d}", model, seed=n)
        for ts in range(wednesday_ms, wednesday_ms + DAY_MS + 1, 60_000):
            values = sim.sample(ts)
            assert values.keys() == model.attributes.keys()
            for key, value in values.items():
                assert model.attributes[key].min <= value <= model.attributes[key].max
            for rule in model.rules:
                if rule.condition not in ("above", "below"):
                    continue  # anomaly rules judge scores, not the signal's level
                assert not past_threshold(rule, values[rule.metric]), (rule.id, ts)
                # A run-hours counter lives between clear (new filter) and
                # threshold (change due) by design; everything else stays safe.
                if not is_counter(model_id, rule.metric):
                    assert safe_of_clear(rule, values[rule.metric]), (rule.id, ts)


def test_daily_cycle_shows_in_working_hours_and_afternoon_load(models, wednesday_ms):
    purifier = DeviceSimulator("dev-0001", models["aquapure-ro500"], seed=1)
    chiller = DeviceSimulator("dev-0002", models["polarflow-ch200"], seed=1)
    pump = DeviceSimulator("dev-0003", models["torrent-cp75"], seed=1)
    night, noon, afternoon = (wednesday_ms + h * 3600_000 for h in (3, 12, 15))
    assert purifier.sample(noon)["flow_lpm"] > purifier.sample(night)["flow_lpm"] + 6
    assert chiller.sample(afternoon)["return_temp_c"] > chiller.sample(night)["return_temp_c"] + 2
    assert abs(pump.sample(afternoon)["rpm"] - pump.sample(night)["rpm"]) < 50


def test_filter_hours_grow_with_elapsed_time_from_a_plausible_start(models, wednesday_ms):
    starts = []
    for n in range(20):
        sim = DeviceSimulator(f"dev-{n:04d}", models["aquapure-ro500"], seed=5)
        first = sim.sample(wednesday_ms)["filter_hours"]
        later = sim.sample(wednesday_ms + 10 * 3600_000)["filter_hours"]
        assert later == pytest.approx(first + 10, abs=0.02)
        starts.append(first)
    assert all(500 <= s <= 5000 for s in starts)
    assert len(set(starts)) == len(starts)


def test_a_sample_depends_only_on_seed_device_and_time(models, wednesday_ms):
    a = DeviceSimulator("dev-0001", models["polarflow-ch200"], seed=9)
    b = DeviceSimulator("dev-0001", models["polarflow-ch200"], seed=9)
    b.sample(wednesday_ms + 5_000)  # different call history must not matter
    assert a.sample(wednesday_ms + 5_000) == b.sample(wednesday_ms + 5_000)
    other = DeviceSimulator("dev-0002", models["polarflow-ch200"], seed=9)
    assert other.sample(wednesday_ms + 5_000) != a.sample(wednesday_ms + 5_000)


@pytest.mark.parametrize("hour", [3, 15])  # quietest and busiest time of day
@pytest.mark.parametrize(("model_id", "kind"), FAULT_KINDS)
def test_fault_trips_its_rule_within_15_s_and_clears_after_it_ends(
    model_id, kind, hour, models, wednesday_ms
):
    model = models[model_id]
    spec = PROFILES[model_id].faults[kind]
    start = wednesday_ms + hour * 3600_000
    fault = Fault("flt-001", "dev-0001", kind, start, 120_000, spec.metric, spec.rule_id)
    expected = next(r for r in model.rules if r.id == fault.expected_rule_id)
    for n in range(5):
        sim = DeviceSimulator("dev-0001", model, seed=n, faults=[fault])
        at_1hz = {ts: sim.sample(ts) for ts in range(start - 10_000, fault.end_ms + 60_000, 1000)}

        tripped = [ts for ts, v in at_1hz.items() if past_threshold(expected, v[spec.metric])]
        assert tripped and tripped[0] - start <= 15_000
        # Once the ramp is done it holds past the threshold: one alert, no flapping.
        held = range(start + int(spec.ramp_s * 1000), fault.end_ms, 1000)
        assert all(past_threshold(expected, at_1hz[ts][spec.metric]) for ts in held)
        for ts, values in at_1hz.items():
            if not fault.active_at(ts):
                assert safe_of_clear(expected, values[spec.metric]), ts
            # Side effects make the picture plausible without raising other alerts.
            for rule in model.rules:
                if rule.id != expected.id and rule.condition in ("above", "below"):
                    assert not past_threshold(rule, values[rule.metric]), (rule.id, ts)


def test_faults_of_other_devices_are_ignored_and_misfits_refused(models):
    pump = models["torrent-cp75"]
    elsewhere = Fault(
        "flt-1", "dev-0099", "bearing_wear", 0, 60_000, "vibration_mm_s", "vibration-high"
    )
    assert DeviceSimulator("dev-0001", pump, faults=[elsewhere]).faults == ()
    misfit = Fault("flt-2", "dev-0001", "membrane_failure", 0, 60_000, "tds_ppm", "tds-high")
    with pytest.raises(ValueError, match="membrane_failure"):
        DeviceSimulator("dev-0001", pump, faults=[misfit])
