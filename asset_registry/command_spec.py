"""The commands a device model supports (`[commands.NAME]` in its file), as data.

Each command names its parameters with their type and limits, and its kind:

- `diagnostic`: reads the device and changes nothing (an engineer may run it on a device
  of one of their own jobs);
- `control`: changes how the device or its gateway runs (dispatchers and admins only).

```toml
[commands.read_now]
label = "Read selected metrics now"
kind = "diagnostic"
params.metrics = { type = "metrics", required = true }

[commands.set_sample_period]
label = "Change the sampling period"
kind = "control"
params.sample_period_s = { type = "number", min = 1, max = 3600, required = true }
```

A command's name is the name on the wire (`cmd` in contract v1), so a model can name only
commands the contract knows. `validate_params` checks what a caller sends against it and
says exactly what is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, get_args

from firmware_contracts.models import CommandName

COMMAND_KINDS = ("diagnostic", "control")
PARAM_TYPES = ("metrics", "number")
WIRE_COMMANDS: tuple[str, ...] = get_args(CommandName)


class CommandSpecError(ValueError):
    """A model's command table, or the parameters sent for a command, are wrong."""


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    type: str  # metrics: a list of the model's metric names | number
    required: bool = False
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    label: str
    kind: str  # diagnostic | control
    params: Mapping[str, ParamSpec]

    @property
    def read_only(self) -> bool:
        return self.kind == "diagnostic"


def parse_commands(raw: object, where: str) -> Mapping[str, CommandSpec]:
    if raw is None:
        return MappingProxyType({})
    if not isinstance(raw, dict):
        raise CommandSpecError(f"{where}: expected [commands.NAME] tables")
    commands = {}
    for name, spec in raw.items():
        at = f"{where}.{name}"
        if name not in WIRE_COMMANDS:
            raise CommandSpecError(f"{at}: not a command of the wire contract "
                                   f"(known: {', '.join(WIRE_COMMANDS)})")
        if not isinstance(spec, dict):
            raise CommandSpecError(f"{at}: expected a table")
        unknown = sorted(set(spec) - {"label", "kind", "params"})
        if unknown:
            raise CommandSpecError(f"{at}: unknown field(s) {unknown}")
        label, kind = spec.get("label"), spec.get("kind")
        if not isinstance(label, str) or not label:
            raise CommandSpecError(f"{at}.label: expected a non-empty string")
        if kind not in COMMAND_KINDS:
            raise CommandSpecError(f"{at}.kind: {kind!r} is not one of {COMMAND_KINDS}")
        commands[name] = CommandSpec(name, label, kind, _params(spec.get("params", {}), at))
    return MappingProxyType(commands)


def _params(raw: object, where: str) -> Mapping[str, ParamSpec]:
    if not isinstance(raw, dict):
        raise CommandSpecError(f"{where}.params: expected a table")
    params = {}
    for name, spec in raw.items():
        at = f"{where}.params.{name}"
        if not isinstance(spec, dict):
            raise CommandSpecError(f"{at}: expected a table")
        unknown = sorted(set(spec) - {"type", "required", "min", "max"})
        if unknown:
            raise CommandSpecError(f"{at}: unknown field(s) {unknown}")
        kind = spec.get("type")
        if kind not in PARAM_TYPES:
            raise CommandSpecError(f"{at}.type: {kind!r} is not one of {PARAM_TYPES}")
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise CommandSpecError(f"{at}.required: expected true or false")
        limits = {k: spec.get(k) for k in ("min", "max")}
        for key, value in limits.items():
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, int | float)):
                raise CommandSpecError(f"{at}.{key}: expected a number")
        low, high = limits["min"], limits["max"]
        if low is not None and high is not None and low > high:
            raise CommandSpecError(f"{at}: min {low} is above max {high}")
        params[name] = ParamSpec(name, kind, required, low, high)
    return MappingProxyType(params)


def validate_params(spec: CommandSpec, params: Mapping[str, Any],
                    metrics: Collection[str]) -> dict[str, Any]:
    """The parameters to send, checked against `spec` and the model's `metrics`;
    CommandSpecError names the parameter and what is wrong with it."""
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise CommandSpecError(f"{spec.name}: unknown parameter(s) {unknown} "
                               f"(it takes: {', '.join(spec.params) or 'none'})")
    clean: dict[str, Any] = {}
    for name, param in spec.params.items():
        if name not in params:
            if param.required:
                raise CommandSpecError(f"{spec.name}: parameter '{name}' is required")
            continue
        value = params[name]
        at = f"{spec.name}.{name}"
        if param.type == "metrics":
            clean[name] = _metrics(value, at, metrics)
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                    not math.isfinite(value)):
                raise CommandSpecError(f"{at}: expected a number, got {value!r}")
            if param.min is not None and value < param.min:
                raise CommandSpecError(f"{at}: {value} is below the minimum {param.min}")
            if param.max is not None and value > param.max:
                raise CommandSpecError(f"{at}: {value} is above the maximum {param.max}")
            clean[name] = value
    return clean


def _metrics(value: object, at: str, metrics: Collection[str]) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        raise CommandSpecError(f"{at}: expected a non-empty list of metric names")
    unknown = [m for m in value if m not in metrics]
    if unknown:
        raise CommandSpecError(f"{at}: unknown metric(s) {unknown} "
                               f"(this model has: {', '.join(sorted(metrics))})")
    if len(set(value)) != len(value):
        raise CommandSpecError(f"{at}: a metric is named twice")
    return list(value)
