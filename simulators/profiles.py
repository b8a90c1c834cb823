"""Per-model simulation parameters, loaded from `profiles.toml`.

The numbers live in data so a new device model (or a retuned signal) is a
table edit; this module only parses and checks them, and knows the worst case
a signal can reach so tests can prove normal operation raises no alert.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from asset_registry.catalog import DeviceModel

PROFILES_PATH = Path(__file__).with_name("profiles.toml")
SHAPES = ("workday", "dayload", "flat")
# Gaussian noise is cut at this many sigmas, so the envelope below is a hard bound.
NOISE_CUTOFF_SIGMAS = 3.0


class SimulatorError(ValueError):
    """Simulator input (profile table, fleet, fault) is invalid; says which and why."""


@dataclass(frozen=True, slots=True)
class Signal:
    """A continuous metric around a baseline (see profiles.toml for the formula)."""

    base: float
    daily: float
    shape: str
    spread: float
    wander: float
    noise: float
    decimals: int

    def envelope(self) -> tuple[float, float]:
        """Lowest and highest value any device can show in normal operation."""
        slack = self.spread + self.wander + NOISE_CUTOFF_SIGMAS * self.noise
        return (self.base + min(0.0, self.daily) - slack, self.base + max(0.0, self.daily) + slack)


@dataclass(frozen=True, slots=True)
class Counter:
    """A monotonic run-hours style metric."""

    start_min: float
    start_max: float
    rate_per_h: float
    decimals: int


@dataclass(frozen=True, slots=True)
class FaultKind:
    name: str
    metric: str
    rule_id: str
    target: float
    ramp_s: float
    effects: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class FilterMetrics:
    """Which metrics a filter cartridge moves (`[model.filter]`): the flow through it,
    the pressure behind it, the run-hours counter restarted with each cartridge."""

    flow: str
    pressure: str
    counter: str


@dataclass(frozen=True, slots=True)
class ModelProfile:
    model_id: str
    serial_prefix: str
    signals: Mapping[str, Signal | Counter]
    faults: Mapping[str, FaultKind]
    filter: FilterMetrics | None = None


def _signal(raw: Mapping[str, Any], where: str) -> Signal | Counter:
    try:
        if raw.get("counter", False):
            return Counter(
                start_min=float(raw["start_min"]),
                start_max=float(raw["start_max"]),
                rate_per_h=float(raw["rate_per_h"]),
                decimals=int(raw.get("decimals", 2)),
            )
        signal = Signal(
            base=float(raw["base"]),
            daily=float(raw.get("daily", 0.0)),
            shape=str(raw.get("shape", "flat")),
            spread=float(raw.get("spread", 0.0)),
            wander=float(raw.get("wander", 0.0)),
            noise=float(raw.get("noise", 0.0)),
            decimals=int(raw.get("decimals", 2)),
        )
    except KeyError as exc:
        raise SimulatorError(f"{where}: missing field {exc}") from exc
    if signal.shape not in SHAPES:
        raise SimulatorError(f"{where}.shape: '{signal.shape}' not one of {SHAPES}")
    return signal


def _fault(name: str, raw: Mapping[str, Any], signals: Mapping[str, Any], where: str
           ) -> FaultKind:
    try:
        kind = FaultKind(
            name=name,
            metric=str(raw["metric"]),
            rule_id=str(raw["rule"]),
            target=float(raw["target"]),
            ramp_s=float(raw["ramp_s"]),
            effects=MappingProxyType({k: float(v) for k, v in raw.get("effects", {}).items()}),
        )
    except KeyError as exc:
        raise SimulatorError(f"{where}: missing field {exc}") from exc
    for metric in (kind.metric, *kind.effects):
        if not isinstance(signals.get(metric), Signal):
            raise SimulatorError(f"{where}: '{metric}' is not a continuous signal of this model")
    return kind


def _filter(raw: object, signals: Mapping[str, Any], where: str) -> FilterMetrics | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SimulatorError(f"{where}: expected a table with flow, pressure and counter")
    try:
        metrics = FilterMetrics(str(raw["flow"]), str(raw["pressure"]), str(raw["counter"]))
    except KeyError as exc:
        raise SimulatorError(f"{where}: missing field {exc}") from exc
    for role, kind in (("flow", Signal), ("pressure", Signal), ("counter", Counter)):
        if not isinstance(signals.get(getattr(metrics, role)), kind):
            raise SimulatorError(f"{where}.{role}: not a {kind.__name__.lower()} of this model")
    return metrics


def parse_profiles(raw: Mapping[str, Any], source: str) -> dict[str, ModelProfile]:
    profiles: dict[str, ModelProfile] = {}
    for model_id, spec in raw.items():
        where = f"{source}: {model_id}"
        signals = {
            key: _signal(sig, f"{where}.signals.{key}") for key, sig in spec["signals"].items()
        }
        faults = {
            name: _fault(name, f, signals, f"{where}.faults.{name}")
            for name, f in spec.get("faults", {}).items()
        }
        profiles[model_id] = ModelProfile(
            model_id=model_id,
            serial_prefix=str(spec["serial_prefix"]),
            signals=MappingProxyType(signals),
            faults=MappingProxyType(faults),
            filter=_filter(spec.get("filter"), signals, f"{where}.filter"),
        )
    return profiles


def load_profiles(path: Path = PROFILES_PATH) -> dict[str, ModelProfile]:
    with path.open("rb") as fh:
        return parse_profiles(tomllib.load(fh), path.name)


@functools.cache
def builtin_profiles() -> Mapping[str, ModelProfile]:
    """The shipped table, parsed once per process (every simulated device needs it)."""
    return MappingProxyType(load_profiles())


def check_profile(profile: ModelProfile, model: DeviceModel) -> None:
    """Refuse a profile that does not match its catalogue model.

    A missing signal would silently drop a metric from readings, and a fault
    labelled with the wrong rule would make every end-to-end check lie.
    """
    where = f"profile {profile.model_id}"
    missing = set(model.attributes) - set(profile.signals)
    extra = set(profile.signals) - set(model.attributes)
    if missing or extra:
        raise SimulatorError(f"{where}: signals {sorted(missing)} missing, {sorted(extra)} unknown")
    rules = {rule.id: rule for rule in model.rules}
    for kind in profile.faults.values():
        rule = rules.get(kind.rule_id)
        if rule is None or rule.metric != kind.metric:
            raise SimulatorError(
                f"{where}.faults.{kind.name}: no rule '{kind.rule_id}' on metric '{kind.metric}'"
            )
