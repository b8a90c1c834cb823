"""Rule evaluation: every rule kind, hysteresis, and batch-independence properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from asset_registry.catalog import DeviceModel, load_models
from asset_registry.rule_spec import parse_rules
from rules.engine import RuleEngine

BASE = load_models()["aquapure-ro500"]
NORMAL = {"flow_lpm": 12.0, "tds_ppm": 25.0, "inlet_pressure_bar": 3.2, "filter_hours": 1000.0}
MSG = {"severity": "high", "message": "m"}


def model_with(*rules: dict) -> DeviceModel:
    """The purifier model with only the given rules."""
    return replace(BASE, rules=parse_rules([{**MSG, **r} for r in rules], "rules",
                                           BASE.attributes))


def engine(*rules: dict, tz: str = "UTC") -> RuleEngine:
    return RuleEngine({BASE.id: model_with(*rules)}, ZoneInfo(tz))


def run(eng: RuleEngine, series: list[tuple[int, dict]], device: str = "d1") -> list[tuple]:
    readings = [(device, ts, {**NORMAL, **m}) for ts, m in series]
    return [(t.kind, t.rule.id, t.ts) for t in eng.evaluate(BASE.id, readings)]


TDS = {"id": "tds", "metric": "tds_ppm", "condition": "above", "threshold": 150, "clear": 120}


def tds(*values: float, start: int = 0, step: int = 1000) -> list[tuple[int, dict]]:
    return [(start + i * step, {"tds_ppm": v}) for i, v in enumerate(values)]


def test_many_readings_over_the_threshold_raise_once() -> None:
    assert run(engine(TDS), tds(*[160.0 + i for i in range(50)])) == [("raise", "tds", 0)]


def test_clears_only_past_the_clear_level_and_a_new_episode_raises_again() -> None:
    out = run(engine(TDS), tds(200, 140, 151, 119, 170))
    assert out == [("raise", "tds", 0), ("clear", "tds", 3000), ("raise", "tds", 4000)]


def test_below_rules_use_the_mirror_image() -> None:
    rule = {"id": "p", "metric": "inlet_pressure_bar", "condition": "below",
            "threshold": 1.5, "clear": 2.0}
    series = [(i * 1000, {"inlet_pressure_bar": v}) for i, v in enumerate([3, 1, 1.8, 2.1])]
    assert run(engine(rule), series) == [("raise", "p", 1000), ("clear", "p", 3000)]


def test_outside_a_band_with_a_narrower_clear_band() -> None:
    rule = {"id": "band", "metric": "flow_lpm", "condition": "outside", "band": [2, 30],
            "clear_band": [4, 28]}
    series = [(i, {"flow_lpm": v}) for i, v in enumerate([10, 31, 29, 27, 1, 3, 5])]
    assert run(engine(rule), series) == [("raise", "band", 1), ("clear", "band", 3),
                                         ("raise", "band", 4), ("clear", "band", 6)]


def test_duration_raises_only_after_the_condition_held_long_enough() -> None:
    eng = engine({**TDS, "for_s": 60})
    # 30 s over, back under the threshold (but above clear), then 70 s over.
    series = tds(200, 200, 200, 200, 140, *[200] * 8, step=10_000)
    assert run(eng, series) == [("raise", "tds", 110_000)]


def test_duration_carries_across_batches() -> None:
    eng = engine({**TDS, "for_s": 60})
    assert run(eng, tds(200, 200, 200, step=20_000)) == []
    assert run(eng, tds(200, 200, start=60_000, step=20_000)) == [("raise", "tds", 60_000)]


def test_repeat_raises_on_the_nth_start_within_the_window() -> None:
    eng = engine({**TDS, "repeat": {"count": 3, "within_s": 60}})
    # Starts at 0, 20 and 40 s: the third within 60 s raises; spikes end each time.
    series = tds(200, 100, 200, 100, 200, 100, step=10_000)
    assert run(eng, series) == [("raise", "tds", 40_000), ("clear", "tds", 50_000)]
    # Spread out: never three within a minute.
    eng = engine({**TDS, "repeat": {"count": 3, "within_s": 60}})
    assert run(eng, tds(200, 100, 200, 100, 200, 100, step=25_000)) == []


def test_rate_of_change_per_minute() -> None:
    rule = {"id": "rise", "metric": "tds_ppm", "condition": "rate_above", "threshold": 10,
            "clear": 2}
    eng = engine(rule)
    # +1/min, then +30/min, then flat.
    series = tds(20, 21, 22, 52, 82, 82, 82, step=60_000)
    assert run(eng, series) == [("raise", "rise", 180_000), ("clear", "rise", 300_000)]
    # The rate across a batch boundary uses the previous batch's last value.
    assert run(eng, tds(112, start=420_000)) == [("raise", "rise", 420_000)]


def test_all_needs_every_condition_any_needs_one() -> None:
    both = [{"metric": "tds_ppm", "condition": "above", "threshold": 150, "clear": 120},
            {"metric": "flow_lpm", "condition": "below", "threshold": 2, "clear": 4}]
    series = [(0, {"tds_ppm": 200}), (1, {"tds_ppm": 200, "flow_lpm": 1}),
              (2, {"tds_ppm": 200, "flow_lpm": 5})]
    assert run(engine({"id": "all", "all": both}), series) == [("raise", "all", 1),
                                                              ("clear", "all", 2)]
    assert run(engine({"id": "any", "any": both}), series) == [("raise", "any", 0)]


def test_schedule_gates_raising_in_local_time() -> None:
    rule = {**TDS, "schedule": {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00",
                                "to": "18:00"}}
    eng = engine(rule, tz="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")

    def ms(day: int, hour: int) -> int:  # March 2026: the 2nd is a Monday
        return int(datetime(2026, 3, day, hour, tzinfo=berlin).timestamp() * 1000)

    assert run(eng, [(ms(7, 10), {"tds_ppm": 200})]) == []  # Saturday
    assert run(eng, [(ms(9, 7), {"tds_ppm": 200})]) == []  # Monday, before 08:00
    assert run(eng, [(ms(9, 9), {"tds_ppm": 200})]) == [("raise", "tds", ms(9, 9))]


def test_no_data_raises_for_a_silent_device_and_clears_when_it_reports() -> None:
    eng = engine({"id": "quiet", "condition": "no_data", "silent_s": 600})
    devices = {"d1": BASE.id}
    run(eng, tds(20))
    assert eng.silence(300_000, devices) == []
    raised = eng.silence(600_000, devices)
    assert [(t.kind, t.rule.id) for t in raised] == [("raise", "quiet")]
    assert eng.silence(700_000, devices) == []  # still silent: no second alert
    run(eng, tds(20, start=500_000))  # a backlog from before the alert: data flows again
    assert [(t.kind, t.ts) for t in eng.silence(810_000, devices)] == [("clear", 810_000)]


def test_devices_are_independent_within_one_batch() -> None:
    eng = engine(TDS)
    readings = [("a", 0, {"tds_ppm": 200.0}), ("b", 0, {"tds_ppm": 100.0}),
                ("b", 1, {"tds_ppm": 300.0}), ("a", 1, {"tds_ppm": 100.0})]
    out = [(t.kind, t.device_id, t.ts) for t in eng.evaluate(BASE.id, readings)]
    assert sorted(out) == [("clear", "a", 1), ("raise", "a", 0), ("raise", "b", 1)]


# -- properties -------------------------------------------------------------------------

def reference(values: list[float], for_s: float, step_ms: int) -> list[tuple[str, int]]:
    """Reading-by-reading state machine, written as plainly as possible."""
    out, active, since = [], False, None
    for i, v in enumerate(values):
        ts = i * step_ms
        since = (since if since is not None else ts) if v > 150 else None
        held = since is not None and ts - since >= for_s * 1000
        if not active and held:
            active = True
            out.append(("raise", ts))
        elif active and v <= 120:
            active = False
            out.append(("clear", ts))
    return out


values_strategy = st.lists(st.sampled_from([100.0, 130.0, 160.0, 200.0]), max_size=60)


@settings(max_examples=150, deadline=None)
@given(values=values_strategy, for_s=st.sampled_from([0, 5, 20]),
       cuts=st.lists(st.integers(0, 60), max_size=6))
def test_batched_evaluation_matches_the_reading_by_reading_reference(values, for_s, cuts):
    eng = engine({**TDS, "for_s": for_s})
    series = tds(*values, step=5_000)
    bounds = sorted({0, len(series), *[c for c in cuts if c < len(series)]})
    got = []
    for lo, hi in pairwise(bounds):
        got += [(kind, ts) for kind, _, ts in run(eng, series[lo:hi])]
    assert got == reference(values, for_s, 5_000)


@settings(max_examples=100, deadline=None)
@given(values=values_strategy, seed=st.randoms())
def test_order_within_a_batch_does_not_matter(values, seed):
    series = tds(*values)
    shuffled = series[:]
    seed.shuffle(shuffled)
    assert run(engine(TDS), shuffled) == run(engine(TDS), series)


class LevelDetector:
    """Stands in for the streaming detector: scores by level, so the wiring is what's tested."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def update_many(self, values: np.ndarray) -> np.ndarray:
        self.seen += values[:, 0].tolist()
        return np.where(values[:, 0] > 50, 0.9, 0.1)


def test_anomaly_condition_reads_each_devices_own_windowed_score_stream() -> None:
    from rules.anomaly_scores import AnomalyScorer

    rule = {"id": "odd", "metric": "tds_ppm", "condition": "anomaly", "threshold": 0.5,
            "clear": 0.3}
    detectors: list[LevelDetector] = []
    scorer = AnomalyScorer(make=lambda: detectors.append(LevelDetector()) or detectors[-1],
                           window_s=2.0)
    eng = RuleEngine({BASE.id: model_with(rule)}, scorer=scorer)
    a = [20.0, 22.0, 80.0, 84.0, 20.0]
    b = [70.0, 74.0, 20.0, 20.0, 20.0]
    readings = [(dev, i * 1000, {**NORMAL, "tds_ppm": v})
                for dev, vals in (("a", a), ("b", b)) for i, v in enumerate(vals)]
    out = [(t.kind, t.device_id, t.ts) for t in eng.evaluate(BASE.id, readings[::-1])]
    # A window's mean is scored when the device's next window begins; its readings
    # hold that score until the following window closes.
    assert sorted(out) == [("clear", "b", 4000), ("raise", "a", 4000), ("raise", "b", 2000)]
    # One detector per device, fed its own window means in event-time order.
    assert sorted(d.seen for d in detectors) == [[21.0, 82.0], [72.0, 20.0]]
    # Without a scorer (the replay lane) anomaly conditions never hold.
    assert run(engine(rule), tds(20, 80)) == []
