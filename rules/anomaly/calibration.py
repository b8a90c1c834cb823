"""From the fleet model's distances to probabilities: calibration on held-back rows.

A distance means nothing until one knows how far *unseen* normal rows land: limits
taken on the rows a model was fitted on are far too tight (on the Tennessee Eastman
process, PCA's 99 % training limits flag a quarter of normal test rows). So the
history is split forward in time, as the detector meets data in the field: a fit of
the oldest half scores the next eighth, a fit of the oldest five eighths the next,
and so on. Those held-back statistics tell

* per metric, how much wider than its in-fit spread a metric's held-back deviations
  are (a metric that wanders slowly beyond what any fit sees: its scale is widened
  by that factor, so its slow drift does not read as an anomaly); and
* the tail of each statistic (the row's own distance, and its exponentially
  weighted mean per device), as an exponential tail above the 90th percentile:
  p(s) = p_u * exp(-(s - u) / beta). Quantiles far beyond the held-back rows (one
  false alert a month at one reading a second) are extrapolated by that tail.

Scores are -log10 of those probabilities mapped into [0, 1]: `score = L / (L + c)`
with `c = -log10(alarm_p)`, so a score of 0.5 is a row that held-back normal rows
exceed with probability `alarm_p`, and a target false-alarm rate is a score
threshold (`threshold_for_rate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from rules.anomaly.fleet_fit import (
    ModelDetectorConfig,
    Scatter,
    centre,
    deviations,
    scatter_of,
    smooth,
)

FOLDS = (0.5, 0.625, 0.75, 0.875, 1.0)  # forward-chained: fit before, score after
MEDIAN_CHI2_1 = 0.4549                   # median of a squared standard normal
MONTH_MS = 30 * 86_400_000
# A tail from fewer held-back rows rests on a handful of exceedances: no calibration.
MIN_HELD_BACK = 100


@dataclass(frozen=True)
class Tail:
    """The exceedance probability of a statistic beyond `u`: p_u * exp(-(s - u) / beta)."""

    u: float
    p_u: float
    beta: float

    def at(self, log_p: float) -> float:
        """The statistic whose exceedance probability is 10**-log_p."""
        return self.u + self.beta * math.log(10.0) * (log_p + math.log10(self.p_u))

    def log_p(self, s: np.ndarray) -> np.ndarray:
        """-log10 of the probability that a normal row's statistic is at least `s` (>= 0)."""
        out = -math.log10(self.p_u) + (s - self.u) / (self.beta * math.log(10.0))
        return np.asarray(np.maximum(out, 0.0), dtype=np.float64)

    @classmethod
    def of(cls, s: np.ndarray, start: float) -> Tail:
        u = float(np.quantile(s, start))
        above = s[s > u]
        p_u = max(len(above) / len(s), 1.0 / len(s))
        beta = float((above - u).mean()) if len(above) else 0.0
        return cls(u, p_u, max(beta, 1e-9 * (1.0 + abs(u))))


@dataclass(frozen=True)
class Calibration:
    inflate: np.ndarray  # per metric: held-back spread / in-fit spread (>= 1)
    instant: Tail        # the row's own squared distance
    sustained: Tail      # its exponentially weighted mean per device (of capped values)
    held_back: int       # rows the tails were taken on
    cap: float           # distances enter the mean capped here (the instant alarm level)


def cap_at(instant: Tail, cfg: ModelDetectorConfig) -> float:
    """Where the sustained channel caps each distance: where the instant channel alone
    alarms. Above it the instant channel speaks; below it a huge excursion would
    keep the mean high long after the readings are normal again."""
    return instant.at(-math.log10(cfg.alarm_p))


def capped(t2: np.ndarray, contrib: np.ndarray, cap: float) -> np.ndarray:
    """Contributions scaled so their sum (the squared distance) is at most `cap`."""
    factor = np.minimum(1.0, cap / np.maximum(t2, 1e-300))
    return np.asarray(contrib * factor[:, None], dtype=np.float64)


# alpha(owners, order) -> per-row smoothing weights for rows in that order
Alphas = Callable[[np.ndarray], np.ndarray]


def calibrate(x: np.ndarray, owners: np.ndarray, names: list[str], cfg: ModelDetectorConfig,
              alphas: Alphas) -> Calibration | None:
    """Scale inflation and tails from forward-chained held-back rows (oldest first).

    `alphas(rows)` gives the smoothing weight of each of `rows` (indices into `x`) when
    fed in that order, per device. None when too few rows are held back: a fold fit
    needs half of `cfg.min_fit_rows` rows, and the tails `MIN_HELD_BACK` rows.
    """
    cuts = [int(f * len(x)) for f in FOLDS]
    fold_cfg = _fold_config(cfg)
    folds = []
    for a, b in pairwise(cuts):
        c = centre(x[:a], owners[:a], names, fold_cfg)
        if c is None:
            continue
        rows = np.arange(a, b)
        rows = rows[np.array([names[int(k)] in c.devices for k in owners[rows]], dtype=bool)]
        folds.append((c, rows))
    if sum(len(r) for _, r in folds) < MIN_HELD_BACK:
        return None
    z = np.vstack([_held_back(x, owners, names, scatter_of(c, fold_cfg), r)[0]
                   for c, r in folds])
    inflate = np.maximum(1.0, np.sqrt(np.median(z**2, axis=0) / MEDIAN_CHI2_1))
    rows = np.concatenate([r for _, r in folds])
    t2 = np.concatenate([_held_back(x, owners, names, scatter_of(c, fold_cfg, inflate), r)[1]
                         for c, r in folds])
    instant = Tail.of(t2, cfg.tail_from)
    cap = cap_at(instant, cfg)
    order = np.argsort(owners[rows], kind="stable")  # by device, then time
    seg = np.cumsum(np.r_[True, owners[rows][order][1:] != owners[rows][order][:-1]]) - 1
    sustained = smooth(seg, alphas(rows[order]), np.minimum(t2[order], cap)[:, None],
                       np.full((int(seg[-1]) + 1, 1), np.nan))[:, 0]
    return Calibration(inflate, instant, Tail.of(sustained, cfg.tail_from), len(rows), cap)


def _fold_config(cfg: ModelDetectorConfig) -> ModelDetectorConfig:
    from dataclasses import replace

    return replace(cfg, min_fit_rows=max(cfg.min_fit_rows // 2, 10))


def _held_back(x: np.ndarray, owners: np.ndarray, names: list[str], s: Scatter,
               rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z, squared distance) of `rows`, scored by `s`, a fit of the rows before them."""
    locs = np.array([s.devices[names[int(k)]] for k in owners[rows]]).reshape(len(rows), -1)
    z, contrib = deviations(s, x[rows], locs)
    return z, contrib.sum(axis=1)


def to_score(log_p: np.ndarray, cfg: ModelDetectorConfig) -> np.ndarray:
    """-log10 p in [0, inf) to a score in [0, 1); 0.5 at p = `alarm_p`."""
    c = -math.log10(cfg.alarm_p)
    return np.asarray(log_p / (log_p + c), dtype=np.float64)


def threshold_for_rate(false_alerts_per_month: float, interval_ms: float,
                       cfg: ModelDetectorConfig) -> tuple[float, float]:
    """(threshold, clear) scores for a target rate of false alerts per device per month.

    Each reading of a normally working device may exceed the threshold with probability
    rate x interval / month; exceedances come in runs, so alerts are fewer still. The
    alert clears where normal readings exceed the score ten times as often.
    """
    p = min(false_alerts_per_month * max(interval_ms, 1.0) / MONTH_MS, 0.5)
    log_p = np.array([-math.log10(p), max(-math.log10(p) - 1.0, 0.0)])
    threshold, clear = to_score(log_p, cfg).tolist()
    return threshold, clear
