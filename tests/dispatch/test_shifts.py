"""Shifts in local time become windows relative to the plan's origin."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dispatch.shifts import next_shift_window

BERLIN = ZoneInfo("Europe/Berlin")
H = 3600


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, tzinfo=BERLIN)


def test_before_the_shift_starts_later_today() -> None:
    assert next_shift_window("08:00", "17:00", at(6)) == (2 * H, 11 * H)


def test_during_the_shift_starts_now() -> None:
    assert next_shift_window("08:00", "17:00", at(12)) == (0, 5 * H)


def test_after_the_shift_plans_tomorrow() -> None:
    assert next_shift_window("08:00", "17:00", at(20)) == (12 * H, 21 * H)


def test_night_shift_that_began_yesterday_is_still_running() -> None:
    assert next_shift_window("22:00", "06:00", at(2)) == (0, 4 * H)
