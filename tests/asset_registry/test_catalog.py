"""Device models load from data files; a broken file is refused naming the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from asset_registry.catalog import SEVERITIES, CatalogError, load_models


def test_builtin_models_are_complete() -> None:
    models = load_models()
    assert len(models) >= 3
    for model in models.values():
        assert model.attributes and model.rules
        for attribute in model.attributes.values():
            assert attribute.unit and attribute.min < attribute.max
        # The top severity of every model opens a work order.
        assert "open_work_order" in model.actions_for(SEVERITIES[-1])
        assert any(rule.severity == SEVERITIES[-1] for rule in model.rules)


MINIMAL = """
id = "m"
name = "M"
category = "pump"
service_skill = "s"
service_minutes = 30
[attributes.rpm]
label = "Speed"
unit = "rpm"
min = 0
max = 3000
[[rules]]
id = "r"
metric = "{metric}"
condition = "above"
threshold = 100
clear = {clear}
severity = "{severity}"
message = "x"
"""


@pytest.mark.parametrize(("fields", "expected"), [
    ({"metric": "temp"}, "rules[0].metric"),
    ({"severity": "dire"}, "rules[0].severity"),
    ({"clear": 150}, "rules[0].clear"),
])
def test_invalid_model_names_the_field(tmp_path: Path, fields: dict, expected: str) -> None:
    values = {"metric": "rpm", "clear": 80, "severity": "high", **fields}
    path = tmp_path / "bad.toml"
    path.write_text(MINIMAL.format(**values))
    with pytest.raises(CatalogError, match=re.escape(f"bad.toml: {expected}")):
        load_models([path])


METRICS = {"tds_ppm": None, "flow_lpm": None}


@pytest.mark.parametrize(("rule", "field"), [
    ({"metric": "tds_ppm", "condition": "above", "threshold": 1, "clear": 0,
      "for_s": -1}, "rules[0].for_s"),
    ({"metric": "tds_ppm", "condition": "sideways", "threshold": 1, "clear": 0},
     "rules[0].condition"),
    ({"metric": "tds_ppm", "condition": "outside", "band": [0, 10], "clear_band": [5, 20]},
     "rules[0].clear_band"),
    ({"metric": "tds_ppm", "condition": "above", "threshold": 1, "clear": 0,
      "repeat": {"count": 1, "within_s": 60}}, "rules[0].repeat.count"),
    ({"any": [{"metric": "tds_ppm", "condition": "above", "threshold": 1, "clear": 0},
              {"metric": "pH", "condition": "above", "threshold": 1, "clear": 0}]},
     "rules[0].any[1].metric"),
    ({"condition": "no_data", "silent_s": 0}, "rules[0].silent_s"),
    ({"metric": "tds_ppm", "condition": "above", "threshold": 1, "clear": 0,
      "schedule": {"days": ["mon"], "from": "25:00", "to": "18:00"}}, "rules[0].schedule.from"),
    ({"metric": "tds_ppm", "condition": "anomaly", "threshold": 3, "clear": 0.5},
     "rules[0].threshold"),
    ({"metric": "tds_ppm", "condition": "above", "threshold": 1, "clear": 0, "colour": "red"},
     "rules[0].colour"),
])
def test_every_rule_kind_is_validated_naming_the_field(rule: dict, field: str) -> None:
    from asset_registry.rule_spec import RuleError, parse_rules

    with pytest.raises(RuleError, match=re.escape(field)):
        parse_rules([{"id": "r", "severity": "high", "message": "m", **rule}], "rules", METRICS)
