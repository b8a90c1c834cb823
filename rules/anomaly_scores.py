"""Anomaly scores for the rules engine: one streaming detector per device metric.

A rule condition `anomaly` on a metric reads the score of that device's
detector for the metric. Detectors learn in arrival order, so only the live
lane feeds them; late (replayed) readings are judged by the other conditions.
Their state is exported and restored whole, so a restart continues where the
detectors stopped instead of warming up again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rules.anomaly.detector import AnomalyDetector

Key = tuple[str, str]  # (device id, metric)


class AnomalyScorer:
    def __init__(self, make: Callable[[], AnomalyDetector] = lambda: AnomalyDetector(1)) -> None:
        self._make = make
        self._detectors: dict[Key, AnomalyDetector] = {}
        self.changed: set[Key] = set()  # updated since the last export

    def scores(self, device_id: str, metric: str, ts: np.ndarray, values: np.ndarray
               ) -> np.ndarray:
        """Feed one device's readings of a metric, in event-time order; their scores."""
        key = (device_id, metric)
        detector = self._detectors.get(key)
        if detector is None:
            detector = self._detectors[key] = self._make()
        out = np.full(len(values), np.nan)
        for i, (t, v) in enumerate(zip(ts.tolist(), values.tolist(), strict=True)):
            if v == v:  # a missing value neither scores nor teaches
                out[i] = detector.update(t, [v])
        self.changed.add(key)
        return out

    def export(self) -> dict[Key, dict[str, Any]]:
        """States of the detectors changed since the last export."""
        out = {key: self._detectors[key].state_dict() for key in self.changed}
        self.changed.clear()
        return out

    def restore(self, key: Key, state: dict[str, Any]) -> None:
        self._detectors[key] = AnomalyDetector.from_state(state)
