"""A `model_anomaly` rule set by a target false-alert rate: levels per device from the
detector's calibration, and the alert it raises carries its explanation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from asset_registry.catalog import load_models
from asset_registry.rule_spec import parse_rules
from rules.anomaly.fleet_fit import ModelDetectorConfig
from rules.anomaly.model_detector import ModelDetector
from rules.anomaly_scores import ModelScorer
from rules.engine import RuleEngine

MODEL = "aquapure-ro500"
METRICS = ("flow_lpm", "inlet_pressure_bar", "tds_ppm")
RULE = {"id": "odd", "severity": "medium", "message": "unlike normal",
        "condition": "model_anomaly", "metrics": list(METRICS), "false_alerts_per_month": 1}
STEP_MS = 60_000
CFG = ModelDetectorConfig(min_fit_rows=200, min_span_s=3_600, refit_every_s=3_600)


def test_a_rate_calibrated_rule_raises_on_a_fault_with_its_explanation() -> None:
    base = load_models()[MODEL]
    model = replace(base, rules=parse_rules([RULE], "rules", base.attributes))
    scorer = ModelScorer(lambda metrics: ModelDetector(metrics, CFG))
    engine = RuleEngine({MODEL: model}, model_scorer=scorer)
    rng = np.random.default_rng(0)
    devices = [f"p{i}" for i in range(4)]
    raised = []
    for step in range(400):
        rows = []
        for k, dev in enumerate(devices):
            flow = 8 + k + rng.normal(0, 0.3)
            pressure = 3 + 0.1 * flow + rng.normal(0, 0.05)
            tds = 60 + 2 * k + rng.normal(0, 2)
            if dev == "p2" and step >= 380:
                pressure += 0.4  # p2: inlet pressure and TDS drift up together
                tds += 12
            rows.append((dev, step * STEP_MS, {"flow_lpm": flow,
                                               "inlet_pressure_bar": pressure,
                                               "tds_ppm": tds}))
        raised += [t for t in engine.evaluate(MODEL, rows) if t.kind == "raise"]
    det = scorer.detectors[(MODEL, METRICS)]
    threshold, clear = det.threshold_for_rate("p2", 1.0)
    assert 0.5 < threshold < 1.0 and clear < threshold  # one a month is rarer than 1e-3
    assert [(t.device_id, t.ts >= 380 * STEP_MS) for t in raised] == [("p2", True)]
    e = raised[0].explanation
    assert e is not None and raised[0].value >= threshold
    assert {c["metric"] for c in e["contributions"][:2]} == {"inlet_pressure_bar", "tds_ppm"}
