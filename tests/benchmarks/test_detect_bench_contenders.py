"""The fleet detection benchmark's contenders: one detection per episode, per device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.detect import ModelAnomaly, WindowedAnomaly
from rules.anomaly.model_detector import ModelDetectorConfig


@dataclass
class R:
    dev: str
    m: dict[str, float]


METRICS = {"pump": ("a", "b")}
MODEL_OF = {"p1": "pump", "p2": "pump", "p3": "pump"}


def test_model_anomaly_contender_reports_rising_edges_with_hysteresis() -> None:
    contender = ModelAnomaly(METRICS)
    det = contender._detectors["pump"]
    det.cfg = ModelDetectorConfig(min_fit_rows=60, min_device_rows=10, min_span_s=600)
    rng = np.random.default_rng(1)
    rising: list[tuple[int, str]] = []
    for step in range(200):
        readings = []
        for dev in ("p1", "p2", "p3"):
            a = 10 + rng.normal(0, 0.5)
            b = 2 * a + rng.normal(0, 0.2)
            if dev == "p2" and 150 <= step < 160:
                b += 8.0  # an episode: ten readings off the relation, then normal again
            readings.append(R(dev, {"a": a, "b": b}))
        rising += [(step, d) for d in contender.step(step * 30_000, readings, MODEL_OF)]
    assert det.fit is not None
    assert rising == [(150, "p2")]


def test_windowed_contender_scores_each_metric_and_rises_once() -> None:
    contender = WindowedAnomaly(METRICS)
    scored: list[tuple[str, float]] = []

    class Fixed:
        def update_many(self, values: np.ndarray) -> np.ndarray:
            scored.extend(("x", float(v)) for v in values[:, 0])
            return np.where(values[:, 0] > 50, 0.9, 0.1)

        def state_dict(self) -> dict:
            return {}

    contender._scorer._make = Fixed
    rising = []
    for step in range(40):  # 30-s steps: four five-minute windows
        b = 100.0 if 10 <= step < 20 else 1.0  # high for the second window
        out = contender.step(step * 30_000, [R("p1", {"a": 1.0, "b": b})], MODEL_OF)
        rising += [(step, d) for d in out]
    # Windows close when the next begins: the first high window is scored at step 20.
    assert rising == [(20, "p1")]
    assert sorted(v for _, v in scored) == [1.0] * 5 + [100.0]  # 2 metrics x 3 closed
