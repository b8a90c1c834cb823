"""In-day replanning: the rest of the day from where engineers really are.

Engineers report their position and progress; the plan for what is left
starts each engineer where they are (or where their current job is) when
they will be free, drops the lunch they have had, and leaves out the work
that is finished or under way. Times stay relative to the day's origin, so
promised windows and SLA due times keep their meaning.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dispatch.problem import Break, Engineer, Location, Problem


@dataclass(frozen=True, slots=True)
class EngineerState:
    location: Location  # reported position, or the site of the job under way
    free_at: int  # when the current job ends (or now, when idle)
    had_lunch: bool = False


def remaining_day(
    problem: Problem,
    now: int,
    states: Mapping[str, EngineerState],
    finished_or_started: Iterable[str],
) -> Problem:
    """The problem for the rest of the day as seen at ``now``.

    An engineer whose shift is over by the time they are free leaves the
    plan. A lunch not yet taken keeps its window, clamped to "from now"; if
    its window has already closed it is dropped (they are owed it, but no
    plan can place it in the past).
    """
    gone = set(finished_or_started)
    engineers = []
    for eng in problem.engineers:
        state = states.get(eng.id)
        start = eng.start if state is None else state.location
        free = max(now, eng.shift_start if state is None else state.free_at)
        if free >= eng.shift_end:
            continue
        engineers.append(
            dataclasses.replace(
                eng, start=start, shift_start=free,
                lunch=_lunch_left(eng, free, state is not None and state.had_lunch),
            )
        )
    jobs = tuple(j for j in problem.jobs if j.id not in gone)
    return Problem(tuple(engineers), jobs, problem.horizon)


def _lunch_left(eng: Engineer, free: int, had_lunch: bool) -> Break | None:
    lunch = eng.lunch
    if lunch is None or had_lunch or lunch.latest < free:
        return None
    return Break(max(lunch.earliest, free), lunch.latest, lunch.duration)
