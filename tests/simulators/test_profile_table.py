"""The signal table is the promise behind 'no false alerts': check it against the rules."""

from dataclasses import replace

import pytest

from simulators.profiles import Counter, SimulatorError, builtin_profiles, check_profile

PROFILES = builtin_profiles()


@pytest.mark.parametrize("model_id", sorted(PROFILES))
def test_profile_matches_its_catalogue_model(model_id, models):
    check_profile(PROFILES[model_id], models[model_id])


@pytest.mark.parametrize("model_id", sorted(PROFILES))
def test_worst_case_normal_signal_stays_in_range_and_safe_of_every_clear_level(model_id, models):
    model = models[model_id]
    for key, sig in PROFILES[model_id].signals.items():
        attr = model.attributes[key]
        if isinstance(sig, Counter):
            assert attr.min <= sig.start_min <= sig.start_max < attr.max
            continue
        low, high = sig.envelope()
        assert attr.min <= low and high <= attr.max, key
        for rule in model.rules:
            if rule.metric == key:
                assert high < rule.clear if rule.condition == "above" else low > rule.clear


@pytest.mark.parametrize("model_id", sorted(PROFILES))
def test_counters_start_far_enough_below_their_rule_to_run_for_weeks(model_id, models):
    for rule in models[model_id].rules:
        if rule.condition not in ("above", "below"):
            continue  # anomaly rules judge scores, not the signal's level
        sig = PROFILES[model_id].signals[rule.metric]
        if isinstance(sig, Counter):
            assert rule.condition == "above"
            assert sig.start_max + 24 * 30 * sig.rate_per_h < rule.threshold


def test_a_fault_naming_a_rule_on_another_metric_is_refused(models):
    profile = PROFILES["torrent-cp75"]
    wrong = replace(profile.faults["bearing_wear"], rule_id="bearing-hot")
    with pytest.raises(SimulatorError, match="bearing-hot"):
        check_profile(replace(profile, faults={"bearing_wear": wrong}), models["torrent-cp75"])
