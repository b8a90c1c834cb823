"""The fleet model's mathematics (numpy and scikit-learn, pure): fitting locations,
scales and the Mahalanobis metric to normal history, and scoring rows against a fit.
Why the model has this shape is in `model_detector`'s docstring; how its statistics
become probabilities is in `calibration`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.covariance import EmpiricalCovariance

MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class ModelDetectorConfig:
    history: int = 20_000        # rows kept for fitting (all devices of the model)
    span_s: float = 2 * 86_400   # the ring should reach back this far in event time
    sample_s: float = 30.0       # at least this long between one device's sampled rows
    min_fit_rows: int = 200      # cold start: rows in the ring before the first fit
    # cold start: event time the ring must span. A day: a fit that saw only part of
    # a daily cycle calls the rest novel (and, not learning alarms, never adopts it).
    min_span_s: float = 86_400.0
    min_device_rows: int = 12    # a device is scored once a fit saw this many of its rows
    refit_every_s: float = 3_600.0  # refit schedule, in event time
    eig_floor: float = 0.02      # eigenvalue floor, as a fraction of the mean eigenvalue
    smooth_s: float = 300.0      # streams: time constant of the sustained (EWMA) channel
    smooth_rows: float = 10.0    # tables (rows without a time axis): the same, in rows
    tail_from: float = 0.9       # the tail model starts at this quantile of held-back rows
    alarm_p: float = 1e-3        # score 0.5: normal held-back rows exceed it this rarely
    learn_below: float = 0.5     # rows scoring at least this (an alarm) are not learned
    min_run: float = 3.0         # a repeat-run limit is never below this many readings
    run_quantile: float = 0.99   # the normal run limit: this quantile of history's runs


@dataclass
class Scatter:
    """Where each device normally sits and the metric of distances around it."""

    devices: dict[str, np.ndarray]  # device id -> its location (median)
    scale: np.ndarray                # per metric: spread around the location
    weight: np.ndarray               # (metrics, metrics): inverse floored covariance


@dataclass
class Centred:
    """Normal rows about their devices' locations, and each metric's spread: the costly
    part of a fit (medians per device), shared by fits that differ in `inflate` only."""

    devices: dict[str, np.ndarray]
    z: np.ndarray       # kept rows minus their device's location
    scale: np.ndarray
    floor: np.ndarray   # per metric: 1e-6 of its magnitude (a constant metric's scale)


def centre(x: np.ndarray, owners: np.ndarray, names: list[str], cfg: ModelDetectorConfig
           ) -> Centred | None:
    """Per-device medians and per-metric spreads; None if the rows are too few."""
    if len(x) < cfg.min_fit_rows:
        return None
    ids, group, counts = np.unique(owners, return_inverse=True, return_counts=True)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    # Every device's median at once: rows sorted by device, then value, per metric.
    med = np.empty((len(ids), x.shape[1]))
    for j in range(x.shape[1]):
        v = x[np.lexsort((x[:, j], group)), j]
        med[:, j] = 0.5 * (v[starts + (counts - 1) // 2] + v[starts + counts // 2])
    enough = counts >= cfg.min_device_rows
    keep = enough[group]
    if keep.sum() < cfg.min_fit_rows:
        return None
    locs = {names[int(k)]: med[i] for i, k in enumerate(ids.tolist()) if enough[i]}
    z = x[keep] - med[group[keep]]
    # Scale by the SD, not the MAD: a daily cycle makes a metric bimodal (day and
    # night), and the MAD of the busier mode would call the other one anomalous.
    # Values beyond 6 MADs are clipped first, so a fault in the history barely counts.
    mad = np.median(np.abs(z - np.median(z, axis=0)), axis=0) * MAD_TO_SD
    lim = 6.0 * np.where(mad > 1e-9, mad, np.inf)
    sd = np.clip(z, -lim, lim).std(axis=0)
    return Centred(locs, z, sd, 1e-6 * (1 + np.abs(x).max(0)))


def scatter_of(c: Centred, cfg: ModelDetectorConfig, inflate: np.ndarray | None = None
               ) -> Scatter:
    """The Mahalanobis metric of centred rows. `inflate` (per metric, >= 1) widens
    scales that held-back rows showed to be too narrow (a metric that wanders slowly
    beyond what a fit sees)."""
    # A constant metric gets a tiny scale, so any change from it stands out.
    scale = np.where(c.scale > 1e-9, c.scale, c.floor)
    if inflate is not None:
        scale = scale * inflate
    z = np.clip(c.z / scale, -6.0, 6.0)
    cov = EmpiricalCovariance().fit(z).covariance_.reshape(z.shape[1], z.shape[1])
    # All directions, not the leading components alone: a direction that barely
    # varied in training (two metrics that always move together) is where a broken
    # relation shows. Its eigenvalue is floored, so the distance stays finite.
    eig, basis = np.linalg.eigh(cov)
    inv = 1.0 / np.maximum(eig, cfg.eig_floor * max(float(eig.mean()), 1e-12))
    return Scatter(c.devices, scale, (basis * inv) @ basis.T)


def fit_scatter(x: np.ndarray, owners: np.ndarray, names: list[str], cfg: ModelDetectorConfig,
                inflate: np.ndarray | None = None) -> Scatter | None:
    """Per-device medians, per-metric scales and the Mahalanobis metric; None if the
    rows are too few."""
    c = centre(x, owners, names, cfg)
    return None if c is None else scatter_of(c, cfg, inflate)


def deviations(s: Scatter, values: np.ndarray, locs: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """(z, contributions): each metric's deviation from the device's location in its
    own scale, and its share of the squared Mahalanobis distance (z_j * (W z)_j;
    they sum to the distance, a metric pulling against the others counts negative)."""
    z = (values - locs) / s.scale
    return z, z * (z @ s.weight)


def repeat_runs(seg: np.ndarray, x: np.ndarray, last: np.ndarray, last_run: np.ndarray
                ) -> np.ndarray:
    """Per row and metric: readings in a row, up to this one, with this exact value.

    Rows sorted by segment (device), then time; `last`/`last_run` (segments, metrics)
    are each segment's value and run before the batch (NaN/0 if none).
    """
    n = len(x)
    first = np.ones(n, dtype=bool)
    first[1:] = seg[1:] != seg[:-1]
    prev = np.empty_like(x)
    prev[1:] = x[:-1]
    prev[first] = last[seg[first]]
    same = x == prev
    # Run length = rows since the last row that differed, plus the carried run when
    # the batch's first rows continue it.
    idx = np.arange(n)[:, None]
    start = np.where(~same, idx, -1)
    start[first] = np.where(same[first], -1, idx[first])
    seg_start = np.flatnonzero(first)
    begin = np.repeat(seg_start, np.diff(np.append(seg_start, n)))
    start = np.maximum.accumulate(start, axis=0)
    continues = start < begin[:, None]  # no break since the segment's first row
    carried = last_run[seg]
    return np.where(continues, idx - begin[:, None] + 1 + carried, idx - start + 1)


def smooth(seg: np.ndarray, alpha: np.ndarray, values: np.ndarray, carried: np.ndarray
           ) -> np.ndarray:
    """Per-segment exponentially weighted means of `values` (rows, k), in row order.

    Rows sorted by segment, then time; `alpha[i]` is row i's weight (1: start afresh);
    `carried` (segments, k) is each segment's mean before the batch (NaN: none yet).
    The loop runs over positions within a segment, every segment at once: as many
    steps as the longest segment has rows.
    """
    n = len(values)
    out = np.empty_like(values)
    if n == 0:
        return out
    first = np.ones(n, dtype=bool)
    first[1:] = seg[1:] != seg[:-1]
    starts = np.flatnonzero(first)
    lengths = np.diff(np.append(starts, n))
    state = carried[seg[starts]].copy()
    a = alpha[:, None]
    for k in range(int(lengths.max())):
        live = lengths > k
        rows = starts[live] + k
        was = state[live]
        new = (1.0 - a[rows]) * was + a[rows] * values[rows]
        state[live] = np.where(np.isnan(was), values[rows], new)  # nothing carried yet
        out[rows] = state[live]
    return out
