"""The consumable forecast on synthetic series: no simulator, no database."""

from __future__ import annotations

import pytest

from sales.catalogue import Consumable
from sales.forecast import (
    DAY_MS,
    HOUR_MS,
    DayUsage,
    forecast_filter,
    forecast_run_hours,
    last_replacement,
    summarise_day,
    usage_rate,
)

T0 = 1_780_000_000_000 - 1_780_000_000_000 % DAY_MS  # a UTC midnight


def days(litres: list[float], **fields) -> list[DayUsage]:
    return [DayUsage(T0 + i * DAY_MS, 96, litres=v, **fields) for i, v in enumerate(litres)]


def replaced_on(series: list[DayUsage], i: int, after: float) -> list[DayUsage]:
    d = series[i]
    series[i] = DayUsage(d.day, d.samples, d.litres, reset_at=d.day + 12 * HOUR_MS,
                         litres_after_reset=after, counter_last=12.0)
    return series


def test_constant_usage_runs_out_when_capacity_is_reached():
    series = replaced_on(days([10_000.0] * 40), 0, 5_000.0)
    now = T0 + 40 * DAY_MS
    f = forecast_filter(series, now, rated_capacity=1_000_000.0)
    assert f is not None
    assert f.used == pytest.approx(5_000 + 39 * 10_000)
    assert f.rate_per_day == pytest.approx(10_000)
    # 605,000 L left at 10,000 L/day
    assert (f.predicted - now) / DAY_MS == pytest.approx(60.5, abs=0.01)
    assert f.early < f.predicted < f.late
    assert f.since == T0 + 12 * HOUR_MS


def test_the_recent_four_weeks_set_the_rate_when_usage_changes():
    series = replaced_on(days([5_000.0] * 30 + [20_000.0] * 28), 0, 2_500.0)
    now = T0 + 58 * DAY_MS
    f = forecast_filter(series, now, rated_capacity=1_000_000.0)
    assert f is not None
    assert f.rate_per_day == pytest.approx(20_000)
    left = 1_000_000 - (2_500 + 29 * 5_000 + 28 * 20_000)
    assert (f.predicted - now) / DAY_MS == pytest.approx(left / 20_000, abs=0.01)


def test_today_is_left_out_until_it_is_complete():
    series = replaced_on(days([10_000.0] * 20), 0, 5_000.0)
    now = T0 + 19 * DAY_MS + 6 * HOUR_MS  # day 19 has only begun
    f = forecast_filter(series, now, rated_capacity=1_000_000.0)
    assert f is not None and f.used == pytest.approx(5_000 + 18 * 10_000)


def test_a_counter_restart_in_the_readings_is_a_replacement_and_splits_the_day():
    day = T0
    step = 15 * 60_000
    stamps = list(range(day, day + DAY_MS, step))
    flow = [(ts, 10.0) for ts in stamps]  # 10 L/min all day: 14,400 L
    change = day + 10 * HOUR_MS
    counter = [(ts, 900.0 + (ts - day) / HOUR_MS if ts < change else (ts - change) / HOUR_MS)
               for ts in stamps]
    s = summarise_day(day, flow=flow, counter=counter, previous_counter=899.9)
    assert s.litres == pytest.approx(14_400)
    assert s.reset_at == change
    assert s.litres_after_reset == pytest.approx(14 * 60 * 10)
    assert s.counter_last == pytest.approx(13.75)
    quiet = summarise_day(day + DAY_MS, flow=flow, counter=[(ts, 24 + (ts - day) / HOUR_MS)
                                                            for ts in stamps],
                          previous_counter=s.counter_last)
    assert quiet.reset_at is None


def test_missing_readings_are_scaled_up_to_the_whole_day():
    stamps = range(T0, T0 + 12 * HOUR_MS, 15 * 60_000)  # gateway offline after noon
    s = summarise_day(T0, flow=[(ts, 10.0) for ts in stamps])
    assert s.litres == pytest.approx(14_400, rel=0.01)


def test_pressure_recovery_is_a_replacement_when_there_is_no_counter():
    pressures = [3.4, 3.3, 3.2, 3.1, 3.0, 2.95, 3.5, 3.5, 3.48]
    series = [DayUsage(T0 + i * DAY_MS, 96, litres=1_000.0, pressure=p)
              for i, p in enumerate(pressures)]
    assert last_replacement(series) == (6, T0 + 6 * DAY_MS)
    assert last_replacement(series[:6]) is None


def test_without_a_replacement_in_the_data_the_counter_says_how_old_the_cartridge_is():
    series = days([10_000.0] * 14, counter_last=None)
    series = [DayUsage(d.day, d.samples, d.litres, counter_last=24.0 * (i + 1) + 20 * 24)
              for i, d in enumerate(series)]
    now = T0 + 14 * DAY_MS
    f = forecast_filter(series, now, rated_capacity=1_000_000.0)
    assert f is not None and f.since is None
    # 14 days in the data, 20 days before them at the same rate
    assert f.used == pytest.approx(34 * 10_000)
    assert forecast_filter(days([10_000.0] * 14), now, 1_000_000.0) is None  # unknowable


def test_run_hours_forecast_counts_from_the_last_service():
    series = [DayUsage(T0 + i * DAY_MS, 96, run_hours=20.0) for i in range(30)]
    now = T0 + 30 * DAY_MS
    f = forecast_run_hours(series, now, interval_hours=1_000.0, since_ms=T0 + 10 * DAY_MS)
    assert f is not None and f.used == pytest.approx(400.0)
    assert (f.predicted - now) / DAY_MS == pytest.approx(30.0, abs=0.01)


def test_harder_feed_water_shrinks_the_rated_capacity():
    kit = Consumable("kit", "litres", 14, capacity_litres=2_000_000, reference_tds_ppm=300)
    assert kit.capacity_at(600) == pytest.approx(1_000_000)
    assert kit.capacity_at(None) == 2_000_000


def test_usage_rate_uses_whole_weeks():
    # 10 days: the oldest three are dropped so weekdays and weekends weigh alike.
    rate, spread = usage_rate([100.0] * 3 + [10.0] * 7)
    assert rate == pytest.approx(10.0)
    assert spread > 0


def sagging_cartridges(capacities: list[float], per_day: float, days_in_last: int,
                       scale_bar: float = 0.5) -> list[DayUsage]:
    """Cartridges replaced when full, the pressure behind each sagging by
    scale * (share used)² (weekends 0.1 bar higher: the mains sag less)."""
    series: list[DayUsage] = []
    day = T0
    for k, cap in enumerate(capacities):
        n = round(cap / per_day) if k < len(capacities) - 1 else days_in_last
        for i in range(n):
            share = (i + 0.5) * per_day / cap
            weekend = (day // DAY_MS + 3) % 7 >= 5
            pressure = 3.3 + 0.1 * weekend - scale_bar * share ** 2
            fitted = i == 0
            series.append(DayUsage(day, 96, litres=per_day, pressure=pressure,
                                   reset_at=day if fitted else None,
                                   litres_after_reset=per_day if fitted else 0.0,
                                   counter_last=24.0 * (i + 1)))
            day += DAY_MS
    return series


def test_the_pressure_sag_tells_a_weak_cartridge_from_its_rating():
    # The rating says 1,000,000 L; this device's second cartridge holds only 800,000.
    series = sagging_cartridges([1_000_000.0, 800_000.0], 10_000.0, days_in_last=50)
    now = series[-1].day + DAY_MS
    with_sag = forecast_filter(series, now, rated_capacity=1_000_000.0)
    litres_only = forecast_filter(series, now, rated_capacity=1_000_000.0, use_pressure=False)
    assert with_sag is not None and litres_only is not None
    truth = now + 30 * DAY_MS  # 300,000 L left at 10,000 L/day
    assert abs(with_sag.predicted - truth) / DAY_MS < 1.0
    assert (litres_only.predicted - truth) / DAY_MS > 15  # believes the rating
    assert with_sag.late - with_sag.early < litres_only.late - litres_only.early
