"""Scoring a table the way the ``anomaly`` commands do, and judging flags against labels.

``score_values`` is the one scoring path of ``anomaly score`` and ``anomaly
evaluate``: with known-normal training rows and two or more metrics, the
multivariate detector that ``model_anomaly`` rules use (fitted on those rows,
calibrated on forward-held-back parts of them); otherwise the streaming per-metric
detector behind ``anomaly`` rules.

``judge_flags`` compares flags with labels on the rows after the training rows:
a confusion matrix (pooled over files by ``summarise``: F1, false-alarm rate, missed
anomalies), and per labelled segment (a run of anomalous rows) whether it was
detected and after how many rows (and seconds, when the timestamps are numbers or
ISO dates).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from rules.anomaly.calibration import to_score
from rules.anomaly.detector import score_batch
from rules.anomaly.fleet_fit import ModelDetectorConfig
from rules.anomaly.model_detector import judge_table


@dataclass
class Scored:
    scores: np.ndarray               # in [0, 1]; 0 where nothing was scored
    flags: np.ndarray                # 0/1
    explanations: list[str] | None   # per row, the metrics behind a flag (multivariate)
    fitted: bool = True              # False: too few training rows to fit and calibrate


def _forward_fill(x: np.ndarray) -> np.ndarray:
    """Missing cells take the column's previous value (causal); leading ones stay NaN."""
    idx = np.where(np.isfinite(x), np.arange(len(x))[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    return np.asarray(x[idx, np.arange(x.shape[1])[None, :]], dtype=np.float64)


FALSE_ALARM_RATE = 0.005  # the multivariate flag: normal rows flagged one in 200


def flag_level(false_alarm_rate: float) -> float:
    """The score at which a normal row is flagged with probability `false_alarm_rate`,
    as calibrated on the training rows' held-back folds."""
    log_p = np.array([-math.log10(min(max(false_alarm_rate, 1e-12), 0.5))])
    return float(to_score(log_p, ModelDetectorConfig())[0])


def score_values(values: np.ndarray, columns: list[str], train_rows: int | None,
                 false_alarm_rate: float = FALSE_ALARM_RATE) -> Scored:
    """Score every row causally (see the module docstring for which detector); the
    multivariate detector flags rows whose score normal rows reach with probability
    `false_alarm_rate`."""
    x = np.asarray(values, dtype=float)
    if train_rows and x.shape[1] > 1:
        judged = judge_table(_forward_fill(x), train_rows)
        scores = np.nan_to_num(judged.scores, nan=0.0)
        flags = (scores >= flag_level(false_alarm_rate)).astype(np.int8)
        names = tuple(columns)
        text = []
        for i in range(len(x)):
            e = judged.explain(i, names) if flags[i] else None
            text.append("" if e is None else explanation_text(e))
        return Scored(scores, flags, text, bool(np.isfinite(judged.scores).any()))
    scores, _, flags, _ = score_batch(x, train_rows=train_rows)
    return Scored(scores, flags, None)


def explanation_text(e: dict[str, Any]) -> str:
    """`flow 0.62 (+3.1 sd); pressure 0.20 (-2.0 sd)`: share of the evidence, deviation."""
    return "; ".join(f"{c['metric']} {c['share']:.2f} ({c['deviation']:+.1f} sd)"
                     for c in e["contributions"])


def _seconds(stamp: str) -> float | None:
    try:
        v = float(stamp)
        return v / 1000.0 if v > 1e11 else v  # epoch milliseconds or seconds
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


@dataclass
class FileResult:
    name: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    segments: int = 0                      # labelled anomalous runs after the training rows
    delays_rows: list[int] = field(default_factory=list)      # of the detected ones
    delays_s: list[float] = field(default_factory=list)


def judge_flags(name: str, flags: np.ndarray, labels: np.ndarray, stamps: list[str],
                train_rows: int) -> FileResult:
    """Compare flags with labels on the rows after `train_rows`."""
    f = np.asarray(flags[train_rows:], dtype=bool)
    y = np.asarray(labels[train_rows:], dtype=bool)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, f, labels=[False, True]).ravel())
    out = FileResult(name, tp, fp, fn, tn)
    starts = np.flatnonzero(y & ~np.r_[False, y[:-1]])
    ends = np.flatnonzero(y & ~np.r_[y[1:], False])
    out.segments = len(starts)
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        hit = np.flatnonzero(f[a:b + 1])
        if len(hit) == 0:
            continue
        out.delays_rows.append(int(hit[0]))
        t0, t1 = _seconds(stamps[train_rows + a]), _seconds(stamps[train_rows + a + hit[0]])
        if t0 is not None and t1 is not None:
            out.delays_s.append(t1 - t0)
    return out


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def summarise(results: list[FileResult]) -> dict[str, Any]:
    """Pooled figures over all files' scored rows."""
    tp, fp = sum(r.tp for r in results), sum(r.fp for r in results)
    fn, tn = sum(r.fn for r in results), sum(r.tn for r in results)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    segments = sum(r.segments for r in results)
    rows = [d for r in results for d in r.delays_rows]
    secs = [d for r in results for d in r.delays_s]
    return {
        "files": len(results), "rows": tp + fp + fn + tn, "anomalous_rows": tp + fn,
        "f1": f1, "precision": precision, "recall": recall,
        "false_alarm_rate": _ratio(fp, fp + tn), "missed_anomaly_rate": _ratio(fn, tp + fn),
        "segments": segments, "segments_detected": len(rows),
        "median_delay_rows": statistics.median(rows) if rows else None,
        "median_delay_s": statistics.median(secs) if secs else None,
    }
