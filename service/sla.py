"""Service-level agreements: the clocks a case runs against, and where they stand.

Pure: a case's level, priority and opening time give its due times; its due
times, what happened (the work orders' events) and a time give each clock's
state. The database side is `service/sla_monitor.py`.

Two clocks per case, in calendar time (the contracts promise 24/7 cover):

- **response**: an engineer on site (a work order of the case reached `on_site`,
  or `done` without reporting it) by `response_due`;
- **resolution**: the case closed (its work order `done`) by `resolution_due`.

A clock warns at `warn_at` (75 %) of its span, is breached past its due time
while not met, and stops when met (met late stays breached).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from foundations.clock import HOUR_MS

CONTRACT_LEVELS = ("basic", "standard", "premium")
DEFAULT_LEVEL = "standard"
CLOCKS = ("response", "resolution")
# Work-order statuses that mean an engineer got there.
ON_SITE = ("on_site", "done")

OK, WARNING, BREACHED, MET = "ok", "warning", "breached", "met"


@dataclass(frozen=True, slots=True)
class Terms:
    """Hours from the case opening to an engineer on site and to the case closed."""

    response_h: float
    resolution_h: float

    def __post_init__(self) -> None:
        if not 0 < self.response_h <= self.resolution_h:
            raise ValueError(f"terms: need 0 < response {self.response_h} h "
                             f"<= resolution {self.resolution_h} h")


@dataclass(frozen=True, slots=True)
class Policy:
    """One contract level: terms by case priority (the first band whose minimum
    priority the case reaches), and when a clock warns."""

    level: str
    bands: tuple[tuple[int, Terms], ...]  # (minimum priority, terms), highest first
    warn_at: float = 0.75  # fraction of the clock's span

    def __post_init__(self) -> None:
        if not 0 < self.warn_at < 1:
            raise ValueError(f"{self.level}: warn_at must be between 0 and 1")
        if not self.bands or self.bands[-1][0] > 1:
            raise ValueError(f"{self.level}: the last band must cover priority 1")

    def terms(self, priority: int) -> Terms:
        return next(terms for minimum, terms in self.bands if priority >= minimum)


def _policy(level: str, urgent: tuple[float, float], high: tuple[float, float],
            normal: tuple[float, float]) -> Policy:
    # Priority 5 comes from critical alerts, 3 from customers' reports, 1-2 is planned work.
    return Policy(level, ((5, Terms(*urgent)), (3, Terms(*high)), (1, Terms(*normal))))


POLICIES: Mapping[str, Policy] = MappingProxyType({
    "premium": _policy("premium", urgent=(4, 8), high=(8, 24), normal=(48, 120)),
    "standard": _policy("standard", urgent=(8, 24), high=(24, 48), normal=(72, 168)),
    "basic": _policy("basic", urgent=(24, 48), high=(48, 96), normal=(120, 240)),
})


def policy_for(level: str | None, policies: Mapping[str, Policy] = POLICIES) -> Policy:
    """A customer's policy; an unknown or empty level gets the default's."""
    return policies.get(level or DEFAULT_LEVEL) or policies[DEFAULT_LEVEL]


@dataclass(frozen=True, slots=True)
class DueTimes:
    response_due: int
    resolution_due: int


def due_times(policy: Policy, priority: int, opened_at: int,
              planned_for: int | None = None) -> DueTimes:
    """When a case's clocks fall due (ms epoch).

    Planned work (`planned_for`, e.g. a maintenance visit's due date) is due on
    site by then and closed the terms' resolution span after it, rather than
    counting from when it was opened ahead of time.
    """
    terms = policy.terms(priority)
    if planned_for is not None:
        span = int((terms.resolution_h - terms.response_h) * HOUR_MS)
        return DueTimes(planned_for, planned_for + span)
    return DueTimes(opened_at + int(terms.response_h * HOUR_MS),
                    opened_at + int(terms.resolution_h * HOUR_MS))


@dataclass(frozen=True, slots=True)
class Clock:
    name: str  # response | resolution
    started_at: int
    due: int
    warn_at: int
    met_at: int | None = None

    def state(self, now: int) -> str:
        if self.met_at is not None:
            return MET if self.met_at <= self.due else BREACHED
        if now > self.due:
            return BREACHED
        return WARNING if now >= self.warn_at else OK


def clock(name: str, started_at: int, due: int, policy: Policy,
          met_at: int | None = None) -> Clock:
    # A clock opened after its due time (planned work opened late) warns at once.
    warn = started_at + int(max(0, due - started_at) * policy.warn_at)
    return Clock(name, started_at, due, min(warn, due), met_at)


@dataclass(frozen=True, slots=True)
class Event:
    """What the SLA needs of a work-order event."""

    status: str
    at: int


def met_times(events: Sequence[Event], case_closed: bool) -> dict[str, int | None]:
    """When each clock was met, from the case's work orders' events: the first
    arrival on site, and (once the case is closed) the last job done."""
    arrived = [e.at for e in events if e.status in ON_SITE]
    done = [e.at for e in events if e.status == "done"] if case_closed else []
    return {"response": min(arrived) if arrived else None,
            "resolution": max(done) if done else None}


@dataclass(frozen=True, slots=True)
class CaseClocks:
    response: Clock | None
    resolution: Clock | None

    def all(self) -> tuple[Clock, ...]:
        return tuple(c for c in (self.response, self.resolution) if c is not None)


def case_clocks(opened_at: int, response_due: int | None, resolution_due: int | None,
                met: Mapping[str, int | None], policy: Policy) -> CaseClocks:
    """A case's clocks from its stored due times (None: that clock does not run)."""
    return CaseClocks(
        response=None if response_due is None else
        clock("response", opened_at, response_due, policy, met.get("response")),
        resolution=None if resolution_due is None else
        clock("resolution", opened_at, resolution_due, policy, met.get("resolution")),
    )


def worst(states: Iterable[str]) -> str:
    """The state a case shows: its worst clock (no clocks: ok)."""
    order = (MET, OK, WARNING, BREACHED)
    found = list(states)
    return max(found, key=order.index) if found else OK
