"""A fit of the fleet model with its calibration: what the detector scores against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rules.anomaly.calibration import Calibration, calibrate
from rules.anomaly.fleet_fit import ModelDetectorConfig, Scatter, fit_scatter


@dataclass
class Fit:
    scatter: Scatter
    calibration: Calibration
    at_ts: int           # event time of the fit
    rows: int            # rows it was fitted on
    run_limit: np.ndarray  # per metric: the longest normal run of one value

    @property
    def devices(self) -> dict[str, np.ndarray]:
        return self.scatter.devices


def fit_model(values: np.ndarray, owners: np.ndarray, names: list[str],
              cfg: ModelDetectorConfig, alphas: Any, at_ts: int = 0,
              runs: np.ndarray | None = None) -> Fit | None:
    """Fit and calibrate on normal rows (oldest first); None if they are too few."""
    x = np.asarray(values, dtype=float)
    ok = np.isfinite(x).all(axis=1)
    x, owners = x[ok], np.asarray(owners)[ok]
    run = np.ones_like(x) if runs is None else np.asarray(runs, dtype=float)[ok]
    kept = np.flatnonzero(ok)
    cal = calibrate(x, owners, names, cfg, lambda rows: alphas(kept[rows]))
    if cal is None:  # no honest calibration yet: no scores (limits on the fit's own
        return None  # rows would flag a quarter of normal readings)
    scatter = fit_scatter(x, owners, names, cfg, cal.inflate)
    if scatter is None:
        return None
    run_limit = np.maximum(np.quantile(run, cfg.run_quantile, axis=0), cfg.min_run)
    return Fit(scatter, cal, int(at_ts), len(x), run_limit)
