"""The committed JSON Schema files are exactly what the pydantic models generate."""

import json
from pathlib import Path
from typing import Any

import pytest

from firmware_contracts.kinds import KINDS, Kind, schema_filename
from firmware_contracts.schema_export import (
    DIALECT,
    SCHEMA_DIR,
    build_schema,
    export_schemas,
    render,
)

# Draft 2020-12 keywords the contract uses. Anything else is a generator leak (pydantic
# once emitted "ge"/"le" here), which validators silently ignore.
KEYWORDS = {
    "$schema", "$id", "$defs", "$ref", "$comment", "title", "description",
    "type", "properties", "required", "additionalProperties", "propertyNames",
    "items", "minItems", "maxItems", "minProperties", "maxProperties",
    "minimum", "maximum", "exclusiveMinimum", "pattern", "minLength", "maxLength",
    "const", "enum", "if", "then",
}  # fmt: skip


def committed(kind: Kind) -> str:
    return (SCHEMA_DIR / schema_filename(kind)).read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", KINDS)
def test_committed_schema_matches_the_models(kind: Kind) -> None:
    assert committed(kind) == render(build_schema(kind)), (
        "schema drifted from models.py; run `python -m firmware_contracts.schema_export`"
    )


def test_export_writes_one_file_per_kind(tmp_path: Path) -> None:
    written = export_schemas(tmp_path)
    assert sorted(path.name for path in written) == sorted(schema_filename(k) for k in KINDS)
    for kind in KINDS:
        assert (tmp_path / schema_filename(kind)).read_text(encoding="utf-8") == committed(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_schema_header(kind: Kind) -> None:
    schema = json.loads(committed(kind))
    assert schema["$schema"] == DIALECT
    assert schema["$id"].endswith("/" + schema_filename(kind))
    assert schema["title"] and schema["description"]


def keywords_used(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(keywords_used(item) for item in node))
    if not isinstance(node, dict):
        return set()
    found = set(node)
    for key, value in node.items():
        if key in ("properties", "$defs"):  # children are names, their values are schemas
            found |= set().union(*(keywords_used(child) for child in value.values()))
        elif key not in ("const", "enum", "required"):
            found |= keywords_used(value)
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_schema_uses_only_standard_keywords(kind: Kind) -> None:
    assert keywords_used(json.loads(committed(kind))) <= KEYWORDS


def test_status_schema_alone_requires_fw_and_devices_when_online() -> None:
    schema = json.loads(committed("status"))
    assert schema["if"]["properties"]["state"] == {"const": "online"}
    assert schema["then"]["required"] == ["fw", "devices"]


def test_metric_names_are_checked_by_property_names() -> None:
    metrics = json.loads(committed("telemetry"))["$defs"]["Reading"]["properties"]["m"]
    assert metrics["propertyNames"] == {"pattern": "^[a-z][a-z0-9_]{0,63}$"}
    assert metrics["additionalProperties"] == {"type": "number"}
    assert "patternProperties" not in metrics
