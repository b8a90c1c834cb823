"""What the multivariate detector promises beyond detecting: causality, a false-alarm
rate that matches the target it was calibrated to, and explanations that name the
metrics a fault moved."""

from __future__ import annotations

import numpy as np

from rules.anomaly.calibration import MONTH_MS, threshold_for_rate
from rules.anomaly.fleet_fit import ModelDetectorConfig
from rules.anomaly.model_detector import ModelDetector, judge_table

D = 6
METRICS = tuple(f"m{i}" for i in range(D))


def process(n: int, seed: int) -> np.ndarray:
    """Correlated, autocorrelated normal operation: AR(1) of mixed noise."""
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(42).normal(size=(D, D))
    e = rng.standard_normal((n, D)) @ mix
    x = np.empty_like(e)
    x[0] = e[0]
    for i in range(1, n):
        x[i] = 0.5 * x[i - 1] + e[i]
    return x + 10.0


def test_a_rows_score_does_not_change_when_later_rows_are_appended() -> None:
    x = process(900, seed=1)
    x[700:] += np.array([0, 3.0, 0, 0, -2.0, 0])  # a fault late in the table
    full = judge_table(x, train_rows=400).scores
    for n in (450, 650, 701, 820):
        part = judge_table(x[:n], train_rows=400).scores
        np.testing.assert_array_equal(part, full[:n])
    assert np.isnan(full[:400]).all() and (full[720:] >= 0.5).mean() > 0.9


def test_a_streamed_rows_score_does_not_depend_on_later_rows_of_its_batch() -> None:
    cfg = ModelDetectorConfig(min_fit_rows=200, min_span_s=600, refit_every_s=36_000,
                              min_device_rows=10)
    x = process(500, seed=2)
    sd = x[:300].std(axis=0)
    x[330:, 1] += 3 * sd[1]  # a fault, so the scores move
    x[330:, 4] -= 3 * sd[4]
    ts = np.arange(500, dtype=np.int64) * 30_000  # every row is sampled into history
    a, b = ModelDetector(METRICS, cfg), ModelDetector(METRICS, cfg)

    def seg(n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.int64)  # every row is device "d"'s

    for det in (a, b):
        for i in range(0, 300, 25):
            det.feed(["d"], seg(25), ts[i:i + 25], x[i:i + 25])
    fits = a.fits
    assert fits >= 1
    whole = a.feed(["d"], seg(60), ts[300:360], x[300:360])
    part = b.feed(["d"], seg(40), ts[300:340], x[300:340])
    assert a.fits == b.fits == fits  # no refit due within these rows
    np.testing.assert_array_equal(part, whole[:40])
    assert np.isfinite(whole).all() and (whole[35:] >= 0.5).all()


def test_false_alarm_rate_on_held_back_normal_data_lands_near_its_target() -> None:
    train, test = process(2000, seed=3), process(20_000, seed=4)
    scores = judge_table(np.vstack([train, test]), train_rows=2000).scores[2000:]
    interval_ms = 60_000.0
    for p in (0.01, 0.001):
        rate = p * MONTH_MS / interval_ms  # false alerts per month at one reading a minute
        threshold, clear = threshold_for_rate(rate, interval_ms, ModelDetectorConfig())
        assert clear < threshold
        observed = float((scores >= threshold).mean())
        assert p / 3 <= observed <= 3 * p, (p, observed)


def test_a_fault_in_two_metrics_is_explained_by_those_two() -> None:
    x = process(1200, seed=5)
    sd = x[:800].std(axis=0)
    shift = np.zeros(D)
    shift[[1, 4]] = [2.0 * sd[1], -2.0 * sd[4]]  # two metrics, two spreads each
    x[1000:] += shift
    judged = judge_table(x, train_rows=800)
    flagged = np.flatnonzero(judged.scores[1000:] >= 0.5) + 1000
    assert len(flagged) > 100
    named = []
    for row in flagged.tolist():
        e = judged.explain(row, METRICS)
        assert e is not None
        named.append({c["metric"] for c in e["contributions"][:2]} == {"m1", "m4"})
    # A single reading's noise may push a third metric ahead now and then.
    assert np.mean(named) > 0.95
    # And before the fault no row is explained as anything: nothing was flagged.
    assert (judged.scores[800:1000] < 0.5).mean() > 0.98
