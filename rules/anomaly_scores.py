"""Anomaly scores for the rules engine: what `anomaly` and `model_anomaly` conditions read.

* `anomaly` (one metric): a streaming detector per device and metric, fed the
  device's mean over each `WINDOW_S` window rather than every raw reading (see
  `rules.anomaly.windows` for why); a reading holds the score of its device's
  latest closed window.
* `model_anomaly` (several metrics): one multivariate detector per device model and
  set of metrics, scoring every reading of all its devices in one matrix product,
  each score with its explanation (the metrics that carried it).

Detectors learn in arrival order, so only the live lane feeds them; late (replayed)
readings are judged by the other conditions. Their state is exported and restored
whole, so a restart continues where the detectors stopped instead of warming up again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from rules.anomaly.detector import AnomalyDetector
from rules.anomaly.model_detector import ModelDetector
from rules.anomaly.windows import OpenWindow, close_windows

log = logging.getLogger("fieldpulse.rules")

Key = tuple[str, str]  # (device id, metric)
ModelKey = tuple[str, tuple[str, ...]]  # (model id, metrics scored together)
WINDOW_S = 300.0  # five minutes: the resolution the detector was designed on (NAB)


def explain_window(metric: str, score: float) -> dict[str, Any]:
    """An `anomaly` condition's explanation: its one metric, in the explanations' shape."""
    return {"channel": "window", "score": round(score, 3),
            "contributions": [{"metric": metric, "share": 1.0, "deviation": None}]}


class WindowDetector(Protocol):
    def update_many(self, values: Any) -> np.ndarray: ...
    def state_dict(self) -> dict[str, Any]: ...


class AnomalyScorer:
    def __init__(self, make: Callable[[], WindowDetector] = lambda: AnomalyDetector(1),
                 window_s: float = WINDOW_S) -> None:
        self._make = make
        self.window_ms = int(window_s * 1000)
        self._detectors: dict[Key, WindowDetector] = {}
        self._open: dict[Key, OpenWindow] = {}
        self._last: dict[Key, float] = {}  # score of the latest closed window
        self.changed: set[Key] = set()  # updated since the last export

    def scores(self, metric: str, devices: list[str], seg: np.ndarray, ts: np.ndarray,
               values: np.ndarray) -> np.ndarray:
        """One metric's rows of several devices (sorted by device, then event time).

        A missing value neither scores nor teaches (NaN). Rows before a device's first
        closed window are NaN too: the condition neither holds nor clears.
        """
        out = np.full(len(ts), np.nan)
        rows = np.flatnonzero(~np.isnan(values))
        if len(rows) == 0:
            return out
        keys = [(d, metric) for d in devices]
        closed, still_open = close_windows(seg[rows], ts[rows], values[rows], self.window_ms,
                                           [self._open.get(k) for k in keys])
        # Rows that follow no window closed in this batch hold the score known before it.
        held = np.array([self._last.get(k, np.nan) for k in keys])
        window_scores = np.empty(len(closed.mean))
        cuts = np.flatnonzero(np.diff(closed.device)) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(closed.mean)], strict=True):
            if a == b:
                continue
            key = keys[int(closed.device[a])]
            det = self._detectors.get(key)
            if det is None:
                det = self._detectors[key] = self._make()
            window_scores[a:b] = det.update_many(closed.mean[a:b, None])
            self._last[key] = float(window_scores[b - 1])
        latest = closed.latest
        out[rows] = held[seg[rows]]
        out[rows[latest >= 0]] = window_scores[latest[latest >= 0]]
        for k, w in zip(keys, still_open, strict=True):
            if w is not None:
                self._open[k] = w
                self.changed.add(k)
        return out

    def export(self) -> dict[Key, dict[str, Any]]:
        """States of the detectors changed since the last export."""
        out = {}
        for key in self.changed:
            det = self._detectors.get(key)
            w = self._open.get(key)
            out[key] = {"detector": det.state_dict() if det is not None else None,
                        "open": None if w is None else [w.index, w.total, w.count],
                        "last": self._last.get(key)}
        self.changed.clear()
        return out

    def restore(self, key: Key, state: dict[str, Any]) -> None:
        if "detector" not in state:  # saved before windows: the detector alone
            self._detectors[key] = AnomalyDetector.from_state(state)
            return
        if state["detector"] is not None:
            self._detectors[key] = AnomalyDetector.from_state(state["detector"])
        if state["open"] is not None:
            index, total, count = state["open"]
            self._open[key] = OpenWindow(int(index), float(total), int(count))
        if state["last"] is not None:
            self._last[key] = float(state["last"])


class ModelScorer:
    """The multivariate detectors, one per device model and set of metrics."""

    def __init__(self, make: Callable[[tuple[str, ...]], ModelDetector] = ModelDetector
                 ) -> None:
        self._make = make
        self.detectors: dict[ModelKey, ModelDetector] = {}
        self.changed: set[ModelKey] = set()

    def scores(self, model_id: str, inputs: tuple[str, ...], devices: list[str],
               seg: np.ndarray, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
        key = (model_id, inputs)
        det = self.detectors.get(key)
        if det is None:
            det = self.detectors[key] = self._make(inputs)
        self.changed.add(key)
        return det.feed(devices, seg, ts, values)

    def export(self) -> dict[ModelKey, dict[str, Any]]:
        out = {key: self.detectors[key].state_dict() for key in self.changed}
        self.changed.clear()
        return out

    def restore(self, key: ModelKey, state: dict[str, Any]) -> None:
        try:
            self.detectors[key] = ModelDetector.from_state(state)
        except ValueError as e:  # saved by an older detector: learn again from scratch
            log.warning("model anomaly detector %s not restored: %s", key, e)
