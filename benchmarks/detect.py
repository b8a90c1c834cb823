"""`fieldpulse bench detect`: precision, recall and delay on the simulator's labelled faults.

A simulated fleet runs for several hours with sensor faults (spike, stuck,
drift, degradation) injected at known times. Read the same readings, in the
same run:

* `model_anomaly`: the per-model multivariate detector a `model_anomaly` rule
  reads (every continuous metric; run-hours counters left out), alarm from score
  0.5 until it falls to 0.4, as the shipped rule's threshold and clear;
* `anomaly_windows`: what `anomaly` rules on every continuous metric read: each
  device metric's streaming detector fed five-minute means; a device is
  anomalous while any metric scores 0.5 (until all fall to 0.4);
* `detector_raw`: the streaming detector, one per device over all its metrics,
  fed every raw reading (how anomaly scores were judged before);
* `zscore_baseline`: a rolling z-score per device metric.

All first read `history_h` fault-free hours, unscored: a detector in the field
has seen far more than the two clean hours the schedule starts with, and the
windowed detectors need 25 hours to leave their cold start. Every rising edge
of "anomalous" is a detection. A detection inside a fault on
that device (or up to `GRACE_MS` after it) finds that fault; any other is a
false positive.
"""

from __future__ import annotations

import json
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from asset_registry.catalog import load_models
from rules.anomaly.detector import AnomalyDetector
from rules.anomaly.model_detector import ModelDetector
from rules.anomaly_scores import AnomalyScorer

GRACE_MS = 5 * 60 * 1000
START_MS = 1_800_000_000_000


class RollingZScore:
    """The baseline: |z| of each metric against its recent window, one alarm per incident."""

    def __init__(self, n_metrics: int, window: int = 120, z: float = 4.0, quiet: int = 60):
        self._hist: deque[np.ndarray] = deque(maxlen=window)
        self._z, self._quiet, self._since = z, quiet, quiet

    def update(self, _ts: int, values: np.ndarray) -> bool:
        hot = False
        if len(self._hist) == self._hist.maxlen:
            hist = np.array(self._hist)
            sd = hist.std(axis=0) + 1e-9
            hot = bool((np.abs(values - hist.mean(axis=0)) / sd > self._z).any())
        self._hist.append(values)
        self._since += 1
        if hot and self._since > self._quiet:
            self._since = 0
            return True
        return False


class DetectorAdapter:
    def __init__(self, n_metrics: int) -> None:
        self._detector = AnomalyDetector(n_metrics)
        self._was = False

    def update(self, ts: int, values: np.ndarray) -> bool:
        hot = self._detector.is_anomaly(self._detector.update(ts, values))
        rising, self._was = hot and not self._was, hot
        return rising


class ModelAnomaly:
    """One multivariate detector per device model, fed each step's readings as a batch."""

    def __init__(self, metrics: dict[str, tuple[str, ...]], threshold: float = 0.5,
                 clear: float = 0.4) -> None:
        self._metrics = metrics
        self._detectors = {m: ModelDetector(keys) for m, keys in metrics.items()}
        self._threshold, self._clear = threshold, clear
        self._hot: set[str] = set()

    def step(self, now: int, readings: list, model_of: dict[str, str]) -> list[str]:
        """Devices whose alarm rose at this step."""
        rising = []
        by_model: dict[str, list] = {}
        for r in readings:
            by_model.setdefault(model_of[r.dev], []).append(r)
        for model_id, rows in by_model.items():
            keys = self._metrics[model_id]
            values = np.array([[r.m[k] for k in keys] for r in rows])
            devices = [r.dev for r in rows]
            scores = self._detectors[model_id].feed(devices, np.arange(len(rows)),
                                                    np.full(len(rows), now), values)
            for device, score in zip(devices, scores.tolist(), strict=True):
                if score >= self._threshold and device not in self._hot:
                    self._hot.add(device)
                    rising.append(device)
                elif score <= self._clear:
                    self._hot.discard(device)
        return rising


class WindowedAnomaly:
    """`anomaly` rules on every continuous metric, as the rules engine scores them:
    each device metric's detector fed five-minute means; a device is anomalous while
    any of its metrics is (from 0.5 until all fall to 0.4)."""

    def __init__(self, metrics: dict[str, tuple[str, ...]], threshold: float = 0.5,
                 clear: float = 0.4) -> None:
        self._metrics = metrics
        self._scorer = AnomalyScorer()
        self._threshold, self._clear = threshold, clear
        self._hot: set[str] = set()

    def step(self, now: int, readings: list, model_of: dict[str, str]) -> list[str]:
        rising = []
        by_model: dict[str, list] = {}
        for r in readings:
            by_model.setdefault(model_of[r.dev], []).append(r)
        for model_id, rows in by_model.items():
            devices = sorted(r.dev for r in rows)
            rows = sorted(rows, key=lambda r: r.dev)
            seg, ts = np.arange(len(rows)), np.full(len(rows), now)
            worst = np.full(len(rows), -np.inf)
            for key in self._metrics[model_id]:
                got = self._scorer.scores(key, devices, seg, ts,
                                          np.array([r.m[key] for r in rows]))
                worst = np.fmax(worst, got)
            for device, score in zip(devices, worst.tolist(), strict=True):
                if score >= self._threshold and device not in self._hot:
                    self._hot.add(device)
                    rising.append(device)
                elif score <= self._clear:
                    self._hot.discard(device)
        return rising


class PerDevice:
    """Adapts a per-device detector (`update(ts, values) -> rising edge`) to the fleet."""

    def __init__(self, make: Callable[[int], object], keys: dict[str, list[str]]) -> None:
        self._keys = keys
        self._detectors = {dev: make(len(k)) for dev, k in keys.items()}

    def step(self, now: int, readings: list, model_of: dict[str, str]) -> list[str]:
        return [r.dev for r in readings
                if self._detectors[r.dev].update(now, np.array([r.m[k]
                                                               for k in self._keys[r.dev]]))]


@dataclass
class Score:
    detections: int = 0
    false_positives: int = 0
    found: dict[str, list[float]] | None = None  # fault kind -> delays (s) of found faults


def continuous_metrics() -> dict[str, tuple[str, ...]]:
    """Per model, the simulated signals that are not counters."""
    from simulators.profiles import Signal, builtin_profiles

    return {model_id: tuple(k for k, sig in p.signals.items() if isinstance(sig, Signal))
            for model_id, p in builtin_profiles().items()}


def run_fleet(name: str, step_s: int, hours: float, seed: int, per_kind: int,
              console: Console, history_h: float = 0.0) -> tuple[Score, dict[str, int]]:
    from simulators.driver import SimulatedDriver  # benchmarks may use the simulators
    from simulators.fleet import generate_fleet
    from simulators.sensor_faults import sensor_fault_schedule

    fleet = generate_fleet(seed=seed)
    # Two clean hours first: a detector in the field has seen far more history.
    faults = sensor_fault_schedule(fleet, START_MS, seed, per_kind=per_kind,
                                   horizon_s=int(hours * 3600), clean_s=2 * 3600)
    models = load_models()
    driver = SimulatedDriver(fleet.devices, models, faults, seed=seed)
    keys = {d.id: list(models[d.model_id].attributes) for d in fleet.devices}
    model_of = {d.id: d.model_id for d in fleet.devices}
    contender: ModelAnomaly | WindowedAnomaly | PerDevice
    if name == "model_anomaly":
        contender = ModelAnomaly(continuous_metrics())
    elif name == "anomaly_windows":
        contender = WindowedAnomaly(continuous_metrics())
    else:
        contender = PerDevice(DetectorAdapter if name == "detector_raw" else RollingZScore, keys)
    by_device: dict[str, list] = {}
    for f in faults:
        by_device.setdefault(f.device_id, []).append(f)
    score = Score(found={})
    first_hit: dict[str, int] = {}
    steps = int(hours * 3600 / step_s)
    with console.status(f"running the simulated fleet ({name})…"):
        # Fault-free history first, unscored: what a detector in the field has seen.
        for step in range(-int(history_h * 3600 / step_s), 0):
            now = START_MS + step * step_s * 1000
            contender.step(now, driver.read(now), model_of)
        for step in range(steps):
            now = START_MS + step * step_s * 1000
            for device in contender.step(now, driver.read(now), model_of):
                score.detections += 1
                hit = next((f for f in by_device.get(device, [])
                            if f.start_ms <= now <= f.end_ms + GRACE_MS), None)
                if hit is None:
                    score.false_positives += 1
                else:
                    first_hit.setdefault(hit.id, now)
    for f in faults:
        if f.id in first_hit:
            score.found.setdefault(f.kind, []).append((first_hit[f.id] - f.start_ms) / 1000)
    totals: dict[str, int] = {}
    for f in faults:
        totals[f.kind] = totals.get(f.kind, 0) + 1
    return score, totals


def bench_detect(
    hours: Annotated[float, typer.Option(help="Simulated hours.")] = 10.0,
    step_s: Annotated[int, typer.Option(help="Seconds between samples.")] = 30,
    per_kind: Annotated[int, typer.Option(help="Faults of each kind.")] = 6,
    seed: Annotated[int, typer.Option(help="Fleet and schedule seed.")] = 7,
    history_h: Annotated[float, typer.Option(
        help="Fault-free hours every detector reads first, unscored (the windowed "
             "detectors' cold start is 25 h).")] = 72.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Precision, recall and detection delay per sensor-fault kind, against a z-score baseline."""
    console = Console(stderr=json_output)
    result: dict[str, dict] = {}
    for name in ("model_anomaly", "anomaly_windows", "detector_raw", "zscore_baseline"):
        score, totals = run_fleet(name, step_s, hours, seed, per_kind, console, history_h)
        found = score.found or {}
        tp = score.detections - score.false_positives
        result[name] = {
            "precision": round(tp / score.detections, 3) if score.detections else None,
            "false_positives": score.false_positives,
            "by_kind": {
                kind: {"faults": totals[kind], "found": len(found.get(kind, [])),
                       "recall": round(len(found.get(kind, [])) / totals[kind], 3),
                       "median_delay_s": (statistics.median(found[kind])
                                          if found.get(kind) else None)}
                for kind in sorted(totals)
            },
        }
    if json_output:
        print(json.dumps(result))
        return
    for name, res in result.items():
        table = Table(title=f"{name}: precision {res['precision']}, "
                            f"{res['false_positives']} false positives")
        for col in ("fault kind", "faults", "found", "recall", "median delay (s)"):
            table.add_column(col, justify="left" if col == "fault kind" else "right")
        for kind, row in res["by_kind"].items():
            table.add_row(kind, str(row["faults"]), str(row["found"]), f"{row['recall']:.2f}",
                          "—" if row["median_delay_s"] is None else f"{row['median_delay_s']:g}")
        console.print(table)
