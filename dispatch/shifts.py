"""Engineers' shifts in local time, turned into windows relative to a plan's origin."""

from __future__ import annotations

from datetime import datetime, time, timedelta


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def next_shift_window(shift_start: str, shift_end: str, now: datetime) -> tuple[int, int]:
    """The shift still to work, as (start, end) seconds after `now` (tz-aware).

    Today's shift if it has not ended yet (start clamped to now), otherwise
    tomorrow's: a fault reported at night is planned for the next morning.
    """
    start_t, end_t = _parse_hhmm(shift_start), _parse_hhmm(shift_end)
    for day in (-1, 0, 1):  # -1: a night shift that began yesterday
        date = (now + timedelta(days=day)).date()
        start = datetime.combine(date, start_t, tzinfo=now.tzinfo)
        end = datetime.combine(date, end_t, tzinfo=now.tzinfo)
        if end <= start:  # a night shift ends the next day
            end += timedelta(days=1)
        if end > now:
            return (max(0, int((start - now).total_seconds())), int((end - now).total_seconds()))
    raise AssertionError("unreachable: tomorrow's shift always ends after now")
