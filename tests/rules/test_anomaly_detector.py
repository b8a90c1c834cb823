"""The streaming anomaly detector: causality, restart, cold start, detection quality."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from rules.anomaly.detector import AnomalyDetector, DetectorConfig, score_batch

PERIOD = 96


def score_table(values: np.ndarray, config: DetectorConfig | None = None,
                train_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The stream as a gateway's readings reach it: one row at a time through `update`
    (the reference that `score_batch` must agree with)."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    det = AnomalyDetector(values.shape[1], config, warmup=train_rows)
    scores = np.array([det.update(None, row) for row in values])
    return scores, (scores >= det.cfg.threshold).astype(np.int8)


def noisy_sine(n: int = 3000, seed: int = 1, noise: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10.0 + 2.0 * np.sin(2 * np.pi * t / PERIOD) + noise * rng.standard_normal(n)


def flagged(values: np.ndarray, **kw: object) -> np.ndarray:
    _, _, flags, _ = score_batch(values, **kw)  # the vectorised path (equal to streaming)
    return np.flatnonzero(flags)


def test_clean_noisy_sine_is_not_flagged() -> None:
    for seed in (1, 2, 3):
        assert len(flagged(noisy_sine(seed=seed))) <= 1


def test_scores_are_in_unit_interval() -> None:
    x = noisy_sine()
    x[2000] += 30
    scores, flags = score_table(x)
    assert np.all((scores >= 0) & (scores <= 1))
    assert set(np.unique(flags)) <= {0, 1}


@pytest.mark.parametrize("kind", ["spike", "dip", "level_shift", "stuck", "noise_burst"])
def test_injected_faults_are_detected_promptly(kind: str) -> None:
    x = noisy_sine()
    at = 2000
    if kind == "spike":
        x[at] += 8.0
    elif kind == "dip":
        x[at] -= 8.0
    elif kind == "level_shift":
        x[at:] += 6.0
    elif kind == "stuck":
        x[at:at + 300] = x[at]
    elif kind == "noise_burst":
        x[at:at + 100] += np.random.default_rng(9).normal(0, 1.5, 100)
    hits = flagged(x)
    assert hits.size, f"{kind} not detected"
    after = hits[hits >= at]
    assert after.size and after[0] - at <= PERIOD // 2, f"{kind}: detections {hits}"
    assert (hits < at).sum() <= 1, f"{kind}: false alarms before the fault {hits}"


def test_causal_appending_future_rows_never_changes_past_scores() -> None:
    x = noisy_sine(1200)
    full, _ = score_table(x)
    future = x.copy()
    future[800:] += 50.0  # wildly different future
    changed, _ = score_table(future)
    assert np.array_equal(full[:800], changed[:800])
    prefix, _ = score_table(x[:500])
    assert np.array_equal(full[:500], prefix)


def test_state_round_trip_through_json_continues_exactly() -> None:
    x = np.column_stack([noisy_sine(1500), noisy_sine(1500, seed=5)[::-1]])
    x[1100, 0] += 9.0
    whole, _ = score_table(x)
    det = AnomalyDetector(2)
    first = [det.update(i, row) for i, row in enumerate(x[:700])]
    saved = json.dumps(det.state_dict())
    restored = AnomalyDetector.from_state(json.loads(saved))
    rest = [restored.update(i, row) for i, row in enumerate(x[700:], start=700)]
    assert np.array_equal(np.array(first + rest), whole)


def test_cold_start_flags_nothing_before_warm_up() -> None:
    cfg = DetectorConfig()
    x = noisy_sine(1000)
    x[20] += 50.0
    x[100:140] = 0.0
    scores, flags = score_table(x, cfg)
    assert not flags[: cfg.warmup].any()
    assert not scores[: cfg.warmup].any()


def test_train_rows_are_never_flagged_and_extend_warm_up() -> None:
    x = noisy_sine(1500)
    x[600] += 20.0
    x[1200] += 20.0
    hits = flagged(x, train_rows=800)
    assert not (hits < 800).any()
    assert 1200 in hits


def test_multivariate_broken_relation_is_detected() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    base = 2.0 * np.sin(2 * np.pi * np.arange(n) / PERIOD)
    a = base + 0.05 * rng.standard_normal(n)
    b = 3.0 * base + 0.05 * rng.standard_normal(n)
    b[2000:2100] = -b[2000:2100]  # each column stays in its range, the relation breaks
    hits = flagged(np.column_stack([a, b]))
    assert ((hits >= 2000) & (hits < 2100)).any(), hits
    assert (hits < 2000).sum() <= 1


def test_missing_values_are_tolerated() -> None:
    x = noisy_sine(800)
    x[300:305] = np.nan
    scores, _ = score_table(x)
    assert np.all(np.isfinite(scores))


def test_wrong_number_of_values_is_refused() -> None:
    det = AnomalyDetector(2)
    with pytest.raises(ValueError, match="expected 2 values"):
        det.update(0, [1.0])


def test_batch_path_matches_streaming_and_hands_over_its_state() -> None:
    rng = np.random.default_rng(8)
    x = np.column_stack([noisy_sine(1800), rng.normal(0, 1, 1800)])
    x[1300, 1] += 12.0
    x[200:204, 0] = np.nan
    stream = AnomalyDetector(2)
    streamed = np.array([stream.update(i, row) for i, row in enumerate(x)])
    batch, _, flags, det = score_batch(x[:1200])
    np.testing.assert_allclose(batch, streamed[:1200], rtol=0, atol=1e-9)
    assert np.array_equal(flags, (streamed[:1200] >= 0.5).astype(np.int8))
    # the detector the batch leaves behind continues exactly like the stream
    restored = AnomalyDetector.from_state(json.loads(json.dumps(det.state_dict())))
    rest = np.array([restored.update(i, row) for i, row in enumerate(x[1200:], start=1200)])
    np.testing.assert_allclose(rest, streamed[1200:], rtol=0, atol=1e-9)


def test_batch_path_handles_short_and_empty_input() -> None:
    for n in (0, 1, 5, 40):
        scores, novelty, flags, _ = score_batch(np.ones((n, 3)))
        assert scores.shape == novelty.shape == flags.shape == (n,)
        assert not flags.any()


def test_update_many_in_any_chunks_equals_streaming() -> None:
    x = np.column_stack([noisy_sine(1400), noisy_sine(1400, seed=6) * 3])
    x[900, 0] += 8.0
    x[500:503, 1] = np.nan
    stream = AnomalyDetector(2)
    streamed = np.array([stream.update(i, row) for i, row in enumerate(x)])
    det = AnomalyDetector(2)
    bounds = [0, 1, 7, 60, 61, 700, 702, 1400]
    got = np.concatenate([det.update_many(x[a:b]) for a, b in itertools.pairwise(bounds)])
    np.testing.assert_allclose(got, streamed, rtol=0, atol=1e-9)
    # streaming, then a block, then streaming again
    mixed = AnomalyDetector(2)
    head = [mixed.update(i, row) for i, row in enumerate(x[:300])]
    middle = mixed.update_many(x[300:1000]).tolist()
    tail = [mixed.update(i, row) for i, row in enumerate(x[1000:], start=1000)]
    np.testing.assert_allclose(head + middle + tail, streamed, rtol=0, atol=1e-9)
    a, b = mixed.state_dict(), stream.state_dict()
    assert (a["count"], a["since_detect"]) == (b["count"], b["since_detect"])
    for key in ("channels", "spread"):
        for ca, cb in zip(a[key], b[key], strict=True):
            assert ca["mem"]["n"] == cb["mem"]["n"]
            np.testing.assert_allclose(ca["mem"]["buf"], cb["mem"]["buf"], atol=1e-9)
