"""Device models name their commands as data; bad tables and bad parameters are named."""

from __future__ import annotations

import pytest

from asset_registry.catalog import CatalogError, load_models, parse_model
from asset_registry.command_spec import CommandSpecError, parse_commands, validate_params

MODELS = load_models()


def test_every_demo_model_supports_read_now_of_its_metrics() -> None:
    for model in MODELS.values():
        read_now = model.commands["read_now"]
        assert read_now.read_only and read_now.params["metrics"].required
        metrics = sorted(model.attributes)
        assert validate_params(read_now, {"metrics": metrics}, model.attributes) == {
            "metrics": metrics}
        assert not model.commands["set_sample_period"].read_only


@pytest.mark.parametrize(("table", "error"), [
    ({"format_disk": {"label": "x", "kind": "control"}},
     "commands.format_disk: not a command of the wire"),
    ({"read_now": {"label": "x", "kind": "dangerous"}}, "read_now.kind: 'dangerous' is not one"),
    ({"read_now": {"kind": "diagnostic"}}, "read_now.label: expected a non-empty string"),
    ({"read_now": {"label": "x", "kind": "diagnostic", "when": 1}}, "unknown field(s) ['when']"),
    ({"read_now": {"label": "x", "kind": "diagnostic", "params": {"m": {"type": "list"}}}},
     "read_now.params.m.type: 'list' is not one of"),
    ({"set_sample_period": {"label": "x", "kind": "control", "params": {
        "p": {"type": "number", "min": 5, "max": 1}}}}, "params.p: min 5 is above max 1"),
])
def test_a_bad_command_table_is_refused_naming_the_field(table: dict, error: str) -> None:
    with pytest.raises(CommandSpecError) as caught:
        parse_commands(table, "m.toml: commands")
    assert error in str(caught.value)


def test_a_model_file_with_a_bad_command_names_the_file() -> None:
    raw = {"id": "x", "name": "X", "category": "c", "service_skill": "s", "service_minutes": 5,
           "attributes": {"t_c": {"label": "T", "unit": "C", "min": 0, "max": 1}},
           "commands": {"read_now": {"label": "x", "kind": "sometimes"}}}
    with pytest.raises(CatalogError, match=r"^x.toml: commands.read_now.kind"):
        parse_model(raw, "x.toml")


def test_parameters_are_checked_against_the_command_and_the_model() -> None:
    model = MODELS["aquapure-ro500"]
    period = model.commands["set_sample_period"]
    assert validate_params(period, {"sample_period_s": 5}, model.attributes) == {
        "sample_period_s": 5}
    for params, error in [
        ({}, "parameter 'sample_period_s' is required"),
        ({"sample_period_s": True}, "expected a number, got True"),
        ({"sample_period_s": float("nan")}, "expected a number"),
        ({"sample_period_s": 99999}, "above the maximum 3600"),
        ({"sample_period_s": 5, "dev": "x"}, "unknown parameter(s) ['dev']"),
    ]:
        with pytest.raises(CommandSpecError) as caught:
            validate_params(period, params, model.attributes)
        assert error in str(caught.value), params
    read_now = model.commands["read_now"]
    for params, error in [
        ({"metrics": "tds_ppm"}, "expected a non-empty list"),
        ({"metrics": ["tds_ppm", "tds_ppm"]}, "named twice"),
        ({"metrics": ["rpm"]}, "unknown metric(s) ['rpm']"),
    ]:
        with pytest.raises(CommandSpecError) as caught:
            validate_params(read_now, params, model.attributes)
        assert error in str(caught.value), params
