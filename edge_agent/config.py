"""The gateway's local configuration, read from a JSON file at start."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AgentConfig:
    gateway_id: str
    state_dir: Path
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    username: str | None = None
    password: str | None = None
    firmware: str = "fieldpulse-edge/0.1.0"
    sample_period_s: float = 1.0
    batch_max_readings: int = 100
    batch_max_age_s: float = 2.0
    # Anything driver-specific (register maps, simulator settings) stays opaque here.
    driver: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sample_period_s <= 0:
            raise ConfigError("sample_period_s must be > 0")
        if self.batch_max_readings < 1:
            raise ConfigError("batch_max_readings must be >= 1")
        if self.batch_max_age_s <= 0:
            raise ConfigError("batch_max_age_s must be > 0")

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        raw = json.loads(path.read_text())
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {sorted(unknown)}")
        if "gateway_id" not in raw or "state_dir" not in raw:
            raise ConfigError(f"{path}: 'gateway_id' and 'state_dir' are required")
        raw["state_dir"] = Path(raw["state_dir"])
        return cls(**raw)
