"""What a visit costs the customer, by their coverage: under warranty nothing; under a
service contract the parts (labour is covered); chargeable, parts and labour. Money
is whole cents; labour is billed per started quarter hour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from asset_registry.parts import Part

COVERAGES = ("warranty", "service_contract", "chargeable")
LABOUR_STEP_MIN = 15
CURRENCY = "EUR"


@dataclass(frozen=True, slots=True)
class Line:
    kind: str  # part | labour
    code: str  # part number, or "LABOUR"
    description: str
    qty: int
    unit_cents: int
    covered: bool  # paid by the warranty or the service contract
    total_cents: int  # what the customer pays for the line (0 when covered)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def billed_minutes(minutes: int) -> int:
    return -(-minutes // LABOUR_STEP_MIN) * LABOUR_STEP_MIN


def price(coverage: str, parts: Sequence[tuple[Part, int]], labour_minutes: int,
          labour_cents_per_hour: int) -> tuple[Line, ...]:
    if coverage not in COVERAGES:
        raise ValueError(f"coverage: one of {COVERAGES}, got {coverage!r}")
    lines = [Line("part", part.number, part.name, qty, part.price_cents,
                  coverage == "warranty",
                  0 if coverage == "warranty" else qty * part.price_cents)
             for part, qty in parts]
    if labour_minutes > 0:
        minutes = billed_minutes(labour_minutes)
        cost = round(labour_cents_per_hour * minutes / 60)
        covered = coverage != "chargeable"
        lines.append(Line("labour", "LABOUR", f"Labour, {minutes} min", 1, cost, covered,
                          0 if covered else cost))
    return tuple(lines)


def money(cents: int) -> str:
    return f"{CURRENCY} {cents // 100:,}.{cents % 100:02d}"
