"""Preventive maintenance: when a device's next visit of a plan falls due.

Pure: a plan (`asset_registry.catalog.MaintenancePlan`), the baseline of the
last visit (or of when tracking began) and the run-hours counter's latest
reading give the due date and the time its work order opens. The database
side is `service/maintenance_runner.py`.

Due every `every_months` after the baseline or every `every_run_hours` of the
counter, whichever comes first. A counter that is reset at the visit (a filter
cartridge's hours) counts from zero; one that keeps growing counts from its
value at the last visit. When the counter will reach its mark is forecast from
its rate since the baseline; without a day of history the device is assumed
to run around the clock, which gives the earliest date.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime

from asset_registry.catalog import MaintenancePlan
from foundations.clock import DAY_MS, HOUR_MS

# The shortest history a counter's rate is measured over.
MIN_RATE_SPAN_MS = DAY_MS


@dataclass(frozen=True, slots=True)
class Baseline:
    """Where a plan's next occurrence counts from: the last visit done (or when the
    plan started tracking the device), and the counter's value then (None: the
    counter counts from its own reset, e.g. at install or cartridge change)."""

    at: int
    run_hours: float | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """The run-hours counter's latest value and when it was read (ms epoch)."""

    value: float
    at: int


@dataclass(frozen=True, slots=True)
class DueDate:
    due_at: int
    open_at: int  # when its work order is opened: lead_days ahead
    by: str  # months | run_hours: which limit comes first


def add_months(ms: int, months: int) -> int:
    """The same day and time `months` later (UTC), clamped to the month's last day."""
    t = datetime.fromtimestamp(ms / 1000, UTC)
    index = t.month - 1 + months
    year, month = t.year + index // 12, index % 12 + 1
    day = min(t.day, calendar.monthrange(year, month)[1])
    return int(t.replace(year=year, month=month, day=day).timestamp() * 1000)


def run_hours_used(baseline: Baseline, counter: Reading) -> float:
    """Run-hours since the baseline; a counter below its baseline value was reset."""
    if baseline.run_hours is None or counter.value < baseline.run_hours:
        return max(0.0, counter.value)
    return counter.value - baseline.run_hours


def _run_hours_due(plan: MaintenancePlan, baseline: Baseline, counter: Reading) -> int | None:
    assert plan.every_run_hours is not None
    used = run_hours_used(baseline, counter)
    remaining = plan.every_run_hours - used
    if remaining <= 0:
        return counter.at
    rate = 1.0 / HOUR_MS  # run-hours per ms when running around the clock
    elapsed = counter.at - baseline.at
    if baseline.run_hours is not None and elapsed >= MIN_RATE_SPAN_MS:
        rate = min(rate, used / elapsed)
        if rate <= 0:
            return None  # idle since the last visit: the calendar decides
    return counter.at + int(remaining / rate)


def next_due(plan: MaintenancePlan, baseline: Baseline, counter: Reading | None
             ) -> DueDate | None:
    """The next occurrence's due date (None: nothing to go by, e.g. a run-hours plan
    whose counter has not reported yet)."""
    candidates: list[tuple[int, str]] = []
    if plan.every_months is not None:
        candidates.append((add_months(baseline.at, plan.every_months), "months"))
    if plan.every_run_hours is not None and counter is not None:
        by_hours = _run_hours_due(plan, baseline, counter)
        if by_hours is not None:
            candidates.append((by_hours, "run_hours"))
    if not candidates:
        return None
    due_at, by = min(candidates)
    return DueDate(due_at, due_at - int(plan.lead_days * DAY_MS), by)


def due_to_open(plan: MaintenancePlan, baseline: Baseline, counter: Reading | None,
                now: int) -> DueDate | None:
    """The occurrence whose work order should be open by `now`, if any."""
    due = next_due(plan, baseline, counter)
    return due if due is not None and now >= due.open_at else None
