"""Per-device windows for the univariate detector: exact means, causal, chunking-proof."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rules.anomaly_scores import AnomalyScorer

WINDOW_MS = 10_000


class Recorder:
    """A detector stand-in that records the window means it is fed and scores them."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def update_many(self, values: np.ndarray) -> np.ndarray:
        self.seen += values[:, 0].tolist()
        return values[:, 0] / 1000.0

    def state_dict(self) -> dict:
        return {}


def reference(rows: list[tuple[int, int, float]]) -> tuple[dict[int, list[float]], list[float]]:
    """Per device the means of its closed windows, and per row the score it should read
    (that of the device's latest closed window before it, NaN if none): a plain loop."""
    means: dict[int, list[float]] = {}
    open_: dict[int, tuple[int, list[float]]] = {}
    last: dict[int, float] = {}
    scores = []
    for dev, ts, v in rows:
        w = ts // WINDOW_MS
        if dev in open_ and open_[dev][0] != w:
            m = float(np.mean(open_[dev][1]))
            means.setdefault(dev, []).append(m)
            last[dev] = m / 1000.0
            del open_[dev]
        open_.setdefault(dev, (w, []))[1].append(v)
        scores.append(last.get(dev, float("nan")))
    return means, scores


def feed(scorer: AnomalyScorer, rows: list[tuple[int, int, float]]) -> np.ndarray:
    """Rows (device, ts, value) in arrival order, grouped and sorted as the engine does."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1]))
    devs = sorted({rows[i][0] for i in order})
    seg = np.array([devs.index(rows[i][0]) for i in order])
    ts = np.array([rows[i][1] for i in order], dtype=np.int64)
    vals = np.array([rows[i][2] for i in order])
    got = scorer.scores("m", [f"d{d}" for d in devs], seg, ts, vals)
    out = np.empty(len(rows))
    out[order] = got
    return out


# Gaps mostly within a window (several readings per window), sometimes across many.
gaps = st.one_of(st.integers(0, 3_000), st.integers(0, 30_000))
streams = st.lists(st.tuples(st.integers(0, 2), gaps, st.integers(0, 100)),
                   min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(steps=streams, cuts=st.lists(st.integers(0, 60), max_size=5))
@example(steps=[(0, 0, 10), (1, 0, 7), (0, 0, 30), (0, 20_000, 5)], cuts=[2])  # window spans
def test_windows_in_any_batching_match_a_per_row_loop(steps, cuts) -> None:
    # Per device, event time only increases (the live lane's guarantee).
    clock: dict[int, int] = {}
    rows = []
    for dev, gap, v in steps:
        clock[dev] = clock.get(dev, 0) + 1 + gap
        rows.append((dev, clock[dev], float(v)))
    want_means, want_scores = reference(rows)
    made: list[Recorder] = []
    scorer = AnomalyScorer(make=lambda: made.append(Recorder()) or made[-1],
                           window_s=WINDOW_MS / 1000)
    bounds = sorted({0, len(rows), *(c for c in cuts if c < len(rows))})
    got = np.concatenate([feed(scorer, rows[a:b]) for a, b in itertools.pairwise(bounds)])
    np.testing.assert_allclose(got, want_scores, equal_nan=True)
    fed = sorted(r.seen for r in made)
    assert fed == sorted(want_means.values())


def test_missing_values_neither_score_nor_enter_a_window() -> None:
    scorer = AnomalyScorer(make=Recorder, window_s=WINDOW_MS / 1000)
    ts = np.array([0, 1000, 2000, 11_000, 12_000], dtype=np.int64)
    vals = np.array([10.0, np.nan, 30.0, np.nan, 50.0])
    got = scorer.scores("m", ["a"], np.zeros(5, dtype=np.int64), ts, vals)
    assert np.isnan(got[[0, 1, 2, 3]]).all()
    assert got[4] == 20.0 / 1000  # the mean of 10 and 30; the NaN left no trace
