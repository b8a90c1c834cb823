"""The parts a work order needs, kept on it as JSON (`work_order.parts_needed`)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from asset_registry.parts import PartNeed


def parts_json(needs: Iterable[PartNeed]) -> str:
    return json.dumps([{"part": n.part, "qty": n.qty} for n in needs])


def needs_of(parts_needed: str) -> tuple[PartNeed, ...]:
    return tuple(PartNeed(str(p["part"]), int(p["qty"])) for p in json.loads(parts_needed))
