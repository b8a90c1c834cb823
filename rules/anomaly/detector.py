"""Streaming, causal anomaly detector (numpy only).

Design (one set of defaults for all data, nothing fitted per file):

* Each metric column is a *channel*.  At every reading the channel forms a short
  embedding of its recent past (the last few values plus their local spread) and
  measures the distance to the nearest embeddings it has seen before (a bounded
  memory that excludes the last few rows, so a pattern never matches itself).
* The distance is expressed relative to the range the metric has shown so far
  (like an adaptive-resonance "vigilance"): a reading is novel when its recent shape
  is far, in units of the metric's own range, from every remembered shape.  This is
  scale free, so the same threshold serves every metric.
* A second channel per metric watches the log of the metric's spread over a longer
  window (a stuck sensor, a sudden change of noise level) the same way, relative to
  the range of that log-spread.
* With several metrics a joint channel does the same on the vector of all metrics,
  each scaled into its own range, which catches broken relations between metrics.
* The channel novelties are combined by their maximum and mapped to a score in
  [0, 1] (0.5 at the default threshold).  After a detection, scores are damped for a
  while so that one incident raises one alert.

``update(ts, values) -> score`` is strictly causal: the score at time t uses only
readings up to t.  ``score_batch`` is the vectorised equivalent for a whole table (same
scores up to rounding) and hands back the detector with the state the stream would
have left.  ``state_dict()`` / ``AnomalyDetector.from_state()`` round-trip the
whole state (JSON-safe), so a restarted detector continues exactly where it stopped.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Any

import numpy as np

from rules.anomaly.memory import Channel, DetectorConfig, Ring, history_length, to_score

STATE_VERSION = 1
SMALL_BLOCK = 8  # update_many feeds blocks up to this size row by row


class AnomalyDetector:
    """Streaming detector for one device: a fixed set of numeric metrics per reading."""

    def __init__(self, n_metrics: int, config: DetectorConfig | None = None,
                 warmup: int | None = None) -> None:
        if n_metrics < 1:
            raise ValueError("at least one metric is needed")
        self.cfg = config or DetectorConfig()
        cfg = self.cfg
        self.n_metrics = n_metrics
        self.warmup = cfg.warmup if warmup is None else max(int(warmup), cfg.warmup)
        self.hist = Ring(history_length(cfg),
                          n_metrics)
        self.channels = [Channel(cfg, cfg.lags + 1) for _ in range(n_metrics)]
        self.spread = ([Channel(cfg, 1) for _ in range(n_metrics)]
                       if cfg.spread_channel else [])
        self.slo = np.full(n_metrics, np.inf)
        self.shi = np.full(n_metrics, -np.inf)
        self.joint = Channel(cfg, n_metrics) if n_metrics > 1 else None
        self.lo = np.full(n_metrics, np.inf)
        self.hi = np.full(n_metrics, -np.inf)
        self.last = np.full(n_metrics, np.nan)
        self.count = 0
        self.since_detect = 10**9
        self.last_ts: Any = None
        self.last_novelty = 0.0

    # -- streaming -------------------------------------------------------------------
    def update(self, ts: Any, values: Any) -> float:
        """Feed one reading (timestamp, vector of metric values); return its score."""
        cfg = self.cfg
        x = np.asarray(values, dtype=float).reshape(-1)
        if x.shape[0] != self.n_metrics:
            raise ValueError(f"expected {self.n_metrics} values, got {x.shape[0]}")
        # missing values: carry the last one forward (0 before any was seen)
        bad = ~np.isfinite(x)
        if bad.any():
            x = np.where(bad, np.where(np.isfinite(self.last), self.last, 0.0), x)
        self.last = x
        self.last_ts = ts
        self.count += 1
        self.hist.push(x)
        np.minimum(self.lo, x, out=self.lo)
        np.maximum(self.hi, x, out=self.hi)
        rng = self.hi - self.lo
        rng = np.where(rng > 1e-12 * (1.0 + np.abs(self.hi)), rng, np.inf)
        novelty = 0.0
        if self.hist.n >= self.hist.buf.shape[0]:
            recent = self.hist.last(cfg.spread_window)
            lagged = recent[-cfg.lags:]
            spread = recent.std(axis=0) * math.sqrt(cfg.lags)
            for j, ch in enumerate(self.channels):
                emb = np.append(lagged[:, j], spread[j])
                novelty = max(novelty, ch.step(emb) / rng[j])
            if self.spread:
                finite = np.isfinite(rng)
                wide = self.hist.last(cfg.stuck_window).std(axis=0)
                ls = np.log(wide + cfg.spread_floor * np.where(finite, rng, 1.0))
                np.minimum(self.slo, ls, out=self.slo)
                np.maximum(self.shi, ls, out=self.shi)
                srng = self.shi - self.slo
                for j, ch in enumerate(self.spread):
                    d = ch.step(ls[j : j + 1])
                    if finite[j] and srng[j] > 1e-9:
                        novelty = max(novelty, d / srng[j])
            if self.joint is not None:
                scaled = np.where(np.isfinite(rng), (x - self.lo) / rng, 0.0)
                novelty = max(novelty, self.joint.step(scaled))
        self.last_novelty = novelty
        return self._emit(novelty)

    def update_many(self, values: Any, timestamps: Any = None) -> np.ndarray:
        """Feed a block of readings (rows, metrics) at once; one score per row.

        Vectorised; equivalent to calling ``update`` for each row in order. A short
        block takes the row-by-row path: the vectorised one copies the whole memory
        per call, which costs more than a few rows' neighbour searches.
        """
        x = np.asarray(values, dtype=float)
        if x.ndim == 2 and len(x) <= SMALL_BLOCK:
            prev = self.last_ts
            scores = np.array([self.update(None, row) for row in x], dtype=float)
            has_ts = timestamps is not None and len(timestamps)
            self.last_ts = timestamps[-1] if has_ts else prev
            return scores
        scores = update_many(self, x)[0]
        if timestamps is not None and len(timestamps):
            self.last_ts = timestamps[-1]
        return scores

    def _emit(self, novelty: float) -> float:
        cfg = self.cfg
        if self.count <= self.warmup:
            return 0.0
        score = to_score(novelty, cfg)
        self.since_detect += 1
        if self.since_detect <= cfg.suppress:
            score *= cfg.damp
        elif score >= cfg.threshold:
            self.since_detect = 0
        return score

    def is_anomaly(self, score: float) -> bool:
        return score >= self.cfg.threshold

    # -- persistence -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-safe snapshot of the whole state."""
        def fin(a: np.ndarray) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in a.tolist()]

        return {
            "version": STATE_VERSION,
            "config": asdict(self.cfg),
            "n_metrics": self.n_metrics,
            "warmup": self.warmup,
            "hist": self.hist.state(),
            "channels": [c.state() for c in self.channels],
            "joint": self.joint.state() if self.joint is not None else None,
            "spread": [c.state() for c in self.spread],
            "slo": fin(self.slo),
            "shi": fin(self.shi),
            "lo": fin(self.lo),
            "hi": fin(self.hi),
            "last": fin(self.last),
            "count": self.count,
            "since_detect": self.since_detect,
            "last_ts": None if self.last_ts is None else str(self.last_ts),
            "last_novelty": self.last_novelty,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AnomalyDetector:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported detector state version {state.get('version')!r}")
        names = {f.name for f in fields(DetectorConfig)}
        cfg = DetectorConfig(**{k: v for k, v in state["config"].items() if k in names})
        d = cls(int(state["n_metrics"]), cfg, warmup=int(state["warmup"]))

        def arr(v: list[float | None], fill: float) -> np.ndarray:
            return np.asarray([fill if x is None else x for x in v], dtype=float)

        d.hist = Ring.from_state(state["hist"])
        d.channels = [Channel.from_state(cfg, s) for s in state["channels"]]
        d.joint = Channel.from_state(cfg, state["joint"]) if state["joint"] else None
        d.spread = [Channel.from_state(cfg, s) for s in state["spread"]]
        d.slo = arr(state["slo"], np.inf)
        d.shi = arr(state["shi"], -np.inf)
        d.lo = arr(state["lo"], np.inf)
        d.hi = arr(state["hi"], -np.inf)
        d.last = arr(state["last"], np.nan)
        d.count = int(state["count"])
        d.since_detect = int(state["since_detect"])
        d.last_ts = state["last_ts"]
        d.last_novelty = float(state["last_novelty"])
        return d


def _ordered(r: Ring) -> np.ndarray:
    """The rows a ring still holds, oldest first."""
    return r.last(min(r.n, r.size))


def _ring_of(rows: np.ndarray, size: int, n: int) -> Ring:
    """The ring left by ``n`` pushes whose last ``len(rows)`` rows are ``rows``."""
    r = Ring(size, rows.shape[1])
    keep = min(len(rows), size)
    if keep:
        r.buf[np.arange(n - keep, n) % size] = rows[len(rows) - keep:]
    r.n = n
    return r


def _knn_batch(emb: np.ndarray, start: int, pushed_before: int, cfg: DetectorConfig,
               block: int = 32) -> np.ndarray:
    """RMS distance of ``emb[start:]`` to the k nearest among the embeddings ``gap`` to
    ``gap + memory`` steps earlier in ``emb``: exactly what the streaming channel
    computes.  ``emb[:start]`` is what the channel remembered; ``pushed_before`` is how
    many embeddings the channel had been fed before ``emb[0]``."""
    n, dim = emb.shape
    out = np.zeros(n - start)
    gap, mem, k = cfg.gap, cfg.memory, cfg.k
    first = max(start, gap + k - pushed_before)  # fewer remembered than k: distance 0
    sq = np.einsum("ij,ij->i", emb, emb)
    for p0 in range(first, n, block):
        p1 = min(n, p0 + block)
        c0, c1 = max(0, p0 - gap - mem), p1 - gap
        d2 = sq[p0:p1, None] + sq[None, c0:c1] - 2.0 * (emb[p0:p1] @ emb[c0:c1].T)
        np.maximum(d2, 0.0, out=d2)
        c = np.arange(c0, c1)[None, :]
        p = np.arange(p0, p1)[:, None]
        d2[(c >= p - gap) | (c < p - gap - mem)] = np.inf
        out[p0 - start:p1 - start] = np.sqrt(
            np.partition(d2, k - 1, axis=1)[:, :k] / dim).mean(axis=1)
    return out


def update_many(det: AnomalyDetector, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Feed a block of readings (rows, metrics) to ``det`` at once, vectorised.

    Equivalent to calling ``det.update`` row by row (the same scores up to floating-point
    rounding, the same state afterwards).  Returns ``(scores, novelty)``.
    """
    cfg = det.cfg
    m = det.n_metrics
    x = np.asarray(values, dtype=float)
    if x.ndim == 1:
        x = x[:, None] if m == 1 else x[None, :]
    if x.shape[1] != m:
        raise ValueError(f"expected {m} values per row, got {x.shape[1]}")
    n = len(x)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    # carry missing values forward (0 before any was seen)
    bad = ~np.isfinite(x)
    if bad.any():
        prev = np.where(np.isfinite(det.last), det.last, 0.0)
        idx = np.where(~bad, np.arange(n)[:, None], -1)
        np.maximum.accumulate(idx, axis=0, out=idx)
        x = np.where(idx >= 0, x[np.maximum(idx, 0), np.arange(m)[None, :]], prev[None, :])
    lo = np.minimum.accumulate(np.vstack([det.lo[None, :], x]), axis=0)[1:]
    hi = np.maximum.accumulate(np.vstack([det.hi[None, :], x]), axis=0)[1:]
    rng = hi - lo
    rng = np.where(rng > 1e-12 * (1.0 + np.abs(hi)), rng, np.inf)
    h = history_length(cfg)
    before = _ordered(det.hist)[-(h - 1):] if h > 1 else np.zeros((0, m))
    xx = np.vstack([before, x])           # rows the windows may reach back to
    off = len(before)
    count0 = det.count
    # steps (rows of x) at which the channels are fed: the history is full
    fed = np.flatnonzero(count0 + np.arange(1, n + 1) >= h)
    novelty = np.zeros(n)
    if len(fed):
        t = fed + off                      # positions in xx
        sw = np.lib.stride_tricks.sliding_window_view(xx, cfg.spread_window, axis=0)
        spread = sw[t - cfg.spread_window + 1].std(axis=-1) * math.sqrt(cfg.lags)
        finite = np.isfinite(rng[fed])
        nov = np.zeros(len(fed))
        if cfg.spread_channel:
            ww = np.lib.stride_tricks.sliding_window_view(xx, cfg.stuck_window, axis=0)
            wide = ww[t - cfg.stuck_window + 1].std(axis=-1)
            ls = np.log(wide + cfg.spread_floor * np.where(finite, rng[fed], 1.0))
            slo_run = np.minimum.accumulate(np.vstack([det.slo[None, :], ls]), axis=0)[1:]
            shi_run = np.maximum.accumulate(np.vstack([det.shi[None, :], ls]), axis=0)[1:]
            det.slo, det.shi = slo_run[-1].copy(), shi_run[-1].copy()
        for j in range(m):
            ch = det.channels[j]
            emb = np.column_stack([xx[t - cfg.lags + 1 + i, j] for i in range(cfg.lags)]
                                  + [spread[:, j]])
            nov = np.maximum(nov, _feed(ch, emb, cfg) / rng[fed, j])
            if cfg.spread_channel:
                d = _feed(det.spread[j], ls[:, j : j + 1], cfg)
                srng = shi_run[:, j] - slo_run[:, j]
                ok = finite[:, j] & (srng > 1e-9)
                nov = np.maximum(nov, np.where(ok, d / np.where(ok, srng, 1.0), 0.0))
        if det.joint is not None:
            scaled = np.where(np.isfinite(rng[fed]), (x[fed] - lo[fed]) / rng[fed], 0.0)
            nov = np.maximum(nov, _feed(det.joint, scaled, cfg))
        novelty[fed] = nov
    # sequential part: warm-up and damping after a detection (cheap)
    scores = np.zeros(n)
    raw = novelty / (novelty + cfg.vigilance)
    since = det.since_detect
    for i in range(max(0, det.warmup - count0), n):
        s_ = float(raw[i])
        since += 1
        if since <= cfg.suppress:
            s_ *= cfg.damp
        elif s_ >= cfg.threshold:
            since = 0
        scores[i] = s_
    # the state the stream would have left
    det.hist = _ring_of(xx, det.hist.size, det.hist.n + n)
    det.lo, det.hi = lo[-1].copy(), hi[-1].copy()
    det.last = x[-1].copy()
    det.count = count0 + n
    det.since_detect = since
    det.last_novelty = float(novelty[-1])
    return scores, novelty


def _feed(ch: Channel, emb: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """Vectorised ``ch.step`` over the rows of ``emb``; updates the channel's memory."""
    known = _ordered(ch.mem)
    allemb = np.vstack([known, emb])
    before = ch.mem.n - len(known)
    d = _knn_batch(allemb, len(known), before, cfg)
    ch.mem = _ring_of(allemb, ch.mem.size, ch.mem.n + len(emb))
    return d


def score_batch(values: np.ndarray, config: DetectorConfig | None = None,
                train_rows: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                        AnomalyDetector]:
    """Score a whole (rows, metrics) table with a fresh detector, vectorised.

    Returns ``(scores, novelty, is_anomaly, detector)``: the same scores as feeding the
    rows one by one (up to floating-point rounding); the detector holds the state the
    stream would have left, so scoring can continue with ``update`` / ``update_many``.
    The first ``train_rows`` rows, if given, are known-normal: learned from, never flagged.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    det = AnomalyDetector(x.shape[1], config, warmup=train_rows)
    scores, novelty = update_many(det, x)
    flags = (scores >= det.cfg.threshold).astype(np.int8)
    return scores, novelty, flags, det
