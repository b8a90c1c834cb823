"""The per-model multivariate detector: cold start, causality, refit schedule, restart."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.anomaly.fleet_fit import ModelDetectorConfig, repeat_runs
from rules.anomaly.model_detector import ModelDetector, score_table

METRICS = ("flow", "pressure", "temp")
DEVICES = [f"dev-{i}" for i in range(6)]
STEP_MS = 30_000
CFG = ModelDetectorConfig(min_fit_rows=150, min_device_rows=10, min_span_s=1800,
                          refit_every_s=3600)
# The load's cycle: the first fit (after `min_span_s`) spans one, as a fit in the
# field spans a day; a fit that saw half a cycle rightly calls the other half novel.
CYCLE = 60  # steps


def fleet(steps: int, seed: int = 0, start: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per step (ts, values): each device has its own offsets; flow and pressure move
    together with a shared load (pressure sags as flow rises), temp is independent."""
    rng = np.random.default_rng(seed)
    offsets = np.random.default_rng(99).normal(0, [2.0, 0.3, 3.0], (len(DEVICES), 3))
    out = []
    for step in range(start, start + steps):
        load = (0.5 + 0.5 * np.sin(2 * np.pi * step / CYCLE)
                + 0.1 * rng.standard_normal(len(DEVICES)))
        flow = 10 + 8 * load + 0.3 * rng.standard_normal(len(DEVICES))
        pressure = 4 - 1.0 * load + 0.03 * rng.standard_normal(len(DEVICES))
        temp = 40 + 0.5 * rng.standard_normal(len(DEVICES))
        out.append((np.full(len(DEVICES), step * STEP_MS, dtype=np.int64),
                    np.column_stack([flow, pressure, temp]) + offsets))
    return out


def feed(det: ModelDetector, steps: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    seg = np.arange(len(DEVICES))
    return np.array([det.feed(DEVICES, seg, ts, x) for ts, x in steps])


def test_cold_start_scores_nothing_until_enough_rows_over_enough_time() -> None:
    det = ModelDetector(METRICS, CFG)
    steps = iter(fleet(200))
    scores = [feed(det, [next(steps)])[0] for _ in range(20)]  # 10 minutes
    assert det.pushed < CFG.min_fit_rows and det.fit is None
    while det.pushed < CFG.min_fit_rows:
        scores.append(feed(det, [next(steps)])[0])
    assert det.fit is None  # enough rows, but from too short a time
    assert np.isnan(scores).all()
    ts, _ = next(steps)
    while det.fit is None:
        ts, x = next(steps)
        first = det.feed(DEVICES, np.arange(len(DEVICES)), ts, x)
    assert ts[0] >= CFG.min_span_s * 1000 and np.isfinite(first).all()


def test_a_new_device_is_not_scored_until_a_fit_knows_it() -> None:
    det = ModelDetector(METRICS, CFG)
    feed(det, fleet(300))
    ts, x = fleet(1, start=300)[0]
    got = det.feed([*DEVICES, "newcomer"], np.arange(7), np.append(ts, ts[0]),
                   np.vstack([x, x[0] + 50]))
    assert np.isfinite(got[:6]).all() and np.isnan(got[6])


def test_broken_relation_is_flagged_normal_operation_is_not() -> None:
    det = ModelDetector(METRICS, CFG)
    normal = feed(det, fleet(600))
    assert (normal[~np.isnan(normal)] >= 0.5).mean() < 0.002
    steps = fleet(40, start=600, seed=5)
    for _, x in steps[10:]:
        x[2, 1] += 1.0  # device 2: pressure high for its flow, both within their ranges
    scores = feed(det, steps)
    assert (scores[10:, 2] >= 0.5).mean() > 0.9
    others = np.delete(scores, 2, axis=1)
    assert (others >= 0.5).sum() <= 1


def test_a_batch_is_judged_only_by_what_came_before_it() -> None:
    history = fleet(300)
    a, b = ModelDetector(METRICS, CFG), ModelDetector(METRICS, CFG)
    np.testing.assert_array_equal(feed(a, history), feed(b, history))
    fits = a.fits
    # The next batch jumps past the refit schedule; in b's copy device 0 reads wildly.
    ts, x = fleet(1, start=500)[0]
    wild = x.copy()
    wild[0] = [200.0, -5.0, 90.0]
    seg = np.arange(len(DEVICES))
    got_a, got_b = a.feed(DEVICES, seg, ts, x), b.feed(DEVICES, seg, ts, wild)
    assert a.fits == b.fits == fits + 1
    np.testing.assert_array_equal(got_a[1:], got_b[1:])  # the outlier changed no other score
    assert got_b[0] > 0.9 > got_a[0]


def test_the_batch_that_triggers_a_refit_is_scored_by_a_fit_that_never_saw_it() -> None:
    det = ModelDetector(METRICS, CFG)
    feed(det, fleet(200))
    fits, rows = det.fits, det.fit.rows
    ts, x = fleet(1, start=400)[0]  # event time jumped past the refit schedule
    x = x.copy()
    x[0, 2] += 30.0  # an outlier in the very batch
    seg = np.arange(len(DEVICES))
    got = det.feed(DEVICES, seg, ts, x)
    assert det.fits == fits + 1 and det.fit.rows >= rows
    assert got[0] >= 0.5
    # The outlier scored as an alarm, so it was not learned as normal history either.
    assert not np.isclose(det.ring[: det.pushed], x[0]).all(axis=1).any()


def test_refits_follow_the_schedule_in_event_time() -> None:
    det = ModelDetector(METRICS, CFG)
    steps = iter(fleet(400))
    while det.fit is None:
        feed(det, [next(steps)])
    due = det.fit.at_ts + CFG.refit_every_s * 1000
    for ts, x in steps:
        if ts[0] >= due:
            break
        feed(det, [(ts, x)])
        assert det.fits == 1, "refitted before the hour was up"
    feed(det, [(ts, x)])
    assert det.fits == 2 and det.fit.at_ts == ts[0] - STEP_MS


def test_state_round_trip_through_json_continues_exactly() -> None:
    steps = fleet(700)
    whole = ModelDetector(METRICS, CFG)
    expected = feed(whole, steps)
    det = ModelDetector(METRICS, CFG)
    head = feed(det, steps[:350])
    restored = ModelDetector.from_state(json.loads(json.dumps(det.state_dict())))
    tail = feed(restored, steps[350:])
    np.testing.assert_array_equal(np.vstack([head, tail]), expected)
    assert restored.fits == whole.fits


def test_missing_values_score_nan_and_teach_nothing() -> None:
    det = ModelDetector(METRICS, CFG)
    feed(det, fleet(300))
    ts, x = fleet(1, start=300)[0]
    x[1, 0] = np.nan
    pushed = det.pushed
    got = det.feed(DEVICES, np.arange(6), ts + 10 * 60_000, x)
    assert np.isnan(got[1]) and np.isfinite(np.delete(got, 1)).all()
    assert not np.isnan(det.ring[: det.pushed]).any() and det.pushed > pushed


def test_table_scoring_with_known_normal_rows() -> None:
    steps = fleet(400)
    x = np.array([s[1][0] for s in steps])
    x[350, 1] += 1.2
    scores = score_table(x, train_rows=300, config=CFG)
    assert np.isnan(scores[:300]).all()
    assert scores[350] >= 0.5
    assert (np.delete(scores[300:], 50) >= 0.5).sum() == 0


def test_a_stuck_sensor_is_flagged_though_its_value_is_plausible() -> None:
    det = ModelDetector(METRICS, CFG)
    feed(det, fleet(300))
    steps = fleet(20, start=300, seed=7)
    frozen = steps[0][1][3, 2]
    for _, x in steps:
        x[3, 2] = frozen  # device 3's temperature repeats one ordinary reading
    scores = feed(det, steps)
    limit = int(det.fit.run_limit[2])
    assert (scores[: limit, 3] < 0.5).all()  # a few repeats are ordinary
    assert (scores[2 * limit:, 3] >= 0.5).all()
    assert (np.delete(scores, 3, axis=1) >= 0.5).sum() == 0


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 2), st.sampled_from([1.0, 2.0, np.nan])),
                     min_size=1, max_size=40),
       cut=st.integers(0, 40))
def test_repeat_runs_match_a_plain_loop_across_batches(rows, cut) -> None:
    want, last, run = [], {}, {}
    for dev, v in rows:
        run[dev] = run.get(dev, 0) + 1 if last.get(dev) == v else 1
        last[dev] = v
        want.append(run[dev])
    got = np.empty(len(rows))
    carry_v, carry_r = np.full((3, 1), np.nan), np.zeros((3, 1))
    for part in (range(min(cut, len(rows))), range(min(cut, len(rows)), len(rows))):
        idx = sorted(part, key=lambda i: (rows[i][0], i))  # by device, then arrival
        if not idx:
            continue
        seg = np.array([rows[i][0] for i in idx])
        x = np.array([[rows[i][1]] for i in idx])
        runs = repeat_runs(seg, x, carry_v, carry_r)
        got[idx] = runs[:, 0]
        for j, i in enumerate(idx):
            carry_v[rows[i][0]], carry_r[rows[i][0]] = x[j], runs[j]
    np.testing.assert_array_equal(got, want)
