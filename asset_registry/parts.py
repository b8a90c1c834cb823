"""Spare parts as device-model data: the parts of a model (`[[parts]]`), and which
parts a fault, an alert rule or a maintenance plan usually needs (`[parts_needed]`).

Prices are whole cents (no float rounding on an invoice). A need is keyed
`rule:<rule id>`, `maintenance:<plan id>` or `fault:<customer report category>`;
the keys are checked against the model's own rules and plans when it loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

NEED_KINDS = ("rule", "maintenance", "fault")
MAX_PART_QTY = 1000


class PartsError(ValueError):
    """The parts section of a model file is invalid; the message names the field."""


@dataclass(frozen=True, slots=True)
class Part:
    number: str  # the part number, unique across every model
    name: str
    price_cents: int
    # The sales product this part is (a `[[consumables]]` product), if any.
    consumable: str | None = None


@dataclass(frozen=True, slots=True)
class PartNeed:
    part: str  # part number
    qty: int


@dataclass(frozen=True, slots=True)
class ModelParts:
    parts: Mapping[str, Part]  # part number -> part
    needs: Mapping[str, tuple[PartNeed, ...]]  # "rule:tds-high" -> parts it needs
    labour_cents_per_hour: int = 0

    def needed_for(self, kind: str, key: str) -> tuple[PartNeed, ...]:
        return self.needs.get(f"{kind}:{key}", ())


EMPTY = ModelParts(MappingProxyType({}), MappingProxyType({}))


def parse_parts(raw: Mapping[str, Any], where: str, rule_ids: set[str],
                plan_ids: set[str], fault_categories: tuple[str, ...],
                consumables: set[str]) -> ModelParts:
    parts: dict[str, Part] = {}
    specs = raw.get("parts", [])
    if not isinstance(specs, list):
        raise PartsError(f"{where}: parts: expected [[parts]] tables")
    for i, spec in enumerate(specs):
        at = f"{where}: parts[{i}]"
        if not isinstance(spec, dict):
            raise PartsError(f"{at}: expected a table")
        number, name = spec.get("number"), spec.get("name")
        if not isinstance(number, str) or not number.strip():
            raise PartsError(f"{at}.number: a non-empty part number")
        if number in parts:
            raise PartsError(f"{at}.number: duplicate part number '{number}'")
        if not isinstance(name, str) or not name.strip():
            raise PartsError(f"{at}.name: the part's name")
        consumable = spec.get("consumable")
        if consumable is not None and consumable not in consumables:
            raise PartsError(f"{at}.consumable: '{consumable}' is not one of the model's "
                             f"[[consumables]] products {sorted(consumables)}")
        parts[number] = Part(number, name, _cents(spec.get("price"), f"{at}.price"),
                             consumable)
    needs: dict[str, tuple[PartNeed, ...]] = {}
    table = raw.get("parts_needed", {})
    if not isinstance(table, dict):
        raise PartsError(f"{where}: parts_needed: expected a table")
    known = {"rule": rule_ids, "maintenance": plan_ids, "fault": set(fault_categories)}
    for key, lines in table.items():
        at = f"{where}: parts_needed.{key!r}"
        kind, _, name = key.partition(":")
        if kind not in NEED_KINDS or name not in known[kind]:
            raise PartsError(f"{at}: expected 'rule:<id>', 'maintenance:<id>' or "
                             f"'fault:<category>' of this model")
        needs[key] = parse_need_lines(lines, at, set(parts))
    labour = raw.get("labour_per_hour", 0)
    return ModelParts(MappingProxyType(parts), MappingProxyType(needs),
                      _cents(labour, f"{where}: labour_per_hour"))


def parse_need_lines(lines: object, at: str, numbers: set[str]) -> tuple[PartNeed, ...]:
    """`[{part = "...", qty = 1}, ...]`: every part known, each once, qty 1..1000."""
    if not isinstance(lines, list) or not lines:
        raise PartsError(f"{at}: expected a list of {{part, qty}} tables")
    out: list[PartNeed] = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise PartsError(f"{at}[{i}]: expected {{part = ..., qty = ...}}")
        number, qty = line.get("part"), line.get("qty", 1)
        if number not in numbers:
            raise PartsError(f"{at}[{i}].part: unknown part {number!r}")
        if not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= MAX_PART_QTY:
            raise PartsError(f"{at}[{i}].qty: a whole number from 1 to {MAX_PART_QTY}")
        if any(n.part == number for n in out):
            raise PartsError(f"{at}[{i}].part: '{number}' listed twice")
        out.append(PartNeed(str(number), qty))
    return tuple(out)


def _cents(value: object, at: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise PartsError(f"{at}: a price >= 0 in euros, got {value!r}")
    return round(float(value) * 100)
