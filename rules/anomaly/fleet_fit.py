"""The fleet model's mathematics (numpy, pure): fitting locations, scales and the
scatter's eigenbasis to normal history, and scoring rows against a fit. Why the
model has this shape is in `model_detector`'s docstring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class ModelDetectorConfig:
    history: int = 20_000        # rows kept for fitting (all devices of the model)
    span_s: float = 2 * 86_400   # the ring should reach back this far in event time
    sample_s: float = 30.0       # at least this long between one device's sampled rows
    min_fit_rows: int = 200      # cold start: rows in the ring before the first fit
    min_span_s: float = 7_200.0  # cold start: event time the ring must span (2 h)
    min_device_rows: int = 12    # a device is scored once a fit saw this many of its rows
    refit_every_s: float = 3_600.0  # refit schedule, in event time
    eig_floor: float = 0.02      # eigenvalue floor, as a fraction of the mean eigenvalue
    quantile: float = 0.99       # calibration quantile of unseen normal distances
    vigilance: float = 2.0       # distance / calibration distance that scores 0.5
    learn_below: float = 0.5     # rows scoring at least this (an alarm) are not learned
    min_run: float = 3.0         # a repeat-run limit is never below this many readings


@dataclass
class Fit:
    devices: dict[str, np.ndarray]  # device id -> its location (median)
    scale: np.ndarray                # robust scale per metric
    basis: np.ndarray                # eigenvectors (columns)
    inv_eig: np.ndarray              # 1 / floored eigenvalue
    calib: float                     # training distance at `quantile`
    at_ts: int                       # event time of the fit
    rows: int                        # rows it was fitted on
    run_limit: np.ndarray            # per metric: the longest normal run of one value


def fit(values: np.ndarray, owners: np.ndarray, names: list[str], cfg: ModelDetectorConfig,
        at_ts: int = 0, runs: np.ndarray | None = None) -> Fit | None:
    """Fit location per device, fleet scatter and calibration; None if too little data.

    `values` (rows, metrics) are normal rows, oldest first; `owners[i]` indexes `names`.
    The calibration is honest: the newest third of the rows is scored by a fit of the
    older two thirds, so it reflects how far *unseen* normal rows land (slow wander,
    daily cycles), not how well the fit memorised its own rows.
    """
    x = np.asarray(values, dtype=float)
    ok = np.isfinite(x).all(axis=1)
    x, owners = x[ok], np.asarray(owners)[ok]
    run = np.ones_like(x) if runs is None else np.asarray(runs, dtype=float)[ok]
    full = _fit_scatter(x, owners, names, cfg)
    if full is None:
        return None
    cut = (2 * len(x)) // 3
    old = _fit_scatter(x[:cut], owners[:cut], names, cfg)
    calib = full[4]
    if old is not None:
        new_x, new_o = x[cut:], owners[cut:]
        known = np.array([names[int(k)] in old[0] for k in new_o], dtype=bool)
        if known.sum() >= cfg.min_fit_rows // 4:
            locs = np.array([old[0][names[int(k)]] for k in new_o[known]])
            d = _raw_distance(new_x[known], locs, *old[1:4])
            calib = max(calib, float(np.quantile(d, cfg.quantile)))
    locs_full, scale, basis, inv_eig, _ = full
    run_limit = np.maximum(np.quantile(run, cfg.quantile, axis=0), cfg.min_run)
    return Fit(locs_full, scale, basis, inv_eig, max(calib, 1e-6), int(at_ts), len(x),
               run_limit)


def _fit_scatter(x: np.ndarray, owners: np.ndarray, names: list[str], cfg: ModelDetectorConfig
                 ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, float
                            ] | None:
    """(locations, scale, basis, 1/eigenvalues, in-sample calibration distance) or None."""
    if len(x) < cfg.min_fit_rows:
        return None
    locs: dict[str, np.ndarray] = {}
    centred = np.empty_like(x)
    keep = np.zeros(len(x), dtype=bool)
    for k in np.unique(owners):
        mine = owners == k
        if mine.sum() >= cfg.min_device_rows:
            loc = np.median(x[mine], axis=0)
            locs[names[int(k)]] = loc
            centred[mine] = x[mine] - loc
            keep |= mine
    if keep.sum() < cfg.min_fit_rows:
        return None
    z = centred[keep]
    # Scale by the SD, not the MAD: a daily cycle makes a metric bimodal (day and
    # night), and the MAD of the busier mode would call the other one anomalous.
    # Values beyond 6 MADs are clipped first, so a fault in the history barely counts.
    mad = np.median(np.abs(z - np.median(z, axis=0)), axis=0) * MAD_TO_SD
    lim = 6.0 * np.where(mad > 1e-9, mad, np.inf)
    sd = np.clip(z, -lim, lim).std(axis=0)
    # A constant metric gets a tiny scale, so any change from it stands out.
    scale = np.where(sd > 1e-9, sd, 1e-6 * (1 + np.abs(x).max(0)))
    z = np.clip(z / scale, -6.0, 6.0)
    cov = np.cov(z, rowvar=False).reshape(z.shape[1], z.shape[1])
    eig, basis = np.linalg.eigh(cov)
    floor = cfg.eig_floor * max(float(eig.mean()), 1e-12)
    inv_eig = 1.0 / np.maximum(eig, floor)
    d = np.sqrt(((z @ basis) ** 2 * inv_eig).sum(axis=1))
    return locs, scale, basis, inv_eig, float(np.quantile(d, cfg.quantile))


def _raw_distance(values: np.ndarray, locs: np.ndarray, scale: np.ndarray, basis: np.ndarray,
                  inv_eig: np.ndarray) -> np.ndarray:
    z = (values - locs) / scale
    return np.asarray(np.sqrt(((z @ basis) ** 2 * inv_eig).sum(axis=1)), dtype=np.float64)


def distances(f: Fit, values: np.ndarray, locs: np.ndarray) -> np.ndarray:
    """Calibrated distance of each row from its device's location (1 = the quantile)."""
    return _raw_distance(values, locs, f.scale, f.basis, f.inv_eig) / f.calib


def novelty(f: Fit, values: np.ndarray, locs: np.ndarray, runs: np.ndarray,
            vigilance: float) -> np.ndarray:
    """The distance, or a repeat run's length against its normal limit if that says more
    (a run of twice the limit counts as the alarm level, `vigilance`)."""
    stuck = (runs / f.run_limit).max(axis=1) * (vigilance / 2.0)
    return np.asarray(np.maximum(distances(f, values, locs), stuck), dtype=np.float64)


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


def to_score(novelty: np.ndarray, vigilance: float) -> np.ndarray:
    return novelty / (novelty + vigilance)
