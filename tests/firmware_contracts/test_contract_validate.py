"""validate/decode/detect_kind: exact field paths, and nothing but ContractError escapes."""

import copy
import json
import pickle
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from firmware_contracts.errors import ContractError
from firmware_contracts.kinds import KINDS, MAX_JSON_INT, MAX_READINGS, Kind
from firmware_contracts.models import MODELS, Telemetry
from firmware_contracts.validate import _MARKERS, decode, detect_kind, load, validate

EXAMPLES = Path(__file__).parents[2] / "firmware_contracts" / "examples"
TELEMETRY: dict[str, Any] = json.loads((EXAMPLES / "telemetry.valid.json").read_text())


def mutated(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    doc = copy.deepcopy(TELEMETRY)
    change(doc)
    return doc


def setter(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """`setter("readings.0.m.tds_ppm", None)` sets that spot in a copy of the example."""
    *parents, last = path.split(".")

    def change(doc: dict[str, Any]) -> None:
        node: Any = doc
        for step in parents:
            node = node[int(step)] if isinstance(node, list) else node[step]
        node[int(last) if isinstance(node, list) else last] = value

    return change


# (mutation, field the error must name, or None if the document stays valid)
MUTATIONS: list[tuple[str, object, str | None]] = [
    ("seq", True, "seq"),
    ("seq", None, "seq"),
    ("seq", "1843", "seq"),
    ("seq", -(2**63), "seq"),
    ("seq", 2**64, "seq"),
    ("seq", MAX_JSON_INT + 1, "seq"),
    ("seq", MAX_JSON_INT, None),
    ("seq", 1843.0, None),  # JSON Schema: a number without fraction is an integer
    ("seq", 1843.25, "seq"),
    ("seq", 1e300, "seq"),
    ("seq", [], "seq"),
    ("seq", {}, "seq"),
    ("v", True, "v"),
    ("v", 1.0, None),
    ("v", "1", "v"),
    ("v", 0, "v"),
    ("gw", None, "gw"),
    ("gw", 7, "gw"),
    ("gw", "gw-001\n", "gw"),
    ("gw", "g" * 65, "gw"),
    ("gw", "", "gw"),
    ("sent", -1, "sent"),
    ("readings", None, "readings"),
    ("readings", {}, "readings"),
    ("readings", [None], "readings[0]"),
    ("readings", [[]], "readings[0]"),
    ("readings", ["dev-0001"], "readings[0]"),
    ("readings", [{}], "readings[0].dev"),
    ("readings.2", {"ts": 1, "m": {"rpm": 1}}, "readings[2].dev"),
    ("readings.0.ts", True, "readings[0].ts"),
    ("readings.0.ts", None, "readings[0].ts"),
    ("readings.0.ts", -5, "readings[0].ts"),
    ("readings.3.dev", 1, "readings[3].dev"),
    ("readings.3.dev", "dév-1", "readings[3].dev"),
    ("readings.3.dev", "-dev", "readings[3].dev"),
    ("readings.1.m", None, "readings[1].m"),
    ("readings.1.m", [], "readings[1].m"),
    ("readings.1.m", {"": 1}, 'readings[1].m[""]'),
    ("readings.1.m", {"flow lpm": 1}, 'readings[1].m["flow lpm"]'),
    ("readings.1.m", {f"metric_{i}": i for i in range(65)}, "readings[1].m"),
    ("readings.1.m.supply_temp_c", {}, "readings[1].m.supply_temp_c"),
    ("readings.1.m.supply_temp_c", [71.5], "readings[1].m.supply_temp_c"),
    ("readings.1.m.supply_temp_c", "71.5", "readings[1].m.supply_temp_c"),
    ("readings.1.m.supply_temp_c", False, "readings[1].m.supply_temp_c"),
    ("readings.1.m.supply_temp_c", -1e308, None),
    ("readings.1.unit", "C", "readings[1].unit"),
    ("readings.1.ts.extra", 1, "readings[1].ts"),
    ("note", "hello", "note"),
    ("a.b", 1, '["a.b"]'),
]


def apply(path: str, value: object) -> dict[str, Any]:
    if path == "readings.1.ts.extra":  # a nested wrong type: an object where ts belongs
        return mutated(setter("readings.1.ts", {"extra": value}))
    if path == "a.b":
        return mutated(lambda doc: doc.update({"a.b": value}))
    return mutated(setter(path, value))


def model_accepts(doc: object) -> bool:
    try:
        Telemetry.model_validate(doc)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("path", "value", "field"), MUTATIONS, ids=lambda x: repr(x)[:40])
def test_mutated_telemetry_names_the_field(path: str, value: object, field: str | None) -> None:
    doc = apply(path, value)
    if field is None:
        validate("telemetry", doc)
    else:
        with pytest.raises(ContractError) as caught:
            validate("telemetry", doc)
        assert caught.value.field == field
    assert model_accepts(doc) == (field is None)


@pytest.mark.parametrize(("path", "value", "field"), MUTATIONS, ids=lambda x: repr(x)[:40])
def test_mutated_telemetry_as_bytes_agrees_with_the_model(
    path: str, value: object, field: str | None
) -> None:
    payload = json.dumps(apply(path, value)).encode()
    try:
        load("telemetry", payload)
        accepted = True
    except ContractError:
        accepted = False
    try:
        Telemetry.model_validate_json(payload)
        model_accepted = True
    except ValidationError:
        model_accepted = False
    assert accepted == model_accepted == (field is None)


ONLINE = {"v": 1, "gw": "gw-001", "state": "online", "ts": 1, "fw": "2.4.1", "devices": []}
CONFIG = {
    "v": 1,
    "version": 1,
    "sample_period_s": 30,
    "batch_max_readings": 1,
    "batch_max_age_s": 5,
}
CMD = {"v": 1, "id": "c-1", "cmd": "read-now", "args": {}}
ACK = {"v": 1, "id": "c-1", "ok": False}

OTHER_KINDS: list[tuple[str, dict[str, Any], str | None]] = [
    ("status", ONLINE, None),
    ("status", {**ONLINE, "backlog": 3.0}, None),
    ("status", {**ONLINE, "backlog": 3.5}, "backlog"),
    ("status", {**ONLINE, "evicted": None}, "evicted"),
    ("status", {**ONLINE, "fw": ""}, "fw"),
    ("status", {**ONLINE, "devices": None}, "devices"),
    ("status", {**ONLINE, "devices": "dev-0001"}, "devices"),
    ("status", {**ONLINE, "state": None}, "state"),
    ("status", {**ONLINE, "state": "offline", "devices": ["dev-0001"]}, None),
    ("config", CONFIG, None),
    ("config", {**CONFIG, "sample_period_s": 0.5}, None),
    ("config", {**CONFIG, "sample_period_s": True}, "sample_period_s"),
    ("config", {**CONFIG, "batch_max_age_s": -1}, "batch_max_age_s"),
    ("config", {**CONFIG, "version": 0}, "version"),
    ("config", {**CONFIG, "gw": "gw-001"}, "gw"),
    ("cmd", CMD, None),
    ("cmd", {**CMD, "args": {"dev": ["dev-0001"], "note": None}}, None),
    ("cmd", {**CMD, "args": None}, "args"),
    ("cmd", {**CMD, "args": []}, "args"),
    ("cmd", {**CMD, "id": "c/1"}, "id"),
    ("cmd_ack", ACK, None),
    ("cmd_ack", {**ACK, "ok": 0}, "ok"),
    ("cmd_ack", {**ACK, "result": []}, "result"),
    ("cmd_ack", {**ACK, "error": ""}, "error"),
]


@pytest.mark.parametrize(("kind", "doc", "field"), OTHER_KINDS, ids=lambda x: repr(x)[:40])
def test_other_kinds_name_the_field_and_agree_with_the_models(
    kind: Kind, doc: dict[str, Any], field: str | None
) -> None:
    if field is None:
        validate(kind, doc)
    else:
        with pytest.raises(ContractError) as caught:
            validate(kind, doc)
        assert caught.value.field == field
    try:
        MODELS[kind].model_validate(doc)
        model_accepted = True
    except ValidationError:
        model_accepted = False
    assert model_accepted == (field is None)


def test_random_byte_damage_only_ever_raises_contract_error() -> None:
    payload = (EXAMPLES / "telemetry.valid.json").read_bytes()
    rng = random.Random(20241127)
    for _ in range(500):
        damaged = bytearray(payload)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            load("telemetry", bytes(damaged))
        except ContractError as err:
            assert err.kind == "telemetry"
    whole = payload.rstrip()
    for end in range(len(whole)):
        with pytest.raises(ContractError):
            load("telemetry", whole[:end])


def test_validate_leaves_the_document_untouched() -> None:
    # fastjsonschema's default use_default=True would write defaults into the document.
    doc = {"v": 1, "gw": "gw-001", "state": "offline", "ts": 1}
    validate("status", doc)
    assert doc == {"v": 1, "gw": "gw-001", "state": "offline", "ts": 1}


def test_batch_of_maximum_size_passes_and_one_more_fails() -> None:
    reading = TELEMETRY["readings"][0]
    validate("telemetry", {**TELEMETRY, "readings": [reading] * MAX_READINGS})
    with pytest.raises(ContractError) as caught:
        validate("telemetry", {**TELEMETRY, "readings": [reading] * (MAX_READINGS + 1)})
    assert caught.value.field == "readings"


def test_error_reads_kind_field_reason_and_survives_pickling() -> None:
    err = ContractError("telemetry", "readings[3].ts", "must be integer")
    assert str(err) == "telemetry: readings[3].ts: must be integer"
    assert isinstance(err, ValueError)
    copied = pickle.loads(pickle.dumps(err))
    assert (copied.kind, copied.field, copied.reason) == (err.kind, err.field, err.reason)


def test_unknown_kind_is_a_contract_error() -> None:
    with pytest.raises(ContractError, match="unknown kind"):
        validate("telemetry_v2", TELEMETRY)


def test_decode_reports_bad_json_at_the_root() -> None:
    with pytest.raises(ContractError) as caught:
        decode("telemetry", b'{"v": 1,')
    assert caught.value.field == "$"
    assert caught.value.reason.startswith("invalid JSON: ")


@pytest.mark.parametrize("payload", [b"[]", b"1", b'"text"', b"null", b"true"])
def test_decode_refuses_a_non_object(payload: bytes) -> None:
    with pytest.raises(ContractError) as caught:
        decode("status", payload)
    assert (caught.value.field, caught.value.reason) == ("$", "must be object")


def test_decode_refuses_numbers_a_double_cannot_hold() -> None:
    with pytest.raises(ContractError):
        decode("telemetry", b'{"seq": 1e400}')


def test_load_returns_the_validated_dict() -> None:
    assert load("telemetry", orjson.dumps(TELEMETRY)) == TELEMETRY


@pytest.mark.parametrize(
    ("doc", "kind"),
    [
        (TELEMETRY, "telemetry"),
        ({"seq": 1}, "telemetry"),
        ({"v": 1, "gw": "gw-001", "state": "offline", "ts": 1}, "status"),
        ({"v": 1, "gw": "gw-001", "fw": "2.4.1"}, "status"),
        ({"v": 1, "id": "c-1", "cmd": "ping", "args": {}}, "cmd"),
        ({"v": 1, "id": "c-1", "ok": True}, "cmd_ack"),
        ({"v": 1, "version": 3, "sample_period_s": 30}, "config"),
        ({"v": 1, "batch_max_age_s": 60}, "config"),
        ({"v": 1}, None),
        ({}, None),
        ([], None),
        ("telemetry", None),
    ],
)
def test_detect_kind(doc: object, kind: str | None) -> None:
    assert detect_kind(doc) == kind


def test_detection_markers_are_the_fields_only_that_kind_has() -> None:
    fields = {kind: set(model.model_fields) for kind, model in MODELS.items()}
    for kind, markers in _MARKERS:
        others = set().union(*(names for other, names in fields.items() if other != kind))
        assert markers == fields[kind] - others, kind
    assert {kind for kind, _ in _MARKERS} == set(KINDS)
