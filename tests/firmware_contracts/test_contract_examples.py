"""Golden example payloads: valid ones pass, each invalid one fails naming its field."""

import json
from pathlib import Path
from typing import cast

import orjson
import pytest
from pydantic import ValidationError

from firmware_contracts.errors import ContractError
from firmware_contracts.kinds import KINDS, Kind
from firmware_contracts.models import MODELS
from firmware_contracts.validate import load

EXAMPLES = Path(__file__).parents[2] / "firmware_contracts" / "examples"
EXPECTED: dict[str, str] = json.loads((EXAMPLES / "expected.json").read_text())
PAYLOADS = sorted(path for path in EXAMPLES.glob("*.json") if path.name != "expected.json")
VALID = [path for path in PAYLOADS if ".invalid." not in path.name]
INVALID = [path for path in PAYLOADS if ".invalid." in path.name]


def kind_of(path: Path) -> Kind:
    kind = path.name.split(".", 1)[0]
    assert kind in KINDS, f"{path.name} must start with a kind"
    return cast(Kind, kind)


def models_accept(kind: Kind, payload: bytes) -> bool:
    model = MODELS[kind]
    try:
        model.model_validate_json(payload)
    except ValidationError:
        return False
    return True


def test_every_kind_has_a_valid_and_an_invalid_example() -> None:
    assert {kind_of(path) for path in VALID} == set(KINDS)
    assert {kind_of(path) for path in INVALID} == set(KINDS)


def test_expected_json_lists_exactly_the_invalid_examples() -> None:
    assert set(EXPECTED) == {path.name for path in INVALID}


@pytest.mark.parametrize("path", VALID, ids=lambda path: path.name)
def test_valid_example_passes(path: Path) -> None:
    doc = load(kind_of(path), path.read_bytes())
    assert doc["v"] == 1


@pytest.mark.parametrize("path", INVALID, ids=lambda path: path.name)
def test_invalid_example_names_the_offending_field(path: Path) -> None:
    kind = kind_of(path)
    with pytest.raises(ContractError) as caught:
        load(kind, path.read_bytes())
    assert caught.value.kind == kind
    assert caught.value.field == EXPECTED[path.name]
    assert str(caught.value).startswith(f"{kind}: {EXPECTED[path.name]}: ")


@pytest.mark.parametrize("path", PAYLOADS, ids=lambda path: path.name)
def test_models_and_schema_agree_on_example(path: Path) -> None:
    kind = kind_of(path)
    payload = path.read_bytes()
    try:
        load(kind, payload)
        schema_accepts = True
    except ContractError:
        schema_accepts = False
    assert models_accept(kind, payload) == schema_accepts


@pytest.mark.parametrize("path", VALID, ids=lambda path: path.name)
def test_model_round_trip_stays_valid(path: Path) -> None:
    kind = kind_of(path)
    model = MODELS[kind].model_validate(orjson.loads(path.read_bytes()))
    load(kind, orjson.dumps(model.to_wire()))
