"""What each device model consumes and what it upgrades to: the `[[consumables]]` and
`[upgrade]` sections of its model file (`asset_registry/device_models/*.toml`).

Read here rather than by the asset registry's loader, which ignores sections it
does not know: the sales cloud is the only reader, and a bad section names the
file and field like the catalogue does.

```toml
[[consumables]]
product = "RO membrane filter kit"
basis = "litres"                 # litres (through a filter) | run_hours (wear part)
flow_metric = "flow_lpm"         # litres: integrated from this flow (L/min)
capacity_litres = 2_000_000      # rated capacity at reference_tds_ppm
reference_tds_ppm = 300          # the site's feed water scales it: (ref / feed) ** exponent
tds_exponent = 1.0
counter_metric = "filter_hours"  # run-hours on the cartridge: restarts when replaced
pressure_metric = "inlet_pressure_bar"  # recovers when replaced (no counter: detection)
lead_days = 14                   # raise the opportunity this long before it runs out
quantity = 1

[upgrade]
product = "AquaPure RO-700 upgrade"
expected_life_years = 5          # from the year in the serial (PREFIX-YY-NNNNNN)
faults_in_90_days = 3            # incidents (alerts) that call for one
```
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asset_registry.catalog import BUILTIN_MODELS_DIR, CatalogError

BASES = ("litres", "run_hours")


@dataclass(frozen=True, slots=True)
class Consumable:
    product: str
    basis: str  # litres | run_hours
    lead_days: float
    quantity: int = 1
    # litres
    flow_metric: str | None = None
    capacity_litres: float = 0.0
    reference_tds_ppm: float = 300.0
    tds_exponent: float = 1.0
    counter_metric: str | None = None
    pressure_metric: str | None = None
    # run_hours
    running_metric: str | None = None
    running_above: float = 0.0
    interval_hours: float = 0.0

    def capacity_at(self, feed_tds_ppm: float | None) -> float:
        """Rated litres at this feed water (the rating itself when it is unknown)."""
        if not feed_tds_ppm:
            return self.capacity_litres
        return float(self.capacity_litres
                     * (self.reference_tds_ppm / feed_tds_ppm) ** self.tds_exponent)

    def metrics(self) -> tuple[str, ...]:
        return tuple(m for m in (self.flow_metric, self.counter_metric, self.pressure_metric,
                                 self.running_metric) if m)


@dataclass(frozen=True, slots=True)
class Upgrade:
    """The model's successor, offered to a device that keeps failing or has aged."""

    product: str
    expected_life_years: float
    faults_in_90_days: int = 3


@dataclass(frozen=True, slots=True)
class SalesSpec:
    model_id: str
    consumables: tuple[Consumable, ...] = ()
    upgrade: Upgrade | None = None


def _number(spec: Mapping[str, object], key: str, where: str, default: float | None = None
            ) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CatalogError(f"{where}.{key}: expected a number, got {value!r}")
    return float(value)


def _metric(spec: Mapping[str, Any], key: str, where: str, attributes: Collection[str],
            required: bool) -> str | None:
    value = spec.get(key)
    if value is None and not required:
        return None
    if value not in attributes:
        raise CatalogError(f"{where}.{key}: {value!r} is not an attribute of this model")
    return str(value)


def parse_sales(raw: Mapping[str, Any], source: str) -> SalesSpec:
    model_id = str(raw.get("id", ""))
    attributes = list(raw.get("attributes", {}) or {})
    consumables: list[Consumable] = []
    for i, spec in enumerate(raw.get("consumables", []) or []):
        where = f"{source}: consumables[{i}]"
        if not isinstance(spec, dict) or not isinstance(spec.get("product"), str):
            raise CatalogError(f"{where}: expected a table with a product name")
        basis = spec.get("basis")
        if basis not in BASES:
            raise CatalogError(f"{where}.basis: {basis!r} not one of {BASES}")
        lead, quantity = _number(spec, "lead_days", where), int(_number(spec, "quantity", where, 1))
        if lead < 0 or quantity < 1:
            raise CatalogError(f"{where}: lead_days must be >= 0 and quantity >= 1")
        if basis == "litres":
            item = Consumable(
                product=spec["product"], basis=basis, lead_days=lead, quantity=quantity,
                flow_metric=_metric(spec, "flow_metric", where, attributes, True),
                capacity_litres=_number(spec, "capacity_litres", where),
                reference_tds_ppm=_number(spec, "reference_tds_ppm", where, 300.0),
                tds_exponent=_number(spec, "tds_exponent", where, 1.0),
                counter_metric=_metric(spec, "counter_metric", where, attributes, False),
                pressure_metric=_metric(spec, "pressure_metric", where, attributes, False))
            if item.capacity_litres <= 0 or item.reference_tds_ppm <= 0:
                raise CatalogError(f"{where}: capacity_litres and reference_tds_ppm must be > 0")
        else:
            item = Consumable(
                product=spec["product"], basis=basis, lead_days=lead, quantity=quantity,
                running_metric=_metric(spec, "running_metric", where, attributes, True),
                running_above=_number(spec, "running_above", where, 0.0),
                interval_hours=_number(spec, "interval_hours", where))
            if item.interval_hours <= 0:
                raise CatalogError(f"{where}.interval_hours: must be > 0")
        if item.product in {c.product for c in consumables}:
            raise CatalogError(f"{where}.product: '{item.product}' listed twice")
        consumables.append(item)
    upgrade = None
    if (spec := raw.get("upgrade")) is not None:
        where = f"{source}: upgrade"
        if not isinstance(spec, dict) or not isinstance(spec.get("product"), str):
            raise CatalogError(f"{where}: expected a table with a product name")
        upgrade = Upgrade(spec["product"], _number(spec, "expected_life_years", where),
                          int(_number(spec, "faults_in_90_days", where, 3)))
    return SalesSpec(model_id, tuple(consumables), upgrade)


def load_sales_catalogue(paths: Iterable[Path] | None = None) -> dict[str, SalesSpec]:
    """Model id -> its sales spec, from the model files (default: the built-in ones)."""
    files = sorted(BUILTIN_MODELS_DIR.glob("*.toml")) if paths is None else list(paths)
    out: dict[str, SalesSpec] = {}
    for path in files:
        with path.open("rb") as fh:
            spec = parse_sales(tomllib.load(fh), path.name)
        out[spec.model_id] = spec
    return out
