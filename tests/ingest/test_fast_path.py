"""The hot path's one-pass check agrees with the JSON Schema + registry checks it shortcuts."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import orjson
import pytest

from asset_registry.catalog import Attribute, load_models
from firmware_contracts.validate import ContractError, validate
from ingest.checks import DeviceInfo, check_readings, fast_accept, valid_id

MODELS = load_models()
DEVICES = {
    "dev-1": DeviceInfo(MODELS["aquapure-ro500"], "gw-1"),
    "dev-2": DeviceInfo(MODELS["torrent-cp75"], "gw-2"),
}
NOW = 1_800_000_000_000
GOOD = {"v": 1, "gw": "gw-1", "seq": 7, "sent": NOW, "readings": [
    {"dev": "dev-1", "ts": NOW - 1000, "m": {"tds_ppm": 30.0, "flow_lpm": 12}},
    {"dev": "dev-1", "ts": NOW, "m": {"tds_ppm": 31.5}},
]}
EXAMPLES = Path(__file__).resolve().parents[2] / "firmware_contracts" / "examples"


def slow_path(doc: object) -> list | None:
    """What the schema and the registry checks accept, or None when anything is refused."""
    try:
        validate("telemetry", doc)
    except ContractError:
        return None
    if doc["gw"] != "gw-1":  # type: ignore[index]
        return None
    accepted, rejects = check_readings("gw-1", doc["readings"], DEVICES, NOW)  # type: ignore
    return None if rejects else [(a.device_id, a.model_id, a.ts, dict(a.metrics))
                                 for a in accepted]


def fast_path(doc: dict) -> list | None:
    accepted = fast_accept("gw-1", doc, DEVICES, NOW)
    return None if accepted is None else [(a.device_id, a.model_id, a.ts, dict(a.metrics))
                                          for a in accepted]


def _mutations() -> list[tuple[str, dict]]:
    def change(path: list, value: object, delete: bool = False) -> dict:
        doc = copy.deepcopy(GOOD)
        target = doc
        for step in path[:-1]:
            target = target[step]
        if delete:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return doc

    r0 = ["readings", 0]
    return [
        ("good", copy.deepcopy(GOOD)),
        ("v is 2", change(["v"], 2)), ("v is true", change(["v"], True)),
        ("v is 1.0", change(["v"], 1.0)), ("no seq", change(["seq"], None, delete=True)),
        ("seq negative", change(["seq"], -1)), ("seq huge", change(["seq"], 2**60)),
        ("seq string", change(["seq"], "7")), ("sent float", change(["sent"], 1.5)),
        ("extra top key", change(["extra"], 1)), ("gw other", change(["gw"], "gw-2")),
        ("readings empty", change(["readings"], [])),
        ("readings object", change(["readings"], {"dev": "dev-1"})),
        ("reading is list", change(r0, ["dev-1", NOW, {}])),
        ("reading is null", change(r0, None)),
        ("extra reading key", change([*r0, "x"], 1)),
        ("no ts", change([*r0, "ts"], None, delete=True)),
        ("ts string", change([*r0, "ts"], "yesterday")),
        ("ts bool", change([*r0, "ts"], True)),
        ("ts float", change([*r0, "ts"], float(NOW))),
        ("ts negative", change([*r0, "ts"], -5)),
        ("ts far future", change([*r0, "ts"], NOW + 3_600_000)),
        ("dev int", change([*r0, "dev"], 5)), ("dev list", change([*r0, "dev"], ["dev-1"])),
        ("dev unknown", change([*r0, "dev"], "dev-9")),
        ("dev of other gateway", change([*r0, "dev"], "dev-2")),
        ("dev with space", change([*r0, "dev"], "dev 1")),
        ("m empty", change([*r0, "m"], {})), ("m list", change([*r0, "m"], [1.0])),
        ("m string", change([*r0, "m"], "tds")),
        ("metric bool", change([*r0, "m", "tds_ppm"], True)),
        ("metric string", change([*r0, "m", "tds_ppm"], "30")),
        ("metric null", change([*r0, "m", "tds_ppm"], None)),
        ("metric list", change([*r0, "m", "tds_ppm"], [30.0])),
        ("metric out of range", change([*r0, "m", "tds_ppm"], 1e9)),
        ("metric below range", change([*r0, "m", "tds_ppm"], -1)),
        ("metric unknown", change([*r0, "m", "rpm"], 1.0)),
        ("metric bad name", change([*r0, "m", "Tds"], 1.0)),
        ("too many metrics", change([*r0, "m"], {f"m{i}": 1.0 for i in range(65)})),
        ("too many readings", change(["readings"], GOOD["readings"][:1] * 10_001)),
    ]


@pytest.mark.parametrize(("name", "doc"), _mutations(), ids=[n for n, _ in _mutations()])
def test_fast_path_never_accepts_what_the_schema_or_registry_refuses(name: str, doc: dict
                                                                      ) -> None:
    fast = fast_path(doc)
    slow = slow_path(doc)
    if fast is not None:
        assert fast == slow, name
    if name == "good":
        assert fast is not None and len(fast) == 2
    if name not in ("good", "ts float", "sent float", "v is 1.0"):
        assert slow is None, f"{name} should be refused"


def _permissive(doc: dict) -> dict[str, DeviceInfo]:
    """A registry that knows every device and metric of `doc`, with huge ranges (and, like
    the real directory, only device ids the contract allows)."""
    metrics = {k for r in doc.get("readings", []) if isinstance(r, dict)
               and isinstance(r.get("m"), dict) for k in r["m"]}
    model = dataclasses.replace(MODELS["aquapure-ro500"], attributes={
        k: Attribute(k, k, "", -1e15, 1e15) for k in metrics if isinstance(k, str)})
    return {r["dev"]: DeviceInfo(model, doc.get("gw", "")) for r in doc.get("readings", [])
            if isinstance(r, dict) and isinstance(r.get("dev"), str) and valid_id(r["dev"])}


def test_golden_telemetry_examples_take_the_same_decision() -> None:
    decided = 0
    for path in sorted(EXAMPLES.glob("telemetry.*.json")):
        try:
            doc = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            continue  # refused by decode() before any check
        if not isinstance(doc, dict):
            continue
        gw = doc.get("gw")
        # The topic's gateway id is always a valid one.
        topic_gw = gw if isinstance(gw, str) and valid_id(gw) else "gw-1"
        accepted = fast_accept(topic_gw, doc, _permissive(doc),
                               2**52)
        if ".invalid." in path.name:
            assert accepted is None, f"{path.name}: the fast path accepted an invalid example"
        else:
            assert accepted is not None, f"{path.name}: the fast path refused a valid example"
        decided += 1
    assert decided >= 15
