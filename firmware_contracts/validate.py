"""Hot-path payload checks: orjson decoding and the generated JSON Schemas, compiled once.

Deliberately free of pydantic: ingest validates every message with the compiled schema
functions and keeps the plain dicts.
"""

import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, Final

import fastjsonschema
import orjson

from firmware_contracts.errors import ROOT, ContractError
from firmware_contracts.kinds import KINDS, Kind, schema_filename

__all__ = ["ContractError", "decode", "detect_kind", "load", "validate"]

# Checked in order, first hit wins: each kind is told by the fields only it has, so a
# document that is missing one of them is still recognised and its error named.
_MARKERS: Final[tuple[tuple[Kind, frozenset[str]], ...]] = (
    ("telemetry", frozenset({"readings", "seq", "sent", "epoch"})),
    ("ack", frozenset({"acks"})),
    ("status", frozenset({"state", "ts", "fw", "devices", "backlog", "evicted", "lost",
                          "config_version", "config_error"})),
    ("cmd", frozenset({"cmd", "args", "dev", "expires"})),
    ("cmd_ack", frozenset({"ok", "result", "error", "stage"})),
    ("config", frozenset({"version", "sample_period_s", "batch_max_readings", "batch_max_age_s",
                          "device_periods", "rules", "commands"})),
)

# A key that can be written after a dot in a field path without ambiguity.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@cache
def _compiled(kind: Kind) -> Callable[[object], object]:
    schema_file = resources.files("firmware_contracts").joinpath("schemas", schema_filename(kind))
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    # use_default=False: fastjsonschema's default (True) writes schema defaults into the
    # document being validated, so validation would change the payload.
    return fastjsonschema.compile(schema, use_default=False)


def _check_kind(kind: str) -> Kind:
    if kind in KINDS:
        return kind  # narrowed by the membership test
    raise ContractError(kind, ROOT, f"unknown kind; expected one of {', '.join(KINDS)}")


def validate(kind: str, doc: object) -> None:
    """Raise ContractError naming the offending field unless `doc` is a valid `kind` payload.

    `doc` is decoded JSON (dicts, lists, str, int, float, bool, None).
    """
    check = _compiled(_check_kind(kind))
    try:
        check(doc)
    except fastjsonschema.JsonSchemaValueException as exc:
        field, reason = _explain(exc)
        raise ContractError(kind, field, reason) from exc


def decode(kind: str, payload: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """Parse a payload into a dict; ContractError if it is not JSON or not an object."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ContractError(kind, ROOT, f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ContractError(kind, ROOT, "must be object")
    return doc


def load(kind: str, payload: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """decode() then validate(): the one call a consumer of a topic needs."""
    doc = decode(kind, payload)
    validate(kind, doc)
    return doc


def detect_kind(doc: object) -> Kind | None:
    """Tell the kind from the fields present, or None if nothing points to one."""
    if not isinstance(doc, dict):
        return None
    for kind, markers in _MARKERS:
        if not markers.isdisjoint(doc.keys()):
            return kind
    return None


def _explain(exc: fastjsonschema.JsonSchemaValueException) -> tuple[str, str]:
    """Turn fastjsonschema's error into (field path, reason).

    fastjsonschema names the object that holds the problem for required, extra and
    badly named keys (`data.readings[0]` for a missing ts); the key itself is found here.
    """
    where = _path(exc.name or "data")
    definition: dict[str, Any] = exc.definition if isinstance(exc.definition, dict) else {}
    value = exc.value if isinstance(exc.value, dict) else {}
    if exc.rule == "required":
        missing = [key for key in definition.get("required", ()) if key not in value]
        if missing:
            # A conditional branch (status: online) explains itself in its $comment.
            return _join(where, missing[0]), definition.get("$comment", "is required")
    elif exc.rule == "additionalProperties":
        known = definition.get("properties", {})
        extra = [key for key in value if key not in known]
        if extra:
            return _join(where, str(extra[0])), "is not allowed"
    elif exc.rule == "propertyNames":
        pattern = definition.get("propertyNames", {}).get("pattern")
        if pattern:
            bad = [key for key in value if not isinstance(key, str) or not _matches(pattern, key)]
            if bad:
                return _join(where, str(bad[0])), f"name must match pattern {pattern}"
    elif exc.rule == "const":
        return where, f"must be {json.dumps(definition.get('const'))}"
    elif exc.rule == "enum":
        choices = ", ".join(json.dumps(choice) for choice in definition.get("enum", ()))
        return where, f"must be one of {choices}"
    return where, _reason(exc)


def _path(name: str) -> str:
    """`data.readings[0].m` -> `readings[0].m`; `data` -> `$`."""
    if name == "data":
        return ROOT
    if name.startswith("data."):
        return name.removeprefix("data.")
    return name.removeprefix("data")


def _join(where: str, key: str) -> str:
    step = f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key)}]"
    return step.removeprefix(".") if where == ROOT else where + step


def _matches(pattern: str, key: str) -> bool:
    # Same reading of "$" as fastjsonschema (end of string, not before a final newline).
    return re.search(pattern.replace("$", r"\Z"), key) is not None


def _reason(exc: fastjsonschema.JsonSchemaValueException) -> str:
    """The message without the leading `data.x.y` that fastjsonschema puts in front."""
    message = exc.message
    if exc.name and message.startswith(exc.name + " "):
        return message[len(exc.name) + 1 :]
    return message
