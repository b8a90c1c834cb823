"""Device models: the attributes every device of a type reports and its alert rules.

Models are data (`device_models/*.toml`), not code, so a manufacturer adds a
product line by adding a file. Loading validates everything a rule or a reading
will later rely on, and names the file and field that is wrong.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from asset_registry.command_spec import CommandSpec, CommandSpecError, parse_commands
from asset_registry.fault_categories import FAULT_CATEGORIES
from asset_registry.parts import EMPTY, ModelParts, Part, PartNeed, PartsError, parse_parts
from asset_registry.rule_spec import SEVERITIES, Rule, RuleError, parse_rules

BUILTIN_MODELS_DIR = Path(__file__).with_name("device_models")

ACTIONS = ("notify_owner", "notify_supervisor", "notify_customer", "open_work_order")


class CatalogError(ValueError):
    """A device model file is invalid; the message names the file and the field."""


def severity_rank(severity: str) -> int:
    """SEVERITIES run from least to most severe; the index is the rank."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class Attribute:
    key: str
    label: str
    unit: str
    min: float
    max: float
    # What the device's owner calls it (the customer's page); the label if not given.
    customer_label: str = ""
    # The manufacturer's translations of it (`[attributes.X.customer_label_translations]`,
    # locale -> text, e.g. de, zh_CN); other languages read `customer_label`.
    customer_label_translations: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}))

    @property
    def plain_label(self) -> str:
        return self.customer_label or self.label

    def plain_label_in(self, locale: str) -> str:
        return translated(self.customer_label_translations, locale) or self.plain_label


def translated(texts: Mapping[str, str], locale: str) -> str | None:
    """A model's text in `locale` (exact, then the same language: `de_AT` reads `de`);
    None: the model's default language is shown."""
    wanted = locale.replace("-", "_").lower()
    by_key = {key.replace("-", "_").lower(): text for key, text in texts.items()}
    if wanted in by_key:
        return by_key[wanted]
    language = wanted.split("_", 1)[0]
    return next((text for key, text in by_key.items() if key.split("_", 1)[0] == language),
                None)


def _translations(spec: Mapping[str, Any], key: str, where: str) -> Mapping[str, str]:
    value = spec.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise CatalogError(f"{where}.{key}: expected a table of locale = \"text\"")
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class MaintenancePlan:
    """Preventive maintenance (`[[maintenance]]`): due every `every_run_hours` of the
    `run_hours_metric` counter or every `every_months`, whichever comes first; its
    work order opens `lead_days` before the due date (dispatch/maintenance.py)."""

    id: str
    title: str
    skill: str
    duration_min: int
    lead_days: float
    every_months: int | None = None
    every_run_hours: float | None = None
    run_hours_metric: str | None = None
    priority: int = 1  # below corrective work: a fault is served first
    parts: tuple[PartNeed, ...] = ()  # `[parts_needed]` "maintenance:<id>"


@dataclass(frozen=True, slots=True)
class DeviceModel:
    id: str
    name: str
    category: str
    service_skill: str
    service_minutes: int
    attributes: Mapping[str, Attribute]
    rules: tuple[Rule, ...]
    actions: Mapping[str, tuple[str, ...]]
    # Notify the supervisor when an alert of at least `escalate_from` severity
    # stays unacknowledged this long (None: never).
    escalate_after_min: float | None = None
    escalate_from: str = "high"
    maintenance: tuple[MaintenancePlan, ...] = ()
    # What the cloud may ask a device of this model to do (asset_registry.command_spec).
    commands: Mapping[str, CommandSpec] = field(default_factory=lambda: MappingProxyType({}))
    # Spare parts, which parts a rule / plan / fault needs, the labour rate.
    parts: ModelParts = EMPTY
    # The manufacturer's translations of `name` (`[name_translations]`, locale -> text).
    name_translations: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def name_in(self, locale: str) -> str:
        return translated(self.name_translations, locale) or self.name

    def actions_for(self, severity: str) -> tuple[str, ...]:
        return self.actions.get(severity, ())


def quiet_values(model: DeviceModel, position: float = 0.5) -> dict[str, float]:
    """A value per attribute, inside its range and on the safe side of every rule's clear level.

    `position` (0..1) places it within that safe interval. For tests and benchmarks
    that need readings no threshold or band rule reacts to.
    """
    values: dict[str, float] = {}
    conditions = [c for rule in model.rules for c in rule.conditions]
    for key, attribute in model.attributes.items():
        low, high = attribute.min, attribute.max
        for c in conditions:
            if c.metric != key:
                continue
            if c.condition == "above":
                high = min(high, c.clear)
            elif c.condition == "below":
                low = max(low, c.clear)
            elif c.condition == "outside":
                low, high = max(low, c.clear_band[0]), min(high, c.clear_band[1])
        values[key] = round(low + (high - low) * position, 3)
    return values


def _require(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str
             ) -> Any:
    if key not in table:
        raise CatalogError(f"{where}: missing field '{key}'")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise CatalogError(f"{where}.{key}: expected {kind}, got {value!r}")
    return value


def _optional_text(spec: Mapping[str, Any], key: str, where: str) -> str:
    value = spec.get(key, "")
    if not isinstance(value, str):
        raise CatalogError(f"{where}.{key}: expected a string")
    return value


def parse_model(raw: Mapping[str, Any], source: str) -> DeviceModel:
    model_id = _require(raw, "id", str, source)
    attributes: dict[str, Attribute] = {}
    for key, spec in _require(raw, "attributes", dict, source).items():
        where = f"{source}: attributes.{key}"
        if not isinstance(spec, dict):
            raise CatalogError(f"{where}: expected a table")
        low = float(_require(spec, "min", (int, float), where))
        high = float(_require(spec, "max", (int, float), where))
        if low >= high:
            raise CatalogError(f"{where}: min {low} must be below max {high}")
        attributes[key] = Attribute(
            key=key,
            label=_require(spec, "label", str, where),
            unit=_require(spec, "unit", str, where),
            min=low,
            max=high,
            customer_label=_optional_text(spec, "customer_label", where),
            customer_label_translations=_translations(
                spec, "customer_label_translations", where),
        )
    try:
        rules = parse_rules(raw.get("rules", []), f"{source}: rules", attributes)
    except RuleError as err:
        raise CatalogError(str(err)) from None
    actions: dict[str, tuple[str, ...]] = {}
    for severity, names in raw.get("actions", {}).items():
        where = f"{source}: actions.{severity}"
        if severity not in SEVERITIES:
            raise CatalogError(f"{where}: unknown severity")
        for name in names:
            if name not in ACTIONS:
                raise CatalogError(f"{where}: unknown action '{name}' (known: {ACTIONS})")
        actions[severity] = tuple(names)
    maintenance = _maintenance(raw.get("maintenance", []), f"{source}: maintenance", raw,
                               attributes)
    consumables = {c.get("product") for c in raw.get("consumables", [])
                   if isinstance(c, dict)}
    try:
        parts = parse_parts(raw, source, {r.id for r in rules}, {p.id for p in maintenance},
                            FAULT_CATEGORIES, {c for c in consumables if isinstance(c, str)})
    except PartsError as err:
        raise CatalogError(str(err)) from None
    try:
        commands = parse_commands(raw.get("commands"), f"{source}: commands")
    except CommandSpecError as err:
        raise CatalogError(str(err)) from None
    return DeviceModel(
        id=model_id,
        name=_require(raw, "name", str, source),
        category=_require(raw, "category", str, source),
        service_skill=_require(raw, "service_skill", str, source),
        service_minutes=int(_require(raw, "service_minutes", int, source)),
        attributes=MappingProxyType(attributes),
        rules=rules,
        actions=MappingProxyType(actions),
        maintenance=tuple(dataclasses.replace(p, parts=parts.needed_for("maintenance", p.id))
                          for p in maintenance),
        parts=parts,
        commands=commands,
        name_translations=_translations(raw, "name_translations", source),
        **_escalation(raw.get("escalation"), f"{source}: escalation"),
    )


def _maintenance(raw: object, where: str, model: Mapping[str, object],
                 attributes: Mapping[str, Attribute]) -> tuple[MaintenancePlan, ...]:
    if not isinstance(raw, list):
        raise CatalogError(f"{where}: expected [[maintenance]] tables")
    plans: list[MaintenancePlan] = []
    for i, spec in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(spec, dict):
            raise CatalogError(f"{at}: expected a table")
        plan_id = _require(spec, "id", str, at)
        if plan_id in {p.id for p in plans}:
            raise CatalogError(f"{at}.id: duplicate plan id '{plan_id}'")
        months = spec.get("every_months")
        hours = spec.get("every_run_hours")
        metric = spec.get("run_hours_metric")
        if months is None and hours is None:
            raise CatalogError(f"{at}: needs every_months, every_run_hours or both")
        if months is not None:
            months = _require(spec, "every_months", int, at)
            if months < 1:
                raise CatalogError(f"{at}.every_months: must be >= 1")
        if hours is not None:
            hours = float(_require(spec, "every_run_hours", (int, float), at))
            if hours <= 0:
                raise CatalogError(f"{at}.every_run_hours: must be > 0")
            if metric not in attributes:
                raise CatalogError(f"{at}.run_hours_metric: every_run_hours needs the "
                                   f"counter attribute that counts them, got {metric!r}")
        lead = float(_require(spec, "lead_days", (int, float), at))
        priority = int(spec.get("priority", 1))
        if lead < 0 or not 1 <= priority <= 5:
            raise CatalogError(f"{at}: lead_days must be >= 0 and priority 1..5")
        plans.append(MaintenancePlan(
            id=plan_id, title=_require(spec, "title", str, at),
            skill=str(spec.get("skill", model["service_skill"])),
            duration_min=int(spec.get("duration_min", model["service_minutes"])),
            lead_days=lead, every_months=months, every_run_hours=hours,
            run_hours_metric=metric if hours is not None else None, priority=priority))
    return tuple(plans)


def _escalation(raw: object, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: expected a table with after_min and from_severity")
    after = _require(raw, "after_min", (int, float), where)
    if after <= 0:
        raise CatalogError(f"{where}.after_min: must be > 0")
    severity = raw.get("from_severity", "high")
    if severity not in SEVERITIES:
        raise CatalogError(f"{where}.from_severity: '{severity}' not one of {SEVERITIES}")
    return {"escalate_after_min": float(after), "escalate_from": severity}


def load_models(paths: Iterable[Path] | None = None) -> dict[str, DeviceModel]:
    """Load device models from TOML files (default: the built-in catalogue)."""
    files = sorted(BUILTIN_MODELS_DIR.glob("*.toml")) if paths is None else list(paths)
    models: dict[str, DeviceModel] = {}
    for path in files:
        with path.open("rb") as fh:
            try:
                raw = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise CatalogError(f"{path.name}: {exc}") from exc
        model = parse_model(raw, path.name)
        if model.id in models:
            raise CatalogError(f"{path.name}: duplicate model id '{model.id}'")
        models[model.id] = model
    _check_part_numbers(models)
    return models


def all_parts(models: Mapping[str, DeviceModel]) -> dict[str, Part]:
    """Every part of every model by part number (one part per number: checked on load)."""
    return {n: p for m in models.values() for n, p in m.parts.parts.items()}


def _check_part_numbers(models: Mapping[str, DeviceModel]) -> None:
    """A part number names one part everywhere: stock is counted by number alone."""
    seen: dict[str, tuple[str, object]] = {}
    for model in models.values():
        for number, part in model.parts.parts.items():
            other = seen.setdefault(number, (model.id, part))
            if other[1] != part:
                raise CatalogError(f"part {number}: described differently by models "
                                   f"{other[0]} and {model.id}")
