"""Validated input of the dispatch solver: who can work when, and which jobs wait.

Every dataclass is frozen and checks itself in ``__post_init__`` so that the
solver never has to guard against impossible data; a bad value raises
``ProblemError`` naming the field. Times are integer seconds relative to the
plan's time origin (t=0 is "now" when the plan is made), which keeps the
solver free of clocks and time zones: the caller converts once, at the edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_PRIORITY = 1
MAX_PRIORITY = 5  # most urgent
# How plans treat the parts a job needs: "ignore" them (parts-blind); "prefer" an
# engineer whose van carries them (anyone qualified when no carrier can reach the job);
# "require" a carrier (else the job stays unassigned).
PARTS_MODES = ("ignore", "prefer", "require")
# (part number, quantity) pairs, sorted by part number.
Parts = tuple[tuple[str, int], ...]
PICKUP_S = 10 * 60  # picking parts up at a warehouse on the way to a job


class ProblemError(ValueError):
    """Input the solver refuses; the message starts with the offending field."""


def _check_int(field: str, value: object, minimum: int | None = None) -> None:
    # bool is an int subclass; True as a duration is always a mistake.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProblemError(f"{field}: expected int seconds, got {value!r}")
    if minimum is not None and value < minimum:
        raise ProblemError(f"{field}: must be >= {minimum}, got {value}")


def _check_id(field: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ProblemError(f"{field}: expected a non-empty string, got {value!r}")


def _parts(field: str, value: object, minimum: int) -> Parts:
    """Validated (part, qty) pairs, sorted; a dict is accepted too."""
    pairs: list[object] = list(value.items()) if isinstance(value, dict) else (
        list(value) if isinstance(value, tuple | list) else [value])
    out: dict[str, int] = {}
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ProblemError(f"{field}: expected (part, quantity) pairs, got {pair!r}")
        part, qty = pair
        _check_id(f"{field}[part]", part)
        _check_int(f"{field}[{part}]", qty, minimum=minimum)
        if part in out:
            raise ProblemError(f"{field}: part {part!r} listed twice")
        out[part] = qty
    return tuple(sorted(out.items()))


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        for field, value, limit in (("lat", self.lat, 90.0), ("lon", self.lon, 180.0)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ProblemError(f"Location.{field}: expected a number, got {value!r}")
            if not math.isfinite(value) or abs(value) > limit:
                raise ProblemError(f"Location.{field}: {value} outside ±{limit}")


@dataclass(frozen=True, slots=True)
class Break:
    """An unpaid break (lunch) of ``duration`` starting within [earliest, latest].

    Taken wherever the engineer is, between visits (or while driving); never
    in the middle of a job.
    """

    earliest: int
    latest: int
    duration: int

    def __post_init__(self) -> None:
        _check_int("Break.earliest", self.earliest, minimum=0)
        _check_int("Break.latest", self.latest, minimum=self.earliest)
        _check_int("Break.duration", self.duration, minimum=1)


@dataclass(frozen=True, slots=True)
class Engineer:
    id: str
    skills: frozenset[str]
    start: Location  # home, or the current position during the day
    end: Location
    shift_start: int  # or when the current job ends, during the day
    shift_end: int
    # Skill -> level (1 = basic). A skill missing here but in ``skills`` is level 1.
    levels: tuple[tuple[str, int], ...] = ()
    lunch: Break | None = None
    # Parts in the van, free for the jobs of this plan.
    van: Parts = ()

    def __post_init__(self) -> None:
        _check_id("Engineer.id", self.id)
        where = f"Engineer[{self.id}]"
        object.__setattr__(self, "van", _parts(f"{where}.van", self.van, minimum=0))
        # A plain str would silently become a set of letters.
        if isinstance(self.skills, str) or not isinstance(
            self.skills, frozenset | set | list | tuple
        ):
            raise ProblemError(f"{where}.skills: expected a set of strings, got {self.skills!r}")
        object.__setattr__(self, "skills", frozenset(self.skills))
        for skill in self.skills:
            _check_id(f"{where}.skills", skill)
        for field in ("start", "end"):
            if not isinstance(getattr(self, field), Location):
                raise ProblemError(f"{where}.{field}: expected a Location")
        # Negative would mean planning in the past: callers clamp a shift that
        # is already under way to 0 and give the engineer's current position.
        _check_int(f"{where}.shift_start", self.shift_start, minimum=0)
        _check_int(f"{where}.shift_end", self.shift_end, minimum=self.shift_start + 1)
        levels = self.levels.items() if isinstance(self.levels, dict) else self.levels
        object.__setattr__(self, "levels", tuple(sorted(levels)))
        for skill, level in self.levels:
            if skill not in self.skills:
                raise ProblemError(f"{where}.levels: level for {skill!r}, not one of its skills")
            _check_int(f"{where}.levels[{skill}]", level, minimum=1)
        if self.lunch is not None:
            if not isinstance(self.lunch, Break):
                raise ProblemError(f"{where}.lunch: expected a Break")
            if self.lunch.latest + self.lunch.duration > self.shift_end:
                raise ProblemError(f"{where}.lunch: ends after shift_end {self.shift_end}")
            if self.lunch.earliest < self.shift_start:
                # During the day the caller drops a lunch already taken, and
                # clamps the window of one not yet taken to "now".
                raise ProblemError(f"{where}.lunch: starts before shift_start {self.shift_start}")

    def level(self, skill: str) -> int:
        """0 without the skill, else its level (1 when no level was given)."""
        if skill not in self.skills:
            return 0
        return dict(self.levels).get(skill, 1)

    def carries(self, parts: Parts) -> bool:
        """Whether the van holds every part in the quantity asked (each job alone)."""
        van = dict(self.van)
        return all(van.get(part, 0) >= qty for part, qty in parts)


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    location: Location
    skill: str
    duration: int
    priority: int
    window_start: int = 0
    window_end: int | None = None  # None: any time within a shift
    level: int = 1  # minimum skill level required
    # Service should start by then; later is allowed but costs per second.
    sla_due: int | None = None
    # Locked by the dispatcher (or already started): this engineer, and/or
    # service starting exactly at this time.
    pinned_engineer: str | None = None
    pinned_start: int | None = None
    # Parts the job needs (a plan that minds parts sends an engineer carrying them).
    parts: Parts = ()

    def __post_init__(self) -> None:
        _check_id("Job.id", self.id)
        where = f"Job[{self.id}]"
        object.__setattr__(self, "parts", _parts(f"{where}.parts", self.parts, minimum=1))
        if not isinstance(self.location, Location):
            raise ProblemError(f"{where}.location: expected a Location")
        _check_id(f"{where}.skill", self.skill)
        _check_int(f"{where}.duration", self.duration, minimum=1)
        _check_int(f"{where}.priority", self.priority, minimum=MIN_PRIORITY)
        if self.priority > MAX_PRIORITY:
            raise ProblemError(f"{where}.priority: must be <= {MAX_PRIORITY}, got {self.priority}")
        _check_int(f"{where}.window_start", self.window_start, minimum=0)
        if self.window_end is not None:
            # Equal bounds are a fixed appointment; the window bounds the
            # start of service, not its end.
            _check_int(f"{where}.window_end", self.window_end, minimum=self.window_start)
        _check_int(f"{where}.level", self.level, minimum=1)
        if self.sla_due is not None:
            _check_int(f"{where}.sla_due", self.sla_due, minimum=0)
        if self.pinned_engineer is not None:
            _check_id(f"{where}.pinned_engineer", self.pinned_engineer)
        if self.pinned_start is not None:
            _check_int(f"{where}.pinned_start", self.pinned_start, minimum=0)


@dataclass(frozen=True, slots=True)
class Depot:
    """A warehouse an engineer may pick a job's parts up at, on the way to it."""

    id: str
    location: Location
    stock: Parts = ()

    def __post_init__(self) -> None:
        _check_id("Depot.id", self.id)
        if not isinstance(self.location, Location):
            raise ProblemError(f"Depot[{self.id}].location: expected a Location")
        object.__setattr__(self, "stock", _parts(f"Depot[{self.id}].stock", self.stock,
                                                 minimum=0))

    def holds(self, parts: Parts) -> bool:
        stock = dict(self.stock)
        return all(stock.get(part, 0) >= qty for part, qty in parts)


@dataclass(frozen=True, slots=True)
class Problem:
    engineers: tuple[Engineer, ...]
    jobs: tuple[Job, ...]
    horizon: int  # length of the plan in seconds; every shift ends within it
    parts: str = "prefer"  # one of PARTS_MODES
    # Warehouses to pick parts up at (their rows follow the engineers' in the matrix).
    depots: tuple[Depot, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "engineers", tuple(self.engineers))
        object.__setattr__(self, "jobs", tuple(self.jobs))
        object.__setattr__(self, "depots", tuple(self.depots))
        _check_int("Problem.horizon", self.horizon, minimum=1)
        if self.parts not in PARTS_MODES:
            raise ProblemError(f"Problem.parts: one of {PARTS_MODES}, got {self.parts!r}")
        for field, kind, items in (
            ("engineers", Engineer, self.engineers),
            ("jobs", Job, self.jobs),
            ("depots", Depot, self.depots),
        ):
            seen: set[str] = set()
            for item in items:
                if not isinstance(item, kind):
                    raise ProblemError(f"Problem.{field}: expected {kind.__name__}, got {item!r}")
                if item.id in seen:
                    raise ProblemError(f"Problem.{field}: duplicate id {item.id!r}")
                seen.add(item.id)
        for engineer in self.engineers:
            if engineer.shift_end > self.horizon:
                raise ProblemError(
                    f"Engineer[{engineer.id}].shift_end: {engineer.shift_end} "
                    f"beyond Problem.horizon {self.horizon}"
                )
        # Job windows may reach past the horizon (e.g. "by Friday"): only the
        # part inside a shift matters, so they are clipped, not refused.
