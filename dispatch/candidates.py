"""Who could take a work order now: the dispatcher's emergency view.

Every engineer with the skill (and level) is tried by insertion into the stored
plan, pinned to them and without bumping anyone (``dispatch.emergency``), so an
ETA shown is one their current route can actually absorb; the drive from where
they are (the job under way, else home) ranks the nearest first.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from dispatch.emergency import extend_times, insert_emergency
from dispatch.service import _load, _stored_plan, now_ms
from dispatch.solver import points_of
from dispatch.travel import great_circle_seconds, travel_matrix


@dataclass(frozen=True, slots=True)
class Candidate:
    engineer_id: str
    drive_s: int  # from where the engineer is (or will be free) to the job's site
    eta: int | None  # ms epoch of arrival if given the job; None: no room today
    reason: str = ""  # why there is no ETA


def candidates(engine: Engine, tz: ZoneInfo, order_id: int, at_ms: int | None = None
               ) -> list[Candidate]:
    """Qualified engineers for an open work order, those with an ETA first (earliest
    first), then by drive time. Raises ValueError for an order that is not open."""
    at_ms = now_ms() if at_ms is None else at_ms
    full, rows = _load(engine, tz, at_ms)
    key = str(order_id)
    job = next((j for j in full.jobs if j.id == key), None)
    if job is None:
        raise ValueError(f"work order {order_id} is not open (new, assigned or accepted)")
    # The plan without this job: each candidate is tried as if it were given to them.
    problem = dataclasses.replace(full, jobs=tuple(j for j in full.jobs if j.id != key))
    plan = _stored_plan(problem, rows, at_ms)
    times = travel_matrix(points_of(problem))
    grown = extend_times(problem, times, job)
    out = []
    for engineer in problem.engineers:
        if engineer.level(job.skill) < job.level:
            continue
        drive = great_circle_seconds(engineer.start, job.location)
        trial = dataclasses.replace(job, pinned_engineer=engineer.id)
        result = insert_emergency(problem, times, plan, trial, bump=False, grown_times=grown)
        if result.engineer_id is None:
            out.append(Candidate(engineer.id, drive, None, "no room in today's route"))
            continue
        stop = next(s for s in result.plan.route_of(engineer.id).stops if s.job_id == key)
        out.append(Candidate(engineer.id, drive, at_ms + stop.arrival * 1000))
    return sorted(out, key=lambda c: (c.eta is None, c.eta or 0, c.drive_s))
