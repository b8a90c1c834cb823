"""Multivariate anomaly detector shared by all devices of one model.

Why this shape (measured on the Tennessee Eastman process, `rules/README.md`):

* Devices of one model behave alike up to an offset (installation, supply, load),
  so the *location* is per device (the median of its own normal history) while the
  *scatter* (how the metrics vary and co-vary around it) is learned from the whole
  fleet of that model: a new device borrows the fleet's experience.
* Each metric is divided by its spread around the device's location, then the
  squared Mahalanobis distance is taken over *all* directions of the scatter, the
  eigenvalues floored at a fraction of their mean: a direction that barely varied in
  training (two metrics that always move together) gives a large but finite
  distance when broken. Keeping every direction is what beats PCA's leading
  components plus a residual: on TEP it detects 0.90 of faulty rows where PCA
  T²+Q detects 0.76 at the same false-alarm rate.
* Two channels read that distance: the row's own (a large sudden change), and its
  exponentially weighted mean per device over `smooth_s` (a small persistent shift,
  or a sensor that grew noisy: most faults of real processes). A row scores by
  the stronger of the two, each calibrated on held-back normal rows
  (`calibration`), so a score is a probability and a target false-alarm rate is a
  threshold.
* A stuck sensor reads a plausible value, so no distance sees it; it repeats that
  value exactly, though. Each reading also carries, per metric, how many readings
  in a row the device has reported that very value; the fit learns how long such
  runs get in normal operation (quantised, slow metrics repeat legitimately), and
  a run twice that long scores 0.5 whatever the distance says.
* Every score comes with its explanation: the metrics that contributed most to the
  channel that scored it (their share of the distance, and how many of their own
  spreads they sit from the device's normal).
* Scoring a batch is a matrix product across devices; the weighted means loop over
  positions within a device, not over rows (cheap enough for every raw reading).

Learning is causal and bounded: rows scoring as normal are sampled into a history
ring (at most one row per device per `sample_s`, widened with fleet size so the ring
spans `span_s` of event time); the model is refitted from that ring on a schedule
(every `refit_every_s` of event time), always *before* the batch it then scores, so
a score never uses the readings it judges. Until the first fit (`min_fit_rows` rows
spanning `min_span_s`), and for a device until it has `min_device_rows` rows in a
fit, scores are NaN: no alert on cold start. Persistence is in `model_state`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rules.anomaly.calibration import threshold_for_rate
from rules.anomaly.fleet_fit import ModelDetectorConfig
from rules.anomaly.judge import Judged, judge
from rules.anomaly.model_fit import Fit, fit_model

__all__ = ["Fit", "ModelDetector", "ModelDetectorConfig", "judge_table", "score_table"]


class ModelDetector:
    """One detector for all devices of a model, over a fixed list of metrics."""

    def __init__(self, metrics: tuple[str, ...], config: ModelDetectorConfig | None = None
                 ) -> None:
        if len(metrics) < 2:
            raise ValueError("a multivariate detector needs at least two metrics")
        self.metrics = tuple(metrics)
        self.cfg = config or ModelDetectorConfig()
        d, h = len(metrics), self.cfg.history
        self.names: list[str] = []          # devices seen, in order of first sight
        self._index: dict[str, int] = {}
        self.ring = np.zeros((h, d))
        self.owner = np.zeros(h, dtype=np.int64)
        self.ring_ts = np.zeros(h, dtype=np.int64)
        self.ring_run = np.ones((h, d))
        self.pushed = 0                     # rows ever put in the ring
        self.sampled_at: dict[str, int] = {}  # device -> event time of its last sampled row
        self.newest_ts = -1
        self.fit: Fit | None = None
        self.fits = 0
        # per device: its latest reading and repeat runs, the weighted means of the
        # sustained channel (contributions, then deviations), its latest scored
        # reading's time, and its typical interval between readings (ms)
        self.last_value: dict[str, np.ndarray] = {}
        self.last_run: dict[str, np.ndarray] = {}
        self.smoothed: dict[str, np.ndarray] = {}
        self.last_ts: dict[str, int] = {}
        self.interval: dict[str, float] = {}
        self.judged: Judged | None = None   # the latest batch's scores and explanations

    # -- streaming -------------------------------------------------------------------
    def feed(self, devices: list[str], seg: np.ndarray, ts: np.ndarray, values: np.ndarray
             ) -> np.ndarray:
        """Score a batch, then learn from it; one score per row (NaN: not scored).

        `devices[seg[i]]` is row i's device, `ts` its event time in ms, `values`
        (rows, metrics) in `self.metrics` order, rows sorted by device, then time. A due
        refit happens first, from what earlier batches taught, so a batch is never
        judged by a model that saw it. `self.judged` keeps the batch's explanations.
        """
        x = np.asarray(values, dtype=float).reshape(len(ts), len(self.metrics))
        if len(x) == 0:
            return np.zeros(0)
        ts = np.asarray(ts, dtype=np.int64)
        self._maybe_refit(int(ts.max()))
        runs = self._repeat_runs(devices, seg, x)
        self._track_intervals(devices, seg, ts)
        judged = self._judge(devices, seg, ts, x, runs)
        # A row is learned unless it alarms on its own (instant channel): a persistent
        # mild shift is learned, so a new operating regime (a daily cycle's next phase)
        # joins the normal history at the next refit instead of alarming for ever.
        self._learn(devices, seg, ts, x, runs, judged.instant)
        self.newest_ts = max(self.newest_ts, int(ts.max()))
        self.judged = judged
        return judged.scores

    def _repeat_runs(self, devices: list[str], seg: np.ndarray, x: np.ndarray) -> np.ndarray:
        from rules.anomaly.fleet_fit import repeat_runs

        d = len(self.metrics)
        nan, zero = np.full(d, np.nan), np.zeros(d)
        last = np.array([self.last_value.get(n, nan) for n in devices]).reshape(-1, d)
        last_run = np.array([self.last_run.get(n, zero) for n in devices]).reshape(-1, d)
        runs = repeat_runs(seg, x, last, last_run)
        for i in _segment_ends(seg).tolist():
            self.last_value[devices[seg[i]]] = x[i].copy()
            self.last_run[devices[seg[i]]] = runs[i].copy()
        return runs

    def _track_intervals(self, devices: list[str], seg: np.ndarray, ts: np.ndarray) -> None:
        """Each device's typical time between readings (for rate-based thresholds)."""
        prev = _previous(ts.astype(float), seg, np.array(
            [self.last_ts.get(n, np.nan) for n in devices], dtype=float))
        gap = ts - prev
        ok = np.isfinite(gap) & (gap > 0)
        if not ok.any():
            return
        n = np.bincount(seg[ok], minlength=len(devices))
        mean = np.bincount(seg[ok], weights=gap[ok], minlength=len(devices)) / np.maximum(n, 1)
        for k in np.flatnonzero(n).tolist():
            was = self.interval.get(devices[k])
            now = float(mean[k])
            self.interval[devices[k]] = now if was is None else 0.9 * was + 0.1 * now

    def _judge(self, devices: list[str], seg: np.ndarray, ts: np.ndarray, x: np.ndarray,
               runs: np.ndarray) -> Judged:
        f, d = self.fit, len(self.metrics)
        out = Judged.empty(len(x), d)
        known = np.array([f is not None and n in f.devices for n in devices], dtype=bool)
        rows = np.flatnonzero(known[seg] & np.isfinite(x).all(axis=1))
        if f is None or len(rows) == 0:
            return out
        rseg = seg[rows]
        names = [devices[k] for k in range(len(devices))]
        locs = np.array([f.devices.get(n, np.full(d, np.nan)) for n in names]).reshape(-1, d)
        carried = np.array([self.smoothed.get(n, np.full(2 * d, np.nan)) for n in names]
                           ).reshape(-1, 2 * d)
        prev = _previous(ts[rows].astype(float), rseg, np.array(
            [self.last_ts.get(n, np.nan) for n in names], dtype=float))
        alpha = _alpha(ts[rows] - prev, self.cfg.smooth_s * 1000.0)
        part, state = judge(f, self.cfg, x[rows], locs[rseg], runs[rows], rseg, alpha, carried)
        out.put(rows, part)
        for i in _segment_ends(rseg).tolist():
            name = names[rseg[i]]
            self.smoothed[name] = state[i]
            self.last_ts[name] = int(ts[rows][i])
        return out

    def explain(self, row: int, top: int = 3) -> dict[str, Any] | None:
        """The explanation of row `row` of the latest batch (None if it was not scored)."""
        return None if self.judged is None else self.judged.explain(row, self.metrics, top)

    def threshold_for_rate(self, device: str, false_alerts_per_month: float
                           ) -> tuple[float, float]:
        """(threshold, clear) scores for a target false-alert rate on one device."""
        interval = self.interval.get(device, 60_000.0)
        return threshold_for_rate(false_alerts_per_month, interval, self.cfg)

    def _sample_every_ms(self) -> float:
        # Widen the sampling interval with fleet size so the ring spans `span_s`.
        per_device = self.cfg.history / max(1, len(self.names))
        return 1000.0 * max(self.cfg.sample_s, self.cfg.span_s / per_device)

    def _learn(self, devices: list[str], seg: np.ndarray, ts: np.ndarray, x: np.ndarray,
               runs: np.ndarray, scores: np.ndarray) -> None:
        for name in devices:
            if name not in self._index:
                self._index[name] = len(self.names)
                self.names.append(name)
        every = self._sample_every_ms()
        # Unscored rows (cold start, a new device) count as normal history.
        normal = np.isfinite(x).all(axis=1) & ~(scores >= self.cfg.learn_below)
        # At most one row per device per `every` ms: the first normal row of each
        # (device, time bucket) whose bucket is later than the device's last sample.
        bucket = ts.astype(np.int64) // int(every)
        last = np.array([self.sampled_at.get(name, -1) // int(every)
                         if name in self.sampled_at else -1 for name in devices],
                        dtype=np.int64)
        normal &= bucket > last[seg]
        rows = np.flatnonzero(normal)
        if len(rows) == 0:
            return
        key = seg[rows].astype(np.int64) * (int(bucket.max()) + 1) + bucket[rows]
        _, first = np.unique(key, return_index=True)
        rows = rows[np.sort(first)]
        for i in rows.tolist():
            self.sampled_at[devices[seg[i]]] = int(ts[i])
        slots = (self.pushed + np.arange(len(rows))) % self.cfg.history
        if len(rows) > self.cfg.history:
            rows, slots = rows[-self.cfg.history:], slots[-self.cfg.history:]
        self.ring[slots] = x[rows]
        self.ring_ts[slots] = ts[rows]
        self.ring_run[slots] = runs[rows]
        self.owner[slots] = [self._index[devices[seg[i]]] for i in rows.tolist()]
        self.pushed += len(rows)

    def _maybe_refit(self, now_ts: int) -> None:
        # The schedule runs on the batch's event time; the fit uses earlier batches only.
        due = (self.fit is None
               or now_ts - self.fit.at_ts >= self.cfg.refit_every_s * 1000)
        filled = min(self.pushed, self.cfg.history)
        if not due or filled < self.cfg.min_fit_rows:
            return
        # A first fit on too short a stretch of time would call the next hour's
        # ordinary change (load, weather, wander) anomalous.
        span = int(self.ring_ts[:filled].max()) - int(self.ring_ts[:filled].min())
        if span >= self.cfg.min_span_s * 1000:
            self.refit()

    def refit(self) -> bool:
        """Fit again from the history ring now; False if it holds too little."""
        filled = min(self.pushed, self.cfg.history)
        order = (np.arange(self.pushed - filled, self.pushed) % self.cfg.history
                 if filled == self.cfg.history else np.arange(filled))  # oldest first
        owners, stamps = self.owner[order], self.ring_ts[order].astype(float)
        tau = self.cfg.smooth_s * 1000.0

        def alphas(rows: np.ndarray) -> np.ndarray:
            # rows arrive grouped by device, in time order within a device
            o, t = owners[rows], stamps[rows]
            gap = np.r_[np.inf, np.diff(t)]
            gap[np.r_[True, o[1:] != o[:-1]]] = np.inf
            return _alpha(gap, tau)

        new = fit_model(self.ring[order], owners, self.names, self.cfg, alphas,
                        at_ts=self.newest_ts, runs=self.ring_run[order])
        if new is None:
            return False
        self.fit, self.fits = new, self.fits + 1
        return True

    # -- persistence (`model_state`) ---------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-safe snapshot of the whole state."""
        from rules.anomaly import model_state

        return model_state.state_dict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ModelDetector:
        from rules.anomaly import model_state

        metrics, cfg = model_state.header(state)
        det = cls(metrics, cfg)
        model_state.restore(det, state)
        return det


def _segment_ends(seg: np.ndarray) -> np.ndarray:
    return np.append(np.flatnonzero(seg[1:] != seg[:-1]), len(seg) - 1)


def _previous(values: np.ndarray, seg: np.ndarray, carried: np.ndarray) -> np.ndarray:
    """Each row's predecessor within its segment; a segment's first row takes `carried`."""
    prev = np.empty_like(values)
    if len(values):
        prev[1:] = values[:-1]
        first = np.r_[True, seg[1:] != seg[:-1]]
        prev[first] = carried[seg[first]]
    return prev


def _alpha(gap: np.ndarray, tau: float) -> np.ndarray:
    """Weight of a new value in an exponentially weighted mean with time constant `tau`,
    `gap` after the previous one (NaN or inf: none before, weight 1)."""
    g = np.where(np.isfinite(gap), np.maximum(gap, 0.0), np.inf)
    return np.asarray(-np.expm1(-g / tau), dtype=np.float64)


def judge_table(values: np.ndarray, train_rows: int,
                config: ModelDetectorConfig | None = None) -> Judged:
    """Scores and explanations for a single-device table whose first `train_rows` rows
    are known-normal (the CLI's `--train-rows`).

    Fitted once on those rows, calibrated on forward-held-back parts of them; the rows
    are readings at equal steps, smoothed over `smooth_rows` rows. NaN where not scored
    (the training rows themselves, rows with a missing value, too few training rows).
    """
    from rules.anomaly.fleet_fit import repeat_runs

    cfg = config or ModelDetectorConfig()
    x = np.asarray(values, dtype=float)
    n, d = x.shape
    zero = np.zeros(n, dtype=np.int64)
    runs = repeat_runs(zero, x, np.full((1, d), np.nan), np.zeros((1, d)))
    train = min(train_rows, n)
    step = -math.expm1(-1.0 / cfg.smooth_rows)

    def alphas(rows: np.ndarray) -> np.ndarray:
        return np.asarray(np.r_[1.0, np.full(len(rows) - 1, step)][: len(rows)], dtype=float)

    f = fit_model(x[:train], zero[:train], ["table"], cfg, alphas, runs=runs[:train])
    out = Judged.empty(n, d)
    if f is None:
        return out
    rows = np.flatnonzero(np.isfinite(x).all(axis=1))
    alpha = np.r_[1.0, np.full(len(rows) - 1, step)][: len(rows)]
    locs = np.repeat(f.devices["table"][None, :], len(rows), axis=0)
    part, _ = judge(f, cfg, x[rows], locs, runs[rows], zero[rows], alpha,
                    np.full((1, 2 * d), np.nan))
    out.put(rows, part)
    out.hide(np.arange(train))  # known-normal rows are learned from, never judged
    return out


def score_table(values: np.ndarray, train_rows: int,
                config: ModelDetectorConfig | None = None) -> np.ndarray:
    """`judge_table`'s scores alone."""
    return np.asarray(judge_table(values, train_rows, config).scores, dtype=np.float64)
