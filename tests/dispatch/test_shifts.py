"""Shifts in local time become windows relative to the plan's origin."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dispatch.shifts import lunch_break, next_shift_window

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


def test_lunch_of_todays_shift_in_seconds_after_now() -> None:
    lunch = lunch_break("08:00", "17:00", "12:00", "14:00", 30, at(9))
    assert (lunch.earliest, lunch.latest, lunch.duration) == (3 * H, 4 * H + H // 2, H // 2)


def test_lunch_under_way_starts_now_and_a_passed_one_is_not_planned() -> None:
    lunch = lunch_break("08:00", "17:00", "12:00", "14:00", 30, at(13))
    assert (lunch.earliest, lunch.latest) == (0, H // 2)
    assert lunch_break("08:00", "17:00", "12:00", "14:00", 30, at(13, 45)) is None
    assert lunch_break("08:00", "17:00", "12:00", "14:00", 0, at(9)) is None


def test_after_the_shift_lunch_belongs_to_tomorrows_shift() -> None:
    lunch = lunch_break("08:00", "17:00", "12:00", "14:00", 45, at(20))
    assert (lunch.earliest, lunch.latest) == (16 * H, 18 * H - 45 * 60)
