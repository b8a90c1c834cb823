"""Multivariate anomaly detector shared by all devices of one model (numpy only).

Why this shape:

* Devices of one model behave alike up to an offset (installation, supply, load),
  so the *location* is per device (the median of its own normal history) while the
  *scatter* (how the metrics vary and co-vary around it) is learned from the whole
  fleet of that model: a new device borrows the fleet's experience.
* Each metric is divided by its spread around the device's location (the SD after
  clipping at 6 MADs: a daily cycle makes a metric bimodal, where a MAD would call
  the quieter mode anomalous), then the squared Mahalanobis distance is taken in the
  eigenbasis of the scatter. Eigenvalues are floored at a fraction of their mean, so
  a direction that barely varied in training (two metrics that always move
  together) still gives a large but finite distance when broken: this is PCA
  reconstruction error and the in-subspace distance in one figure.
* The distance is calibrated on normal rows the fit did not see (the newest third of
  the history, scored by a fit of the older two thirds), so the calibration includes
  slow wander and daily cycles and one threshold fits every model: score 0.5 means
  `vigilance` times farther than all but 1 % of unseen normal readings (the 1 %, not
  0.1 %: a high quantile of a history that may hold a few faults measures the faults).
* A stuck sensor reads a plausible value, so no distance sees it; it repeats that
  value exactly, though. Each reading also carries, per metric, how many readings
  in a row the device has reported that very value; the fit learns how long such
  runs get in normal operation (quantised, slow metrics repeat legitimately), and
  a run twice that long scores 0.5 whatever the distance says.
* Scoring a reading is a matrix product: a whole batch, across devices, is scored
  at once (cheap enough for every raw reading at ingest rates).

Learning is causal and bounded: rows scoring as normal are sampled into a history
ring (at most one row per device per `sample_s`, widened with fleet size so the ring
spans `span_s` of event time); the model is refitted from that ring on a schedule
(every `refit_every_s` of event time), always *before* the batch it then scores, so
a score never uses the readings it judges. Until the first fit (`min_fit_rows` rows
spanning `min_span_s`), and for a device until it has `min_device_rows` rows in a
fit, scores are NaN: no alert on cold start.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, fields
from typing import Any

import numpy as np

from rules.anomaly.fleet_fit import (
    Fit,
    ModelDetectorConfig,
    fit,
    novelty,
    repeat_runs,
    to_score,
)

STATE_VERSION = 1


class ModelDetector:
    """One detector for all devices of a model, over a fixed list of metrics."""

    def __init__(self, metrics: tuple[str, ...], config: ModelDetectorConfig | None = None
                 ) -> None:
        if len(metrics) < 2:
            raise ValueError("a multivariate detector needs at least two metrics")
        self.metrics = tuple(metrics)
        self.cfg = config or ModelDetectorConfig()
        d = len(metrics)
        self.names: list[str] = []          # devices seen, in order of first sight
        self._index: dict[str, int] = {}
        self.ring = np.zeros((self.cfg.history, d))
        self.owner = np.zeros(self.cfg.history, dtype=np.int64)
        self.ring_ts = np.zeros(self.cfg.history, dtype=np.int64)
        self.ring_run = np.ones((self.cfg.history, d))
        self.last_value: dict[str, np.ndarray] = {}  # device -> its latest reading
        self.last_run: dict[str, np.ndarray] = {}    # device -> repeat runs at it
        self.pushed = 0                     # rows ever put in the ring
        self.sampled_at: dict[str, int] = {}  # device -> event time of its last sampled row
        self.newest_ts = -1
        self.fit: Fit | None = None
        self.fits = 0

    # -- streaming -------------------------------------------------------------------
    def feed(self, devices: list[str], seg: np.ndarray, ts: np.ndarray, values: np.ndarray
             ) -> np.ndarray:
        """Score a batch, then learn from it; one score per row (NaN: not scored).

        `devices[seg[i]]` is row i's device, `ts` its event time in ms, `values`
        (rows, metrics) in `self.metrics` order. A due refit happens first, from what
        earlier batches taught, so a batch is never judged by a model that saw it.
        """
        x = np.asarray(values, dtype=float).reshape(len(ts), len(self.metrics))
        if len(x) == 0:
            return np.zeros(0)
        self._maybe_refit(int(ts.max()))
        runs = self._repeat_runs(devices, seg, x)
        scores = self.score(devices, seg, x, runs)
        self._learn(devices, seg, ts, x, runs, scores)
        self.newest_ts = max(self.newest_ts, int(ts.max()))
        return scores

    def _repeat_runs(self, devices: list[str], seg: np.ndarray, x: np.ndarray) -> np.ndarray:
        d = len(self.metrics)
        nan, zero = np.full(d, np.nan), np.zeros(d)
        last = np.array([self.last_value.get(n, nan) for n in devices]).reshape(-1, d)
        last_run = np.array([self.last_run.get(n, zero) for n in devices]).reshape(-1, d)
        runs = repeat_runs(seg, x, last, last_run)
        ends = np.append(np.flatnonzero(seg[1:] != seg[:-1]), len(seg) - 1)
        for i in ends.tolist():
            self.last_value[devices[seg[i]]] = x[i].copy()
            self.last_run[devices[seg[i]]] = runs[i].copy()
        return runs

    def score(self, devices: list[str], seg: np.ndarray, values: np.ndarray,
              runs: np.ndarray | None = None) -> np.ndarray:
        """Scores in [0, 1] with the current fit, no learning; NaN where not scored."""
        out = np.full(len(values), np.nan)
        f = self.fit
        if f is None:
            return out
        d = len(self.metrics)
        known = np.array([name in f.devices for name in devices], dtype=bool)
        locs = np.array([f.devices.get(name, np.full(d, np.nan)) for name in devices]
                        ).reshape(len(devices), d)
        rows = known[seg] & np.isfinite(values).all(axis=1)
        if rows.any():
            run = np.ones_like(values) if runs is None else runs
            nov = novelty(f, values[rows], locs[seg[rows]], run[rows], self.cfg.vigilance)
            out[rows] = to_score(nov, self.cfg.vigilance)
        return out

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
        new = fit(self.ring[order], self.owner[order], self.names, self.cfg,
                  at_ts=self.newest_ts, runs=self.ring_run[order])
        if new is None:
            return False
        self.fit, self.fits = new, self.fits + 1
        return True

    # -- persistence -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-safe snapshot (arrays as base64 float64: exact and compact)."""
        filled = min(self.pushed, self.cfg.history)
        f = self.fit
        return {
            "version": STATE_VERSION,
            "config": asdict(self.cfg),
            "metrics": list(self.metrics),
            "names": self.names,
            "ring": _b64(self.ring[:filled]),
            "owner": _b64(self.owner[:filled].astype(np.float64)),
            "ring_ts": _b64(self.ring_ts[:filled].astype(np.float64)),
            "ring_run": _b64(self.ring_run[:filled]),
            "last_value": {k: _b64(v) for k, v in self.last_value.items()},
            "last_run": {k: _b64(v) for k, v in self.last_run.items()},
            "pushed": self.pushed,
            "sampled_at": self.sampled_at,
            "newest_ts": self.newest_ts,
            "fits": self.fits,
            "fit": None if f is None else {
                "devices": {k: _b64(v) for k, v in f.devices.items()},
                "scale": _b64(f.scale), "basis": _b64(f.basis), "inv_eig": _b64(f.inv_eig),
                "calib": f.calib, "at_ts": f.at_ts, "rows": f.rows,
                "run_limit": _b64(f.run_limit)},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ModelDetector:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported model detector state version "
                             f"{state.get('version')!r}")
        names = {f.name for f in fields(ModelDetectorConfig)}
        cfg = ModelDetectorConfig(**{k: v for k, v in state["config"].items() if k in names})
        det = cls(tuple(state["metrics"]), cfg)
        d = len(det.metrics)
        det.names = list(state["names"])
        det._index = {name: i for i, name in enumerate(det.names)}
        ring = _unb64(state["ring"]).reshape(-1, d)
        det.ring[: len(ring)] = ring
        det.owner[: len(ring)] = _unb64(state["owner"]).astype(np.int64)
        det.ring_ts[: len(ring)] = _unb64(state["ring_ts"]).astype(np.int64)
        det.ring_run[: len(ring)] = _unb64(state["ring_run"]).reshape(-1, d)
        det.last_value = {k: _unb64(v) for k, v in state["last_value"].items()}
        det.last_run = {k: _unb64(v) for k, v in state["last_run"].items()}
        det.pushed = int(state["pushed"])
        det.sampled_at = {k: int(v) for k, v in state["sampled_at"].items()}
        det.newest_ts = int(state["newest_ts"])
        det.fits = int(state["fits"])
        f = state["fit"]
        if f is not None:
            det.fit = Fit({k: _unb64(v) for k, v in f["devices"].items()}, _unb64(f["scale"]),
                          _unb64(f["basis"]).reshape(d, d), _unb64(f["inv_eig"]),
                          float(f["calib"]), int(f["at_ts"]), int(f["rows"]),
                          _unb64(f["run_limit"]))
        return det


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode("ascii")


def _unb64(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f8").copy()


def score_table(values: np.ndarray, train_rows: int,
                config: ModelDetectorConfig | None = None) -> np.ndarray:
    """Scores for a single-device table whose first `train_rows` rows are known-normal.

    Fitted once on those rows (the CLI's `--train-rows`); NaN where not scored
    (the training rows themselves, rows with a missing value, too few training rows).
    """
    cfg = config or ModelDetectorConfig()
    x = np.asarray(values, dtype=float)
    d = x.shape[1]
    out = np.full(len(x), np.nan)
    runs = repeat_runs(np.zeros(len(x), dtype=np.int64), x, np.full((1, d), np.nan),
                       np.zeros((1, d)))
    train = min(train_rows, len(x))
    f = fit(x[:train], np.zeros(train, dtype=np.int64), ["table"], cfg, runs=runs[:train])
    if f is None:
        return out
    rest, rest_runs = x[train:], runs[train:]
    ok = np.isfinite(rest).all(axis=1)
    scored = np.full(len(rest), np.nan)
    nov = novelty(f, rest[ok], f.devices["table"][None, :], rest_runs[ok], cfg.vigilance)
    scored[ok] = to_score(nov, cfg.vigilance)
    out[train:] = scored
    return out
