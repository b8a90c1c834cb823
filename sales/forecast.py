"""When a device's consumable runs out: pure functions of its daily usage (numpy).

A day of telemetry is first reduced to a `DayUsage` (`summarise_day`): litres
through the filter (the flow integrated over time), hours running, the mean
pressure behind the filter, and whether a new cartridge went in (its run-hours
counter restarted). Forecasts then read only days:

* filter (basis "litres"): litres since the last replacement against the kit's
  rated capacity at the site's feed water (corrected by what this device's own
  past cartridges really held, once it has seen some), projected at the usage of
  the last four whole weeks;
* wear part (basis "run_hours"): run-hours since the last service against the
  part's interval, at the recent run-hours per day.

A replacement shows as the counter restarting, or, without a counter, as the
pressure recovering at once after sagging (`last_replacement`). The interval
(10th to 90th percentile) combines the spread of cartridges, the week-to-week
spread of usage and the chance that usage changes before the date.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from foundations.clock import DAY_MS, HOUR_MS

# Longest gap between two readings still bridged by the earlier reading's value.
MAX_GAP_MS = 20 * 60_000
RATE_DAYS = 28  # usage rate: the last four whole weeks (weekends count as they fall)
CAPACITY_SIGMA = 0.08  # cartridge-to-cartridge spread of real capacity (relative)
USAGE_DRIFT = 0.004  # relative change of usage per day ahead, one sigma (regimes move)
PRESSURE_RECOVERY_BAR = 0.25  # a daily mean this far above the days before: new cartridge
Z90 = 1.2816  # 10th/90th percentile of a normal distribution
# The errors are heavier-tailed than the normal model above assumes (usage changes
# regime without warning), so the interval is widened by this much: calibrated to
# hold 80 % of true dates on simulated fleets of seeds 11 and 23 (scripted; 1.0 held
# 52-57 %, 2.0 81-86 %); `fieldpulse bench forecast` checks it on seed 7.
INTERVAL_WIDEN = 1.8


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: int  # ms epoch of 00:00 UTC
    samples: int
    litres: float = 0.0
    run_hours: float = 0.0
    pressure: float | None = None
    reset_at: int | None = None  # a new cartridge went in (counter restarted)
    litres_after_reset: float = 0.0
    counter_last: float | None = None


@dataclass(frozen=True, slots=True)
class Forecast:
    used: float  # litres (or run-hours) since the last replacement
    capacity: float  # what this one holds, as expected
    rate_per_day: float
    since: int | None  # the last replacement seen (None: older than the data)
    predicted: int  # ms epoch it runs out
    early: int  # 10th percentile
    late: int  # 90th percentile

    @property
    def share_used(self) -> float:
        return self.used / self.capacity if self.capacity > 0 else 1.0


def _durations(ts: np.ndarray, day_end: int) -> np.ndarray:
    """How long each reading stands for: until the next one, gaps capped."""
    nxt = np.append(ts[1:], min(day_end, int(ts[-1]) + MAX_GAP_MS))
    return np.asarray(np.clip(nxt - ts, 0, MAX_GAP_MS), dtype=np.int64)


def _integral(ts: np.ndarray, values: np.ndarray, day_end: int, scale_to: float) -> float:
    """Time integral (value x minutes); scaled up to `scale_to` ms when readings are
    missing (a gateway offline for hours still used water)."""
    if not ts.size:
        return 0.0
    dt = _durations(ts, day_end)
    covered = float(dt.sum())
    total = float((values * dt).sum()) / 60_000
    return total * (scale_to / covered) if covered > 0 else 0.0


def summarise_day(day_ms: int, flow: Sequence[tuple[int, float]] = (),
                  counter: Sequence[tuple[int, float]] = (),
                  pressure: Sequence[tuple[int, float]] = (),
                  running: Sequence[tuple[int, float]] = (), running_above: float = 0.0,
                  previous_counter: float | None = None) -> DayUsage:
    """One UTC day of a device's readings (each series (ts, value) in time order)."""
    end = day_ms + DAY_MS
    f = np.array(flow, dtype=float).reshape(-1, 2)
    f_ts, f_v = f[:, 0].astype(np.int64), np.maximum(f[:, 1], 0.0)
    start = int(f_ts[0]) if f_ts.size else day_ms
    # Scaled over the part of the day the device was reporting at all (its first
    # day starts at its first reading).
    litres = _integral(f_ts, f_v, end, end - max(day_ms, min(start, end)))
    reset_at, after = None, 0.0
    c = np.array(counter, dtype=float).reshape(-1, 2)
    if c.size:
        values = c[:, 1]
        before = np.concatenate([[previous_counter if previous_counter is not None
                                  else values[0]], values[:-1]])
        drops = np.flatnonzero(values < before - 1.0)
        if drops.size:
            i = int(drops[-1])
            # The counter says how long the new cartridge has been in.
            reset_at = int(c[i, 0] - values[i] * HOUR_MS)
            keep = f_ts >= reset_at
            after = _integral(f_ts[keep], f_v[keep], end, end - max(reset_at, day_ms)) \
                if keep.any() else 0.0
    run_hours = 0.0
    r = np.array(running, dtype=float).reshape(-1, 2)
    if r.size:
        r_ts = r[:, 0].astype(np.int64)
        run_hours = float(_durations(r_ts, end)[r[:, 1] > running_above].sum()) / HOUR_MS
    p = np.array(pressure, dtype=float).reshape(-1, 2)
    return DayUsage(
        day=day_ms, samples=int(max(f_ts.size, c.shape[0], p.shape[0], r.shape[0])),
        litres=litres, run_hours=run_hours,
        pressure=float(p[:, 1].mean()) if p.size else None,
        reset_at=reset_at, litres_after_reset=after,
        counter_last=float(c[-1, 1]) if c.size else None)


def last_replacement(days: Sequence[DayUsage]) -> tuple[int, int] | None:
    """(index of the day, ms) of the newest replacement: a counter restart, or the
    pressure recovering above the days before it (only without a counter)."""
    for i in range(len(days) - 1, -1, -1):
        if days[i].reset_at is not None:
            return i, int(days[i].reset_at)  # type: ignore[arg-type]
    if any(d.counter_last is not None for d in days):
        return None  # a counter that never restarted: no replacement in the data
    pressure = [d.pressure for d in days]
    for i in range(len(days) - 1, 2, -1):
        before = [p for p in pressure[i - 3:i] if p is not None]
        now = pressure[i]
        # A jump from the day before, above the days before it (not the day after a jump).
        if now is not None and len(before) == 3 \
                and now - before[-1] > PRESSURE_RECOVERY_BAR \
                and now - float(np.median(before)) > PRESSURE_RECOVERY_BAR:
            return i, days[i].day
    return None


def usage_rate(values: Sequence[float]) -> tuple[float, float]:
    """(mean per day, its standard error) of the last whole weeks of `values` (daily,
    oldest first), up to RATE_DAYS; fewer than 7 days: their plain mean."""
    v = np.asarray(values[-RATE_DAYS:], dtype=float)
    if v.size >= 7:
        v = v[v.size % 7:]
        weeks = v.reshape(-1, 7).mean(axis=1)
        rate = float(weeks.mean())
        spread = float(weeks.std(ddof=1)) / math.sqrt(weeks.size) if weeks.size > 1 \
            else 0.15 * rate
        return rate, spread
    rate = float(v.mean()) if v.size else 0.0
    return rate, 0.3 * rate


def capacity_ratio(days: Sequence[DayUsage], rated: float) -> float:
    """What this device's past cartridges really held, relative to the rating, shrunk
    towards 1 (one cartridge says little: they vary by themselves)."""
    resets = [i for i, d in enumerate(days) if d.reset_at is not None]
    ratios = []
    for a, b in itertools.pairwise(resets):
        held = days[a].litres_after_reset + sum(d.litres for d in days[a + 1:b]) \
            + (days[b].litres - days[b].litres_after_reset)
        ratios.append(held / rated)
    if not ratios or rated <= 0:
        return 1.0
    return (sum(ratios) + 1.0) / (len(ratios) + 1)


def _weekend(day_ms: int) -> bool:
    return (day_ms // DAY_MS + 3) % 7 >= 5  # 1970-01-01 was a Thursday (Monday = 0)


def fit_sag(days: Sequence[DayUsage], litres_before: float = 0.0
            ) -> tuple[float, float] | None:
    """Least squares over one cartridge's days (the replacement days left out: their
    mean mixes two cartridges): daily mean pressure = base + weekend offset (the
    mains sag less when the building is quiet) - s * litres², litres through it by
    mid-day. Returns (s, its standard error); None with too few days."""
    rows, litres = [], litres_before
    for d in days:
        if d.pressure is not None and d.reset_at is None:
            rows.append((d.pressure, _weekend(d.day), litres + d.litres / 2))
        litres += d.litres
    if len(rows) < 10:
        return None
    p = np.array([r[0] for r in rows])
    x = np.column_stack([np.ones(len(rows)), [float(r[1]) for r in rows],
                         -np.square([r[2] for r in rows]) / 1e12])
    coef, *_ = np.linalg.lstsq(x, p, rcond=None)
    resid = p - x @ coef
    dof = max(1, len(rows) - 3)
    cov = np.linalg.pinv(x.T @ x) * float(resid @ resid) / dof
    return float(coef[2]) / 1e12, math.sqrt(max(float(cov[2, 2]), 0.0)) / 1e12


def pressure_capacity(days: Sequence[DayUsage], resets: Sequence[int]
                      ) -> tuple[float, float] | None:
    """This cartridge's capacity from how far the pressure behind it has sagged:
    clogging grows with the square of the share used, at a scale learnt from the
    device's previous cartridge (its sag at the litres it really held). Returns
    (capacity, relative standard error), or None before two replacements are seen
    or while the sag is still lost in the noise."""
    if len(resets) < 2:
        return None
    a, b = resets[-2], resets[-1]
    prev = fit_sag(days[a + 1:b], days[a].litres_after_reset)
    held = days[a].litres_after_reset + sum(d.litres for d in days[a + 1:b]) \
        + (days[b].litres - days[b].litres_after_reset)
    cur = fit_sag(days[b + 1:], days[b].litres_after_reset)
    if prev is None or cur is None or prev[0] <= 0 or cur[0] <= 0:
        return None
    rel = 0.5 * math.hypot(prev[1] / prev[0], cur[1] / cur[0])
    if rel > 0.5:
        return None
    return held * math.sqrt(prev[0] / cur[0]), rel


def project(used: float, capacity: float, rate: float, rate_se: float, now_ms: int,
            since: int | None, capacity_sigma: float = CAPACITY_SIGMA) -> Forecast | None:
    """The date `used` reaches `capacity` at `rate` per day, with its interval."""
    if rate <= 0 or capacity <= 0:
        return None
    remaining = capacity - used
    days_left = max(0.0, remaining / rate)
    sigma = math.sqrt((capacity_sigma * capacity / rate) ** 2
                      + (max(remaining, 0.0) * rate_se / rate ** 2) ** 2
                      + (USAGE_DRIFT * days_left ** 1.5) ** 2) * INTERVAL_WIDEN
    predicted = now_ms + int(days_left * DAY_MS)
    early = now_ms + int(max(0.0, days_left - Z90 * sigma) * DAY_MS)
    late = now_ms + int((days_left + Z90 * sigma) * DAY_MS)
    return Forecast(used, capacity, rate, since, predicted, early, late)


def forecast_filter(days: Sequence[DayUsage], now_ms: int, rated_capacity: float,
                    use_pressure: bool = True) -> Forecast | None:
    """Filter exhaustion from complete days before `now_ms` (None: too little data)."""
    days = [d for d in sorted(days, key=lambda d: d.day) if d.day + DAY_MS <= now_ms]
    if len(days) < 3:
        return None
    rate, rate_se = usage_rate([d.litres for d in days])
    capacity = rated_capacity * capacity_ratio(days, rated_capacity)
    sigma = CAPACITY_SIGMA
    resets = [i for i, d in enumerate(days) if d.reset_at is not None]
    sagged = pressure_capacity(days, resets) if use_pressure else None
    if sagged is not None:
        # Two estimates of one capacity, weighed by how sure each is (in logs).
        c_p, s_p = sagged
        w = s_p ** -2 / (s_p ** -2 + sigma ** -2)
        capacity = math.exp(w * math.log(c_p) + (1 - w) * math.log(capacity))
        sigma = (s_p ** -2 + sigma ** -2) ** -0.5
    found = last_replacement(days)
    if found is not None:
        i, since = found
        first = days[i].litres_after_reset if days[i].reset_at is not None else days[i].litres
        used = first + sum(d.litres for d in days[i + 1:])
        return project(used, capacity, rate, rate_se, now_ms, since, sigma)
    counter = next((d.counter_last for d in reversed(days) if d.counter_last is not None), None)
    if counter is None:
        return None  # neither a replacement seen nor a counter: how full is unknown
    # Installed before the data: the counter says how long ago; the litres before
    # the first day are estimated at the rate seen since.
    hours_in_data = len(days) * 24.0
    used = sum(d.litres for d in days) + max(0.0, counter - hours_in_data) / 24.0 * rate
    return project(used, capacity, rate, rate_se, now_ms, None)


def forecast_run_hours(days: Sequence[DayUsage], now_ms: int, interval_hours: float,
                       since_ms: int) -> Forecast | None:
    """A wear part's next service, counting run-hours from `since_ms` (its last
    service, or the first data)."""
    days = [d for d in sorted(days, key=lambda d: d.day) if d.day + DAY_MS <= now_ms]
    if len(days) < 3:
        return None
    rate, rate_se = usage_rate([d.run_hours for d in days])
    used = sum(d.run_hours for d in days if d.day >= since_ms - since_ms % DAY_MS)
    return project(used, interval_hours, rate, rate_se, now_ms, since_ms, capacity_sigma=0.0)
