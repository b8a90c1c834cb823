"""Filter consumption of a simulated purifier: the ground truth a forecast is judged on.

Off unless a `DeviceSimulator` is given a `FilterWear` (existing fleets read as
before). With it, the device's water use changes over the months (regimes: a
canteen opens, an office empties; a summer high), every litre of product water
goes through the filter cartridge, and a cartridge's capacity shrinks with the
site's feed-water TDS and varies from cartridge to cartridge. As it fills, the
pressure behind it sags (quadratically: clogging shows late); when it is
exhausted it is replaced on the spot, the run-hours counter restarts at zero and
the pressure recovers. `replacements(until_ms)` lists those instants.

Litres are the integral of the device's noise-free flow on a 15-minute grid,
built lazily and cached, so a sample stays a function of the timestamp.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from foundations.clock import DAY_MS

GRID_MS = 900_000  # 15 minutes
CHUNK_STEPS = 96 * 30  # grid extended 30 days at a time
WEEKEND_WORKDAY_LOAD = 0.35  # as signals.daily_shape


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """How the simulated cartridges behave (the truth; the cloud only knows the rating)."""

    capacity_litres: float = 2_000_000.0  # at reference_tds_ppm
    reference_tds_ppm: float = 300.0
    tds_exponent: float = 1.0  # capacity ∝ (reference / feed TDS) ** exponent
    cartridge_sigma: float = 0.07  # log-normal spread of one cartridge's capacity
    max_pressure_drop_bar: float = 0.5  # at exhaustion
    regime_mean_days: float = 45.0  # how long a usage level lasts, on average
    regime_sigma: float = 0.2  # log-normal step between usage levels
    seasonal: float = 0.1  # summer peak on top of the regimes


class FilterWear:
    """One purifier's cartridges over time, from its flow and its site's feed water."""

    def __init__(self, flow: Callable[[np.ndarray], np.ndarray], feed_tds_ppm: float,
                 origin_ms: int, seed: str, spec: FilterSpec = FilterSpec()) -> None:
        self._flow = flow  # noise-free flow (L/min) at grid times (ms), before usage
        self.spec = spec
        self.feed_tds_ppm = feed_tds_ppm
        self._rng = random.Random(f"filter:{seed}")
        self.level = math.exp(self._rng.gauss(0.0, 0.15))  # this customer's appetite
        self._regimes: list[tuple[int, float]] = []  # (start ms, usage factor)
        self._next_regime_ms = origin_ms - 400 * DAY_MS
        # The cartridge in at the origin went in some time before it (age from its
        # nominal life at this device's usage); the grid starts there.
        nominal = self.nominal_capacity()
        per_day = float(np.mean(flow(origin_ms + np.arange(0, 14 * DAY_MS, GRID_MS)))) * 1440
        life_days = nominal / max(per_day * self.level, 1.0)
        self._start_ms = origin_ms - int(self._rng.uniform(0.05, 0.85) * life_days * DAY_MS)
        self._start_ms -= self._start_ms % GRID_MS
        self._t = np.empty(0, dtype=np.int64)
        self._cum = np.empty(0)  # litres through since the grid's start, at grid times
        self._installs: list[int] = [self._start_ms]  # ms each cartridge went in
        self._capacity: list[float] = [self._cartridge()]
        self._installed_cum: list[float] = [0.0]

    def nominal_capacity(self) -> float:
        s = self.spec
        return float(s.capacity_litres
                     * (s.reference_tds_ppm / self.feed_tds_ppm) ** s.tds_exponent)

    def _cartridge(self) -> float:
        return self.nominal_capacity() * math.exp(self._rng.gauss(0.0, self.spec.cartridge_sigma))

    # -- usage ---------------------------------------------------------------------------

    def usage(self, ts_ms: int | np.ndarray) -> np.ndarray:
        """Factor on the flow: regime level (2-day ramps between levels) times season."""
        t = np.asarray(ts_ms, dtype=np.int64)
        self._regimes_until(int(t.max()) if t.size else 0)
        starts = np.array([s for s, _ in self._regimes], dtype=np.int64)
        levels = np.array([v for _, v in self._regimes])
        i = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        prev = levels[np.maximum(i - 1, 0)]
        ramp = np.clip((t - starts[i]) / (2 * DAY_MS), 0.0, 1.0)
        level = prev + (levels[i] - prev) * ramp
        day_of_year = (t / DAY_MS) % 365.25
        season = 1.0 + self.spec.seasonal * np.sin(2 * np.pi * (day_of_year - 100) / 365.25)
        return np.asarray(np.clip(self.level * level * season, 0.4, 1.8), dtype=np.float64)

    def _regimes_until(self, ts_ms: int) -> None:
        while self._next_regime_ms <= ts_ms:
            last = self._regimes[-1][1] if self._regimes else 1.0
            step = math.exp(self._rng.gauss(0.0, self.spec.regime_sigma))
            # Mean-reverting, so a device's use wanders but does not run away.
            self._regimes.append((self._next_regime_ms,
                                  min(1.6, max(0.6, last ** 0.7 * step))))
            self._next_regime_ms += int(self._rng.expovariate(1 / self.spec.regime_mean_days)
                                        * DAY_MS) + DAY_MS

    # -- cartridges ------------------------------------------------------------------------

    def _extend(self, ts_ms: int) -> None:
        while not self._t.size or self._t[-1] < ts_ms + GRID_MS:
            first = self._start_ms if not self._t.size else int(self._t[-1]) + GRID_MS
            t = first + GRID_MS * np.arange(CHUNK_STEPS, dtype=np.int64)
            litres = self._flow(t) * self.usage(t) * (GRID_MS / 60_000)
            base = self._cum[-1] if self._cum.size else 0.0
            self._t = np.concatenate([self._t, t])
            self._cum = np.concatenate([self._cum, base + np.cumsum(litres)])
            self._replace_exhausted()

    def _replace_exhausted(self) -> None:
        while True:
            full = self._installed_cum[-1] + self._capacity[-1]
            i = int(np.searchsorted(self._cum, full))
            if i >= self._cum.size:
                return
            # Interpolated between grid points, to the second.
            c0 = self._cum[i - 1] if i else 0.0
            t0 = int(self._t[i - 1]) if i else self._start_ms
            frac = (full - c0) / max(self._cum[i] - c0, 1e-9)
            self._installs.append(t0 + int(frac * (int(self._t[i]) - t0)))
            self._installed_cum.append(full)
            self._capacity.append(self._cartridge())

    def litres(self, ts_ms: int) -> float:
        """Litres through since the grid's start (linear between grid points)."""
        self._extend(ts_ms)
        return float(np.interp(ts_ms, self._t, self._cum, left=0.0))

    def state(self, ts_ms: int) -> tuple[int, float]:
        """(when the cartridge in at `ts_ms` went in, the share of it used up)."""
        self._extend(ts_ms)
        k = bisect.bisect_right(self._installs, ts_ms) - 1
        k = max(k, 0)
        used = self.litres(ts_ms) - self._installed_cum[k]
        return self._installs[k], min(1.0, max(0.0, used / self._capacity[k]))

    def pressure_drop(self, used: float) -> float:
        return self.spec.max_pressure_drop_bar * used * used

    def replacements(self, until_ms: int) -> list[int]:
        """Every instant a cartridge was replaced, up to `until_ms` (the ground truth)."""
        self._extend(until_ms)
        return [t for t in self._installs[1:] if t <= until_ms]


def shape_at(shape: str, ts_ms: np.ndarray, utc_offset_ms: Callable[[int], int]
             ) -> np.ndarray:
    """`signals.daily_shape` for many instants at once. The UTC offset is taken at
    each day's noon: a DST switch is off by an hour for one night, which a day's
    litres barely notice."""
    days, where = np.unique(ts_ms // DAY_MS, return_inverse=True)
    offsets = np.array([utc_offset_ms(int(d) * DAY_MS + DAY_MS // 2) for d in days])
    local = ts_ms + offsets[where]
    hour = (local % DAY_MS) / 3_600_000
    if shape == "workday":
        weekday = ((local // DAY_MS) + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
        rise = 1 / (1 + np.exp(-(hour - 7.5) / 0.6))
        fall = 1 / (1 + np.exp((hour - 18.5) / 0.8))
        return np.asarray(rise * fall * np.where(weekday >= 5, WEEKEND_WORKDAY_LOAD, 1.0),
                          dtype=np.float64)
    if shape == "dayload":
        return np.asarray(0.5 * (1 - np.cos(2 * np.pi * (hour - 3) / 24)), dtype=np.float64)
    return np.zeros(ts_ms.shape)
