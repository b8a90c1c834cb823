"""Threshold evaluation: one raise per episode, hysteresis on clearing, order by event time."""

from __future__ import annotations

import random

from asset_registry.catalog import load_models
from rules.engine import RuleState

PURIFIER = load_models()["aquapure-ro500"]
PUMP = load_models()["torrent-cp75"]
NORMAL = {"flow_lpm": 12.0, "tds_ppm": 25.0, "inlet_pressure_bar": 3.2, "filter_hours": 1000.0}


def kinds(transitions) -> list[tuple[str, str]]:
    return [(t.kind, t.rule.id) for t in transitions]


def test_many_readings_over_the_threshold_raise_once() -> None:
    state = RuleState()
    out = []
    for ts in range(50):
        out += state.step("d1", PURIFIER, ts, {**NORMAL, "tds_ppm": 160.0 + ts})
    assert kinds(out) == [("raise", "tds-high")]


def test_clears_only_past_the_clear_level_not_at_the_threshold() -> None:
    state = RuleState()
    state.step("d1", PURIFIER, 0, {**NORMAL, "tds_ppm": 200.0})
    # Between clear (120) and threshold (150): still in alarm, no flapping.
    assert state.step("d1", PURIFIER, 1, {**NORMAL, "tds_ppm": 140.0}) == []
    assert state.step("d1", PURIFIER, 2, {**NORMAL, "tds_ppm": 151.0}) == []
    assert kinds(state.step("d1", PURIFIER, 3, {**NORMAL, "tds_ppm": 119.0})) == [
        ("clear", "tds-high")]
    # A new episode raises again.
    assert kinds(state.step("d1", PURIFIER, 4, {**NORMAL, "tds_ppm": 170.0})) == [
        ("raise", "tds-high")]


def test_below_rules_use_the_mirror_image() -> None:
    state = RuleState()
    running = {"vibration_mm_s": 2.0, "rpm": 1480.0, "bearing_temp_c": 50.0}
    assert kinds(state.step("p", PUMP, 0, {**running, "rpm": 900.0})) == [("raise", "speed-low")]
    assert state.step("p", PUMP, 1, {**running, "rpm": 1300.0}) == []
    assert kinds(state.step("p", PUMP, 2, {**running, "rpm": 1450.0})) == [("clear", "speed-low")]


def test_devices_are_independent() -> None:
    state = RuleState()
    assert len(state.step("a", PURIFIER, 0, {**NORMAL, "tds_ppm": 300.0})) == 1
    assert len(state.step("b", PURIFIER, 0, {**NORMAL, "tds_ppm": 300.0})) == 1


def test_batch_arriving_out_of_order_is_evaluated_in_event_time() -> None:
    series = [200.0, 200.0, 100.0, 100.0, 200.0]  # raise, clear, raise
    readings = [("d1", ts, {**NORMAL, "tds_ppm": v}) for ts, v in enumerate(series)]
    shuffled = readings[:]
    random.Random(3).shuffle(shuffled)
    out = RuleState().run({"d1": PURIFIER}, shuffled)
    assert [(t.kind, t.ts) for t in out] == [("raise", 0), ("clear", 2), ("raise", 4)]


def test_missing_metric_leaves_the_rule_alone() -> None:
    state = RuleState()
    state.step("d1", PURIFIER, 0, {**NORMAL, "tds_ppm": 200.0})
    assert state.step("d1", PURIFIER, 1, {"flow_lpm": 10.0}) == []
    assert ("d1", "tds-high") in state.active
