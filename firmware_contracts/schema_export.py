"""Generate the JSON Schema files in `schemas/` from the pydantic models.

Run `python -m firmware_contracts.schema_export` after changing `models.py`; a test fails
while the committed files differ from what the models generate.
"""

import json
from pathlib import Path
from typing import Any, Final

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from firmware_contracts.kinds import CONTRACT_VERSION, KINDS, Kind, schema_filename
from firmware_contracts.models import MODELS

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
# .example is a reserved TLD: the $id names the schema, nothing is ever fetched from it.
ID_BASE: Final = f"https://fieldpulse.example/contracts/v{CONTRACT_VERSION}/"
SCHEMA_DIR: Final = Path(__file__).parent / "schemas"

TITLES: Final[dict[Kind, str]] = {
    "telemetry": "FieldPulse telemetry batch",
    "status": "FieldPulse gateway status",
    "config": "FieldPulse gateway config",
    "cmd": "FieldPulse gateway command",
    "cmd_ack": "FieldPulse command acknowledgement",
    "ack": "FieldPulse telemetry acknowledgement",
}


class _ContractSchemaGenerator(GenerateJsonSchema):
    """Pydantic's generator minus the noise that would mislead a firmware reader."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        # "Seq" as a title for "seq" says nothing; descriptions carry the meaning.
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        # "default": null would suggest null is a valid value; absent is the only way.
        json_schema = super().default_schema(schema)
        if "default" in json_schema and json_schema["default"] is None:
            del json_schema["default"]
        return json_schema


def build_schema(kind: Kind) -> dict[str, Any]:
    generated = MODELS[kind].model_json_schema(schema_generator=_ContractSchemaGenerator)
    generated.pop("title", None)
    description = generated.pop("description", "")
    return {
        "$schema": DIALECT,
        "$id": ID_BASE + schema_filename(kind),
        "title": f"{TITLES[kind]} v{CONTRACT_VERSION}",
        "description": description,
        **generated,
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def export_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write one schema file per kind into `directory`; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = directory / schema_filename(kind)
        path.write_text(render(build_schema(kind)), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    for path in export_schemas():
        print(path)


if __name__ == "__main__":
    main()
