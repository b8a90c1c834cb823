"""Realistic telemetry for one simulated device, with injected faults.

`sample(ts_ms)` is a function of the timestamp (plus the device's seed), not of
how often it was called: the same device at the same instant always reads the
same, so a test can sample at 1 Hz or once a minute and a replay matches.
The one exception is the counter origin, which is the first sample's time
unless `origin_ms` is given.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from asset_registry.catalog import DeviceModel
from simulators.consumables import FilterSpec, FilterWear, shape_at
from simulators.faults import Fault, fault_schedule, read_labels, write_labels
from simulators.profiles import (
    NOISE_CUTOFF_SIGMAS,
    Counter,
    ModelProfile,
    Signal,
    SimulatorError,
    builtin_profiles,
    check_profile,
)
from simulators.sensor_faults import apply, is_sensor_fault

__all__ = [
    "DeviceSimulator",
    "Fault",
    "daily_shape",
    "fault_schedule",
    "read_labels",
    "write_labels",
]

MS_PER_HOUR = 3_600_000
# Slow drift: three incommensurate sines (about 15 min, 75 min and 5 h) read as
# natural wander rather than a visible oscillation.
_WANDER_PERIODS_S = (900.0, 4500.0, 18000.0)
_WEEKEND_WORKDAY_LOAD = 0.35


def daily_shape(shape: str, local: datetime) -> float:
    """Load factor in [0, 1] for the local time of day."""
    hour = local.hour + local.minute / 60 + local.second / 3600
    if shape == "workday":
        # Smooth ramp up around 07:30 and down around 18:30; weekends are quiet.
        rise = 1 / (1 + math.exp(-(hour - 7.5) / 0.6))
        fall = 1 / (1 + math.exp((hour - 18.5) / 0.8))
        return rise * fall * (_WEEKEND_WORKDAY_LOAD if local.weekday() >= 5 else 1.0)
    if shape == "dayload":
        # Coolest at 03:00, warmest at 15:00, like outdoor temperature.
        return 0.5 * (1 - math.cos(2 * math.pi * (hour - 3) / 24))
    return 0.0


class DeviceSimulator:
    def __init__(
        self,
        device_id: str,
        model: DeviceModel,
        seed: int = 0,
        faults: Iterable[Fault] = (),
        *,
        tz: str = "Europe/Berlin",
        origin_ms: int | None = None,
        profile: ModelProfile | None = None,
        feed_tds_ppm: float | None = None,
        filter_spec: FilterSpec | None = None,
    ) -> None:
        if profile is None:
            if model.id not in builtin_profiles():
                raise SimulatorError(f"no simulation profile for model '{model.id}'")
            profile = builtin_profiles()[model.id]
        check_profile(profile, model)
        self.device_id = device_id
        self.model = model
        self._profile = profile
        self._tz = ZoneInfo(tz)
        self._origin_ms = origin_ms
        # Per-device character: its own offsets, drift phases and counter start.
        rng = random.Random(f"{seed}:{device_id}")
        self._offset: dict[str, float] = {}
        self._wander: dict[str, list[tuple[float, float, float]]] = {}
        self._counter_start: dict[str, float] = {}
        for key, sig in profile.signals.items():
            if isinstance(sig, Counter):
                self._counter_start[key] = rng.uniform(sig.start_min, sig.start_max)
                continue
            self._offset[key] = rng.uniform(-sig.spread, sig.spread)
            self._wander[key] = [
                (
                    period * rng.uniform(0.7, 1.3),
                    rng.uniform(0, 2 * math.pi),
                    sig.wander / len(_WANDER_PERIODS_S),
                )
                for period in _WANDER_PERIODS_S
            ]
        self._noise_key = rng.getrandbits(64)
        self._stuck: dict[str, float] = {}
        # Filter consumption: only with the site's feed water given (and a model
        # profile that says which metrics a cartridge moves), so existing fleets
        # read exactly as before.
        if feed_tds_ppm is not None and profile.filter is None:
            raise SimulatorError(f"model {model.id} has no filter to consume")
        self._feed_tds_ppm = feed_tds_ppm
        self._filter_spec = filter_spec or FilterSpec()
        self._seed = seed
        self._wear: FilterWear | None = None
        self.faults = tuple(f for f in faults if f.device_id == device_id)
        self._cleared: frozenset[str] = frozenset()  # faults ended early by a reset
        for fault in self.faults:
            if is_sensor_fault(fault):
                if not isinstance(profile.signals.get(fault.metric), Signal):
                    raise SimulatorError(f"fault {fault.id}: '{fault.metric}' is not a "
                                         f"continuous signal of {model.id}")
                continue
            spec = profile.faults.get(fault.kind)
            if spec is None or (spec.metric, spec.rule_id) != (
                fault.metric,
                fault.expected_rule_id,
            ):
                raise SimulatorError(f"fault {fault.id}: '{fault.kind}' does not fit {model.id}")

    def active_faults(self, ts_ms: int) -> list[Fault]:
        return [f for f in self.faults if f.active_at(ts_ms) and f.id not in self._cleared]

    def reset_faults(self, ts_ms: int) -> list[str]:
        """A remote reset: the equipment faults active at `ts_ms` end now (their ids).
        Sensor faults stay: a reset does not repair a sensor."""
        cleared = [f.id for f in self.active_faults(ts_ms) if not is_sensor_fault(f)]
        # One assignment, so the sampler thread sees the old set or the new one.
        self._cleared = self._cleared | frozenset(cleared)
        return cleared

    def normal(self, key: str) -> float:
        """This device's baseline for a continuous metric (what a fault departs from)."""
        sig = self._profile.signals[key]
        assert isinstance(sig, Signal)
        return sig.base + self._offset[key]

    def sample(self, ts_ms: int) -> dict[str, float]:
        """What the device's sensors report at `ts_ms`: true values, then sensor faults."""
        finished = self._true_values(ts_ms)
        for fault in self.active_faults(ts_ms):
            if is_sensor_fault(fault):
                sig = self._profile.signals[fault.metric]
                assert isinstance(sig, Signal)
                stuck_at = self._stuck_value(fault) if fault.kind == "stuck" else 0.0
                finished[fault.metric] = self._finish(
                    fault.metric, apply(fault, sig, finished[fault.metric], stuck_at, ts_ms))
        return finished

    def _true_values(self, ts_ms: int) -> dict[str, float]:
        """What the equipment really does at `ts_ms`, equipment faults included."""
        if self._origin_ms is None:
            self._origin_ms = ts_ms
        wear = self.filter_wear()
        local = datetime.fromtimestamp(ts_ms / 1000, self._tz)
        # Seeded by the instant, so noise is reproducible without call history.
        noise = random.Random((self._noise_key << 48) + ts_ms)
        t_s = ts_ms / 1000
        values: dict[str, float] = {}
        for key in self.model.attributes:
            sig = self._profile.signals[key]
            if isinstance(sig, Counter):
                hours = max(0, ts_ms - self._origin_ms) / MS_PER_HOUR
                values[key] = self._counter_start[key] + sig.rate_per_h * hours
                continue
            drift = sum(
                amp * math.sin(2 * math.pi * t_s / period + phase)
                for period, phase, amp in self._wander[key]
            )
            jitter = max(-NOISE_CUTOFF_SIGMAS, min(NOISE_CUTOFF_SIGMAS, noise.gauss(0.0, 1.0)))
            values[key] = (
                self.normal(key)
                + sig.daily * daily_shape(sig.shape, local)
                + drift
                + jitter * sig.noise
            )
        if wear is not None:
            metrics = self._profile.filter
            assert metrics is not None
            values[metrics.flow] *= float(wear.usage(ts_ms))
            installed_ms, used = wear.state(ts_ms)
            values[metrics.pressure] -= wear.pressure_drop(used)
            values[metrics.counter] = (ts_ms - installed_ms) / MS_PER_HOUR
        for fault in self.active_faults(ts_ms):
            if is_sensor_fault(fault):
                continue  # a sensor fault changes the report, not the equipment: sample()
            spec = self._profile.faults[fault.kind]
            # Ramp from normal to target, then hold; noise and daily cycle ride on top.
            progress = min(1.0, (ts_ms - fault.start_ms) / (spec.ramp_s * 1000))
            values[spec.metric] += progress * (spec.target - self.normal(spec.metric))
            for key, delta in spec.effects.items():
                values[key] += progress * delta
        return {key: self._finish(key, value) for key, value in values.items()}

    def filter_wear(self) -> FilterWear | None:
        """The cartridges' truth (None without feed water); needs the origin, so it
        exists from the first sample (or at once with `origin_ms`)."""
        if self._wear is None and self._feed_tds_ppm is not None and self._origin_ms is not None:
            self._wear = FilterWear(self._expected_flow, self._feed_tds_ppm, self._origin_ms,
                                    f"{self._seed}:{self.device_id}", self._filter_spec)
        return self._wear

    def _expected_flow(self, ts_ms: np.ndarray) -> np.ndarray:
        """The filter's flow without noise or usage factor, for many instants (numpy)."""
        assert self._profile.filter is not None
        key = self._profile.filter.flow
        sig = self._profile.signals[key]
        assert isinstance(sig, Signal)
        t_s = ts_ms / 1000
        drift = sum(amp * np.sin(2 * np.pi * t_s / period + phase)
                    for period, phase, amp in self._wander[key])
        shape = shape_at(sig.shape, ts_ms, self._utc_offset_ms)
        return np.maximum(self.normal(key) + sig.daily * shape + drift, 0.0)

    def _utc_offset_ms(self, ts_ms: int) -> int:
        offset = datetime.fromtimestamp(ts_ms / 1000, self._tz).utcoffset()
        return int(offset.total_seconds() * 1000) if offset else 0

    def _stuck_value(self, fault: Fault) -> float:
        """The last true reading before a stuck sensor froze."""
        if fault.id not in self._stuck:
            self._stuck[fault.id] = self._true_values(fault.start_ms)[fault.metric]
        return self._stuck[fault.id]

    def _finish(self, key: str, value: float) -> float:
        # A real sensor saturates at its range and reports a fixed resolution.
        attr = self.model.attributes[key]
        value = min(attr.max, max(attr.min, value))
        return round(value, self._profile.signals[key].decimals)
