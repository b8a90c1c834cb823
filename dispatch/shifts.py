"""Engineers' shifts and lunch in local time, as windows relative to a plan's origin."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from dispatch.problem import Break


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _next_shift(shift_start: str, shift_end: str, now: datetime) -> tuple[datetime, datetime]:
    start_t, end_t = _parse_hhmm(shift_start), _parse_hhmm(shift_end)
    for day in (-1, 0, 1):  # -1: a night shift that began yesterday
        date = (now + timedelta(days=day)).date()
        start = datetime.combine(date, start_t, tzinfo=now.tzinfo)
        end = datetime.combine(date, end_t, tzinfo=now.tzinfo)
        if end <= start:  # a night shift ends the next day
            end += timedelta(days=1)
        if end > now:
            return start, end
    raise AssertionError("unreachable: tomorrow's shift always ends after now")


def _seconds_after(moment: datetime, now: datetime) -> int:
    return max(0, int((moment - now).total_seconds()))


def next_shift_window(shift_start: str, shift_end: str, now: datetime) -> tuple[int, int]:
    """The shift still to work, as (start, end) seconds after `now` (tz-aware).

    Today's shift if it has not ended yet (start clamped to now), otherwise
    tomorrow's: a fault reported at night is planned for the next morning.
    """
    start, end = _next_shift(shift_start, shift_end, now)
    return _seconds_after(start, now), _seconds_after(end, now)


def lunch_break(shift_start: str, shift_end: str, lunch_from: str, lunch_to: str,
                minutes: int, now: datetime) -> Break | None:
    """The lunch of the shift still to work: `minutes`, taken within [lunch_from, lunch_to].

    None without a lunch, or when its window has passed (or is cut off by now
    or by the shift's end), since a lunch already taken is not planned again.
    """
    if minutes <= 0:
        return None
    start, end = _next_shift(shift_start, shift_end, now)
    first = datetime.combine(start.date(), _parse_hhmm(lunch_from), tzinfo=now.tzinfo)
    last = datetime.combine(start.date(), _parse_hhmm(lunch_to), tzinfo=now.tzinfo)
    if first < start:  # a night shift's lunch falls after midnight
        first, last = first + timedelta(days=1), last + timedelta(days=1)
    earliest = _seconds_after(max(first, start, now), now)
    latest = _seconds_after(min(last, end), now) - minutes * 60
    if latest < earliest:
        return None
    return Break(earliest=earliest, latest=latest, duration=minutes * 60)
