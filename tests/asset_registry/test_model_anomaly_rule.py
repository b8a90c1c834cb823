"""The `model_anomaly` condition in the rule language: validated, round-trips."""

from __future__ import annotations

import re

import pytest

from asset_registry.rule_spec import RuleError, parse_rules, rule_spec_of

METRICS = {"tds_ppm": None, "flow_lpm": None, "inlet_pressure_bar": None}
BASE = {"id": "r", "severity": "medium", "message": "m", "condition": "model_anomaly",
        "threshold": 0.5, "clear": 0.4}


def parse(**changes: object) -> object:
    rule = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    return parse_rules([rule], "rules", METRICS)[0]


def test_a_model_anomaly_rule_reads_its_metrics_in_one_canonical_order() -> None:
    rule = parse(metrics=["tds_ppm", "flow_lpm"], for_s=120)
    [c] = rule.conditions
    assert (c.condition, c.metric, c.inputs) == ("model_anomaly", "", ("flow_lpm", "tds_ppm"))
    assert rule.metrics == ("flow_lpm", "tds_ppm")
    assert parse_rules([rule_spec_of(rule)], "rules", METRICS)[0] == rule


def test_it_combines_with_other_conditions() -> None:
    rule = parse_rules([{"id": "r", "severity": "high", "message": "m", "all": [
        {"condition": "model_anomaly", "metrics": ["tds_ppm", "flow_lpm"], "threshold": 0.6,
         "clear": 0.4},
        {"metric": "inlet_pressure_bar", "condition": "below", "threshold": 2, "clear": 2.5}]}],
        "rules", METRICS)[0]
    assert rule.metrics == ("flow_lpm", "tds_ppm", "inlet_pressure_bar")
    assert parse_rules([rule_spec_of(rule)], "rules", METRICS)[0] == rule


@pytest.mark.parametrize(("changes", "field"), [
    ({"metrics": ["tds_ppm"]}, "rules[0].metrics: expected a list of at least two"),
    ({"metrics": "tds_ppm"}, "rules[0].metrics: expected a list"),
    ({"metrics": None}, "rules[0].metrics: expected a list"),
    ({"metrics": ["tds_ppm", "pH"]}, "rules[0].metrics[1]: 'pH' is not an attribute"),
    ({"metrics": ["tds_ppm", "tds_ppm"]}, "rules[0].metrics: a metric is listed twice"),
    ({"metrics": ["tds_ppm", "flow_lpm"], "metric": "tds_ppm"}, "rules[0].metric"),
    ({"metrics": ["tds_ppm", "flow_lpm"], "threshold": 1.5}, "rules[0].threshold"),
    ({"metrics": ["tds_ppm", "flow_lpm"], "clear": 0.7}, "rules[0].clear"),
    ({"metrics": ["tds_ppm", "flow_lpm"], "clear": None}, "rules[0]: missing field 'clear'"),
])
def test_model_anomaly_fields_are_validated_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(RuleError, match=re.escape(field)):
        parse(**changes)


def test_metrics_belong_to_model_anomaly_only() -> None:
    with pytest.raises(RuleError, match=re.escape("rules[0].metrics: only a model_anomaly")):
        parse_rules([{"id": "r", "severity": "low", "message": "m", "metric": "tds_ppm",
                      "metrics": ["tds_ppm", "flow_lpm"], "condition": "above",
                      "threshold": 1, "clear": 0}], "rules", METRICS)


def test_a_target_false_alert_rate_replaces_threshold_and_clear() -> None:
    rule = parse(metrics=["tds_ppm", "flow_lpm"], threshold=None, clear=None,
                 false_alerts_per_month=1)
    [c] = rule.conditions
    assert c.false_alerts_per_month == 1.0
    assert parse_rules([rule_spec_of(rule)], "rules", METRICS)[0] == rule
    with pytest.raises(RuleError, match=re.escape("rules[0].threshold: give either")):
        parse(metrics=["tds_ppm", "flow_lpm"], false_alerts_per_month=1)
    with pytest.raises(RuleError, match=re.escape("rules[0].false_alerts_per_month: expected")):
        parse(metrics=["tds_ppm", "flow_lpm"], threshold=None, clear=None,
              false_alerts_per_month=0)
    with pytest.raises(RuleError, match="only a model_anomaly condition"):
        parse_rules([{"id": "r", "severity": "low", "message": "m", "metric": "tds_ppm",
                      "condition": "anomaly", "false_alerts_per_month": 1}], "rules", METRICS)
