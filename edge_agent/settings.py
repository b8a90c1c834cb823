"""What the cloud may change at run time: sampling, batching and edge rules.

The retained `config` topic carries the desired settings. A payload is checked
against the contract first and then against what this gateway knows (its
devices; rule clear levels on the safe side); anything wrong is refused with a
reason and the settings in force stay. The accepted payload is kept on disk, so
after a reboot the gateway samples and evaluates its edge rules as configured
even before it reaches the broker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from edge_agent.config import AgentConfig
from edge_agent.edge_rules import EdgeRule
from firmware_contracts.validate import ContractError, load


class ConfigRejected(ValueError):
    """A remote config cannot be applied; the message says why (published back)."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    version: int  # 0: the local file's settings, no remote config applied yet
    sample_period_s: float
    batch_max_readings: int
    batch_max_age_s: float
    device_periods: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    rules: tuple[EdgeRule, ...] = ()
    # Device -> the commands its model allows (a remote config's `commands`); None: any.
    commands: Mapping[str, frozenset[str]] | None = None
    # The `stream` command: device -> (period, time.monotonic() it ends); a new config or
    # period ends it, and past its end the device's own period is back by itself.
    bursts: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: MappingProxyType({}))

    @classmethod
    def local(cls, config: AgentConfig) -> RunSettings:
        return cls(0, config.sample_period_s, config.batch_max_readings, config.batch_max_age_s)

    def period_of(self, dev: str) -> float:
        burst = self.bursts.get(dev)
        if burst is not None and time.monotonic() < burst[1]:
            return burst[0]
        return self.device_periods.get(dev, self.sample_period_s)

    def with_burst(self, dev: str, period_s: float, until: float) -> RunSettings:
        """The `stream` command: sample `dev` every `period_s` until `until` (monotonic)."""
        return replace(self, bursts=MappingProxyType({**self.bursts, dev: (period_s, until)}))

    def with_period(self, period_s: float, dev: str | None = None) -> RunSettings:
        """The `set-interval` command: one device's period, or every device's."""
        if dev is None:
            return RunSettings(self.version, period_s, self.batch_max_readings,
                               self.batch_max_age_s, MappingProxyType({}), self.rules,
                               self.commands)
        periods = {**self.device_periods, dev: period_s}
        return RunSettings(self.version, self.sample_period_s, self.batch_max_readings,
                           self.batch_max_age_s, MappingProxyType(periods), self.rules,
                           self.commands)


def parse_remote(payload: bytes, devices: Collection[str]) -> RunSettings:
    """Contract check, then the gateway's own checks; ConfigRejected says what is wrong."""
    try:
        doc = load("config", payload)
    except ContractError as exc:
        raise ConfigRejected(str(exc)) from None
    known = set(devices)
    periods = doc.get("device_periods", {})
    unknown = sorted(set(periods) - known)
    if unknown:
        raise ConfigRejected(f"device_periods: unknown device(s) {unknown}")
    rules = []
    for i, spec in enumerate(doc.get("rules", [])):
        where = f"rules[{i}] ({spec['id']})"
        safe = (spec["clear"] <= spec["threshold"] if spec["condition"] == "above"
                else spec["clear"] >= spec["threshold"])
        if not safe:
            raise ConfigRejected(f"{where}.clear: {spec['clear']} is on the alarm side of "
                                 f"threshold {spec['threshold']}")
        targets = spec.get("devices")
        if targets is not None and not set(targets) <= known:
            raise ConfigRejected(f"{where}.devices: unknown device(s) "
                                 f"{sorted(set(targets) - known)}")
        rules.append(EdgeRule(spec["id"], spec["metric"], spec["condition"],
                              float(spec["threshold"]), float(spec["clear"]), spec["severity"],
                              frozenset(targets) if targets is not None else None))
    if len({r.id for r in rules}) != len(rules):
        raise ConfigRejected("rules: rule ids must be unique")
    commands = doc.get("commands")
    if commands is not None and not set(commands) <= known:
        raise ConfigRejected(f"commands: unknown device(s) {sorted(set(commands) - known)}")
    return RunSettings(
        version=doc["version"], sample_period_s=float(doc["sample_period_s"]),
        batch_max_readings=doc["batch_max_readings"], batch_max_age_s=float(doc["batch_max_age_s"]),
        device_periods=MappingProxyType({k: float(v) for k, v in periods.items()}),
        rules=tuple(rules),
        commands=None if commands is None else MappingProxyType(
            {dev: frozenset(names) for dev, names in commands.items()}),
    )


class AppliedConfigFile:
    """The last accepted remote config, kept as its payload bytes in the state dir."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def save(self, payload: bytes) -> None:
        tmp = self._path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._path)

    def load(self, devices: Collection[str]) -> RunSettings | None:
        if not self._path.exists():
            return None
        try:
            return parse_remote(self._path.read_bytes(), devices)
        except ConfigRejected:
            return None  # e.g. a device was removed locally; the broker resends the config
