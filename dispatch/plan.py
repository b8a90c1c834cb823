"""What the solver returns: routes per engineer and the jobs it could not fit, with reasons."""

from __future__ import annotations

from dataclasses import dataclass

REASON_CAPACITY = "no capacity left in qualified engineers' shifts (day full)"
REASON_WINDOW = "window unreachable in any engineer's shift"
# Not a failure: the promised window lies after every qualified engineer's coming shift.
REASON_LATER_DAY = "window on a later day: planned once that day's shift is next"
REASON_PINNED = "pinned engineer cannot do it (skill, shift, window or pinned time)"


def parts_text(parts: tuple[tuple[str, int], ...]) -> str:
    return ", ".join(part if qty == 1 else f"{qty} x {part}" for part, qty in parts)


def reason_no_part(parts: tuple[tuple[str, int], ...]) -> str:
    return f"no engineer or warehouse within reach holds {parts_text(parts)}"


def reason_no_skill(skill: str) -> str:
    return f"no engineer has skill {skill!r}"


def reason_no_level(skill: str, level: int) -> str:
    return f"no engineer has skill {skill!r} at level {level} or above"


@dataclass(frozen=True, slots=True)
class Stop:
    job_id: str
    arrival: int  # start of service, after any wait for the window
    departure: int  # arrival + duration
    via: str | None = None  # a depot whose parts were picked up on the way here


@dataclass(frozen=True, slots=True)
class Route:
    engineer_id: str
    stops: tuple[Stop, ...]
    break_start: int | None = None  # start of the lunch break; None without stops or lunch


@dataclass(frozen=True, slots=True)
class Unassigned:
    """A job the plan leaves out, with the reason the dispatcher reads."""

    job_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Note:
    """The plan's word on an assigned job, e.g. why this engineer ("carries ...")."""

    job_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Plan:
    routes: tuple[Route, ...]  # one per engineer, in problem order, possibly empty
    unassigned: tuple[Unassigned, ...]  # in problem order
    objective: int  # travel seconds + SLA lateness cost + penalty of every unassigned job
    notes: tuple[Note, ...] = ()  # for assigned jobs that need parts

    def route_of(self, engineer_id: str) -> Route:
        for route in self.routes:
            if route.engineer_id == engineer_id:
                return route
        raise KeyError(engineer_id)
