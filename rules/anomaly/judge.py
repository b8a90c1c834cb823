"""Scoring rows against a fit of the fleet model, and explaining each score.

A row's evidence comes from three channels, each as -log10 of the probability that
a normal row shows as much (`calibration`):

* instant: the row's own squared distance from its device's normal;
* sustained: the exponentially weighted mean of that distance per device;
* stuck: the longest run of one exact value among its metrics, against the fit's
  normal run limit (twice the limit is the alarm level).

The score is the strongest channel (the two distance channels at half the
probability each: two looks at one distance). The explanation names the channel and
the metrics that moved: their share of the deviations from the device's
normal, each in its own spread (absolute; of the row, or of its weighted mean; for a stuck
reading its run against the limit), and that deviation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rules.anomaly.calibration import capped, to_score
from rules.anomaly.fleet_fit import ModelDetectorConfig, deviations, smooth

if TYPE_CHECKING:
    from rules.anomaly.model_fit import Fit

CHANNELS = ("instant", "sustained", "stuck")
MIN_SHARE = 0.05  # metrics below this share of the evidence are not named


@dataclass
class Judged:
    """Per row: score (NaN: not scored), winning channel (-1: none), the per-metric
    weights that channel's evidence is made of, each metric's deviation, and the
    instant channel's own score (what decides whether a row is learned as normal)."""

    scores: np.ndarray
    channel: np.ndarray
    weight: np.ndarray
    deviation: np.ndarray
    instant: np.ndarray

    @classmethod
    def empty(cls, n: int, d: int) -> Judged:
        return cls(np.full(n, np.nan), np.full(n, -1, dtype=np.int8), np.zeros((n, d)),
                   np.zeros((n, d)), np.full(n, np.nan))

    def put(self, rows: np.ndarray, part: Judged) -> None:
        self.instant[rows] = part.instant
        self.scores[rows] = part.scores
        self.channel[rows] = part.channel
        self.weight[rows] = part.weight
        self.deviation[rows] = part.deviation

    def hide(self, rows: np.ndarray) -> None:
        self.scores[rows] = np.nan
        self.channel[rows] = -1

    def explain(self, row: int, metrics: tuple[str, ...], top: int = 3
                ) -> dict[str, Any] | None:
        """Plain data: {"channel", "score", "contributions": [{"metric", "share",
        "deviation"}, ...]}, the metrics by share, largest first; None if not scored."""
        c = int(self.channel[row])
        if c < 0:
            return None
        w = np.maximum(self.weight[row], 0.0)
        total = float(w.sum())
        order = np.argsort(-w, kind="stable")[:top]
        named = [{"metric": metrics[j], "share": round(float(w[j]) / total, 3),
                  "deviation": round(float(self.deviation[row, j]), 2)}
                 for j in order.tolist() if total > 0 and w[j] / total >= MIN_SHARE]
        return {"channel": CHANNELS[c], "score": round(float(self.scores[row]), 3),
                "contributions": named}


def judge(f: Fit, cfg: ModelDetectorConfig, x: np.ndarray, locs: np.ndarray,
          runs: np.ndarray, seg: np.ndarray, alpha: np.ndarray, carried: np.ndarray
          ) -> tuple[Judged, np.ndarray]:
    """Judge rows (sorted by segment, then time; all known to the fit, no NaN).

    `alpha` is each row's weight in its segment's weighted mean, `carried` (segments,
    2 x metrics) each segment's means before (NaN: none). Returns the judgement and
    the means after each row (a segment's last row's is what to carry on).
    """
    d = x.shape[1]
    z, contrib = deviations(f.scatter, x, locs)
    cal = f.calibration
    t2 = contrib.sum(axis=1)
    state = smooth(seg, alpha, np.hstack([capped(t2, contrib, cal.cap), z]), carried)
    s_contrib, s_z = state[:, :d], state[:, d:]
    instant = cal.instant.log_p(t2)
    sustained = cal.sustained.log_p(s_contrib.sum(axis=1))
    ratio = runs / f.run_limit
    stuck = -math.log10(cfg.alarm_p) * ratio.max(axis=1) / 2.0
    distance = np.maximum(instant, sustained) - math.log10(2.0)
    log_p = np.maximum(np.maximum(distance, stuck), 0.0)
    channel = np.where(stuck > distance, 2, np.where(sustained > instant, 1, 0)).astype(np.int8)
    pick = channel[:, None]
    # Shares by absolute deviation in each metric's own spread: the terms of the
    # Mahalanobis distance (z_j (W z)_j), and reconstruction-based contributions
    # alike, smear a two-metric fault onto a third metric correlated with both
    # (measured: tests/rules/test_model_anomaly_quality.py); a metric's own deviation
    # names the metrics that moved.
    weight = np.where(pick == 0, np.abs(z), np.where(pick == 1, np.abs(s_z),
                                                np.where(ratio >= 1.0, ratio, 0.0)))
    deviation = np.where(pick == 1, s_z, z)
    return Judged(to_score(log_p, cfg), channel, weight, deviation,
                  to_score(instant, cfg)), state
