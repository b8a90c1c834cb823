"""CPU cost of the anomaly conditions in the rules path, for `fieldpulse bench rules`.

Three figures, in readings per second per core, every continuous metric of every
reading judged (run-hours counters left out, as a model_anomaly rule leaves them):

* `anomaly` rules on every metric: the engine as shipped, each device metric's
  detector fed one-minute means (`rules.anomaly_scores`);
* a `model_anomaly` rule over the same metrics: one detector per model, every
  reading scored;
* both on the per-model column blocks ingest hands the rules (built untimed);
* the baseline, measured in the same run: each device metric's detector fed every
  raw reading (how the rules path worked before the windows), on a subset of the
  readings because it is slow.

Detectors are warmed up first (untimed): a detector's cost grows with its memory,
so a cold one would flatter every figure. One warm detector per model and metric is
copied to every device.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from asset_registry.catalog import DeviceModel
from asset_registry.rule_spec import parse_rules
from ingest.reading_blocks import ReadingBlock
from rules.anomaly.detector import AnomalyDetector, DetectorConfig
from rules.anomaly_scores import AnomalyScorer, ModelScorer
from rules.engine import Reading, RuleEngine

WARM_WINDOWS = DetectorConfig().memory + DetectorConfig().gap + 400


def continuous(model: DeviceModel, rows: list[Reading]) -> list[str]:
    """The model's metrics that are not counters (a counter never decreases)."""
    out = []
    for key in model.attributes:
        v = np.array([m[key] for _, _, m in rows[:5000]])
        if not (np.diff(v) >= 0).all():
            out.append(key)
    return out


def anomaly_models(models: Mapping[str, DeviceModel], by_model: Mapping[str, list[Reading]],
                   kind: str) -> dict[str, DeviceModel]:
    """Each model with `anomaly` rules on every continuous metric, or one model_anomaly."""
    out = {}
    for model_id, rows in by_model.items():
        model = models[model_id]
        keys = continuous(model, rows)
        base = {"severity": "medium", "message": "unusual", "threshold": 0.5, "clear": 0.4}
        if kind == "anomaly":
            specs = [{**base, "id": f"{k}-odd", "metric": k, "condition": "anomaly"}
                     for k in keys]
        else:
            specs = [{**base, "id": "odd", "metrics": keys, "condition": "model_anomaly"}]
        out[model_id] = replace(model, rules=parse_rules(specs, "bench", model.attributes))
    return out


def warm_scorer(models: Mapping[str, DeviceModel], by_model: Mapping[str, list[Reading]],
                history: Mapping[str, np.ndarray]) -> AnomalyScorer:
    """A scorer whose every device metric detector has a full memory."""
    scorer = AnomalyScorer()
    for model_id, rows in by_model.items():
        keys = continuous(models[model_id], rows)
        devices = sorted({r[0] for r in rows})
        for j, key in enumerate(keys):
            warm = AnomalyDetector(1)
            warm.update_many(history[model_id][:, j:j + 1])
            for device in devices:
                scorer._detectors[(device, key)] = copy.deepcopy(warm)
    return scorer


def warm_model_scorer(models: Mapping[str, DeviceModel], by_model: Mapping[str, list[Reading]],
                      before: Mapping[str, list[Reading]]) -> ModelScorer:
    """A model scorer fitted on earlier readings of the same devices."""
    scorer = ModelScorer()
    engine = RuleEngine(models, model_scorer=scorer)
    for model_id, rows in before.items():
        # Batches small enough that refits fall due between them (a refit is
        # checked before a batch, on what earlier batches taught).
        for i in range(0, len(rows), 100):
            engine.evaluate(model_id, rows[i:i + 100])
    unfitted = [key for key, det in scorer.detectors.items() if det.fit is None]
    if unfitted:  # the timed part would score nothing and measure nothing
        raise RuntimeError(f"model detectors without a fit after the warm-up: {unfitted}")
    return scorer


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def per_reading_baseline(models: Mapping[str, DeviceModel], by_model: Mapping[str, list[Reading]],
                         scorer: AnomalyScorer, limit: int) -> tuple[float, int]:
    """CPU seconds and readings for raw readings fed one by one to warm detectors."""
    jobs = []
    for model_id, rows in by_model.items():
        keys = continuous(models[model_id], rows)
        jobs += [(device, ts, [(k, m[k]) for k in keys]) for device, ts, m in rows[:limit]]
    detectors = {key: copy.deepcopy(det) for key, det in scorer._detectors.items()
                 if key[0] in {j[0] for j in jobs}}

    def run() -> None:
        for device, ts, values in jobs:
            for key, v in values:
                detectors[(device, key)].update(ts, [v])

    return cpu(run), len(jobs)


def blocks(by_model: Mapping[str, list[Reading]], batch: int) -> list[ReadingBlock]:
    """The readings as ingest hands them to the rules: per-model column blocks."""
    return [ReadingBlock.from_rows(model_id, rows[i:i + batch])
            for model_id, rows in by_model.items() for i in range(0, len(rows), batch)]


def evaluate_all(engine: RuleEngine, batches: list[ReadingBlock]) -> int:
    return sum(t.kind == "raise" for b in batches for t in engine.evaluate_block(b))


def bench_anomaly(models: Mapping[str, DeviceModel], by_model: Mapping[str, list[Reading]],
                  before: Mapping[str, list[Reading]], history: Mapping[str, np.ndarray],
                  batch: int, baseline_readings: int,
                  threshold_models: Mapping[str, DeviceModel]) -> dict[str, float]:
    total = sum(len(rows) for rows in by_model.values())
    uni = anomaly_models(models, by_model, "anomaly")
    multi = anomaly_models(models, by_model, "model_anomaly")
    scorer = warm_scorer(uni, by_model, history)
    model_scorer = warm_model_scorer(multi, by_model, before)
    per_model = max(1, baseline_readings // len(by_model))
    base_s, base_n = per_reading_baseline(uni, by_model, scorer, per_model)
    batches = blocks(by_model, batch)  # untimed: ingest builds them, not the rules
    uni_s = cpu(lambda: evaluate_all(RuleEngine(uni, scorer=scorer), batches))
    multi_s = cpu(lambda: evaluate_all(RuleEngine(multi, model_scorer=model_scorer), batches))
    threshold_s = cpu(lambda: evaluate_all(RuleEngine(threshold_models), batches))
    return {
        "threshold_blocks_readings_per_s_per_core": round(total / threshold_s),
        "anomaly_readings_per_s_per_core": round(total / uni_s),
        "model_anomaly_readings_per_s_per_core": round(total / multi_s),
        "anomaly_per_reading_baseline_readings_per_s_per_core": round(base_n / base_s),
        "anomaly_baseline_readings": base_n,
    }
