"""An independent judge of dispatch plans (imported as `plan_checker`).

It knows only the problem, the plan and the travel estimate; it recomputes
every drive pair by pair with `great_circle_seconds` and reads nothing from
the solver, so a bug in the model cannot hide behind a matching bug here.
"""

from __future__ import annotations

from collections import Counter

from dispatch.plan import Plan
from dispatch.problem import PICKUP_S, Depot, Engineer, Job, Problem
from dispatch.travel import great_circle_seconds


def lateness(problem: Problem, plan: Plan) -> dict[str, int]:
    """Seconds each routed job with an SLA starts after its due time (soft: not an error)."""
    jobs = {job.id: job for job in problem.jobs}
    return {
        stop.job_id: max(0, stop.arrival - due)
        for route in plan.routes
        for stop in route.stops
        if (due := jobs[stop.job_id].sla_due) is not None
    }


def check_plan(problem: Problem, plan: Plan) -> list[str]:
    """Every rule the plan breaks, as readable sentences; [] when it is sound."""
    jobs = {job.id: job for job in problem.jobs}
    engineers = {engineer.id: engineer for engineer in problem.engineers}
    depots = {depot.id: depot for depot in problem.depots}
    errors: list[str] = []

    assigned = [stop.job_id for route in plan.routes for stop in route.stops]
    unassigned = [u.job_id for u in plan.unassigned]
    for job_id, count in Counter(assigned + unassigned).items():
        if count > 1:
            errors.append(f"job {job_id} appears {count} times (routes + unassigned)")
    for job_id in sorted(set(assigned + unassigned) - jobs.keys()):
        errors.append(f"unknown job {job_id}")
    for job_id in sorted(jobs.keys() - set(assigned + unassigned)):
        errors.append(f"job {job_id} is neither routed nor unassigned")
    for u in plan.unassigned:
        if not u.reason.strip():
            errors.append(f"unassigned job {u.job_id} has no reason")

    for engineer_id, count in Counter(r.engineer_id for r in plan.routes).items():
        if count > 1:
            errors.append(f"engineer {engineer_id} has {count} routes")
    for route in plan.routes:
        engineer = engineers.get(route.engineer_id)
        if engineer is None:
            errors.append(f"route for unknown engineer {route.engineer_id}")
            continue
        where, free_at = engineer.start, engineer.shift_start
        lunch, lunch_at, lunch_done = engineer.lunch, route.break_start, False
        if lunch is None and lunch_at is not None:
            errors.append(f"{engineer.id}: lunch at {lunch_at} but has no lunch break")
            lunch_at = None
        elif lunch is not None and route.stops:
            if lunch_at is None:
                errors.append(f"{engineer.id}: works but takes no lunch")
            elif not lunch.earliest <= lunch_at <= lunch.latest:
                errors.append(
                    f"{engineer.id}: lunch at {lunch_at} outside [{lunch.earliest}, {lunch.latest}]"
                )
        for stop in route.stops:
            job = jobs.get(stop.job_id)
            if job is None:
                continue  # already reported as unknown
            tag = f"{engineer.id}/{job.id}"
            if job.skill not in engineer.skills:
                errors.append(f"{tag}: engineer lacks skill {job.skill!r}")
            elif dict(engineer.levels).get(job.skill, 1) < job.level:
                errors.append(f"{tag}: engineer below level {job.level} in {job.skill!r}")
            if job.pinned_engineer is not None and job.pinned_engineer != engineer.id:
                errors.append(f"{tag}: job is pinned to {job.pinned_engineer}")
            if job.pinned_start is not None and stop.arrival != job.pinned_start:
                errors.append(f"{tag}: arrives {stop.arrival}, pinned to {job.pinned_start}")
            if stop.arrival < job.window_start:
                errors.append(f"{tag}: arrives {stop.arrival} before window {job.window_start}")
            if job.window_end is not None and stop.arrival > job.window_end:
                errors.append(f"{tag}: arrives {stop.arrival} after window {job.window_end}")
            drive = great_circle_seconds(where, job.location)
            if stop.via is not None:  # by way of a depot: drive there, pick up, drive on
                depot = depots.get(stop.via)
                if depot is None:
                    errors.append(f"{tag}: picks up at unknown depot {stop.via}")
                else:
                    if not depot.holds(job.parts):
                        errors.append(f"{tag}: depot {stop.via} lacks {job.parts}")
                    drive = (great_circle_seconds(where, depot.location) + PICKUP_S
                             + great_circle_seconds(depot.location, job.location))
            earliest = free_at + drive
            if lunch_at is not None and free_at <= lunch_at < stop.arrival:
                # Lunch in this gap (before leaving, on the way, or on site
                # while waiting): it must end before service, and the drive
                # still has to fit around it.
                earliest += lunch.duration
                if lunch_at + lunch.duration > stop.arrival:
                    errors.append(f"{tag}: lunch at {lunch_at} runs into service")
                lunch_done = True
            elif lunch_at is not None and stop.arrival <= lunch_at < stop.arrival + job.duration:
                errors.append(f"{tag}: lunch at {lunch_at} during service")
            if stop.arrival < earliest:
                errors.append(f"{tag}: arrives {stop.arrival}, cannot be there before {earliest}")
            if stop.departure != stop.arrival + job.duration:
                errors.append(f"{tag}: departs {stop.departure}, expected arrival + {job.duration}")
            # Service takes its duration whatever `departure` claims.
            where, free_at = job.location, stop.arrival + job.duration
        if route.stops:
            home = free_at + great_circle_seconds(where, engineer.end)
            if lunch is not None and lunch_at is not None and not lunch_done:
                if lunch_at < free_at:
                    errors.append(f"{engineer.id}: lunch at {lunch_at} overlaps earlier work")
                # The drive home can be split around lunch, but takes its time.
                home = max(home + lunch.duration, lunch_at + lunch.duration)
            if home > engineer.shift_end:
                errors.append(
                    f"{engineer.id}: back at {home}, after shift end {engineer.shift_end}"
                )
    return errors + check_parts(problem, plan)


def check_parts(problem: Problem, plan: Plan) -> list[str]:
    """Unless the problem ignores parts: no van gives out more than it holds, and a job
    goes without its parts only when no qualified engineer who still has them after
    their own route could do that job alone in time, nor pick them up at a depot
    that holds them on the way (under "require": never). Depot stock is judged
    per pick-up, not summed over the plan."""
    if problem.parts == "ignore":
        return []
    jobs = {job.id: job for job in problem.jobs}
    engineers = {engineer.id: engineer for engineer in problem.engineers}
    left = {e.id: dict(e.van) for e in problem.engineers}
    without = []
    for route in plan.routes:
        for stop in route.stops:
            job = jobs.get(stop.job_id)
            if job is None or not job.parts or stop.via is not None:
                continue  # a pick-up brings its own parts (judged with the drives)
            van = left.get(route.engineer_id, {})
            if all(van.get(part, 0) >= qty for part, qty in job.parts):
                for part, qty in job.parts:
                    van[part] -= qty
            else:
                without.append((job, route.engineer_id))
    errors = []
    for job, engineer_id in without:
        if problem.parts == "require":
            errors.append(f"job {job.id}: sent to {engineer_id} without its parts")
            continue
        able = [e.id for e in problem.engineers if e.id != engineer_id
                and all(left[e.id].get(part, 0) >= qty for part, qty in job.parts)
                and reaches_alone(problem, job, engineers[e.id])]
        able += [f"depot {d.id}" for d in problem.depots if d.holds(job.parts)
                 and reaches_alone(problem, job, engineers[engineer_id], via=d)]
        if able:
            errors.append(f"job {job.id}: {engineer_id} sent without its parts, though "
                          f"{', '.join(able)} carry them and can reach it in time")
    return errors


def reaches_alone(problem: Problem, job: Job, engineer: Engineer,
                  via: Depot | None = None) -> bool:
    """Whether the engineer could do this job as their only one today (by way of the
    depot `via`): qualified, there within its window (or at its pinned time), home
    by the end of the shift, lunch (if any) before or after it."""
    if engineer.level(job.skill) < job.level or (
            job.pinned_engineer is not None and job.pinned_engineer != engineer.id):
        return False
    drive = great_circle_seconds(engineer.start, job.location) if via is None else (
        great_circle_seconds(engineer.start, via.location) + PICKUP_S
        + great_circle_seconds(via.location, job.location))
    back = great_circle_seconds(job.location, engineer.end)
    opens = job.window_start if job.pinned_start is None else job.pinned_start
    closes = job.pinned_start if job.pinned_start is not None else (
        problem.horizon if job.window_end is None else min(job.window_end, problem.horizon))
    lunch = engineer.lunch
    options = [0] if lunch is None else []
    if lunch is not None:  # before the job: from home, then drive; or after it
        options = [max(engineer.shift_start, lunch.earliest) + lunch.duration
                   - engineer.shift_start if max(engineer.shift_start, lunch.earliest)
                   <= lunch.latest else -1]
    for delay in options:
        if delay < 0:
            continue
        start = max(engineer.shift_start + delay + drive, opens)
        if start <= closes and start + job.duration + back <= engineer.shift_end:
            return True
    if lunch is not None:  # lunch after the job
        start = max(engineer.shift_start + drive, opens)
        after = max(start + job.duration, lunch.earliest)
        if start <= closes and after <= lunch.latest \
                and after + lunch.duration + back <= engineer.shift_end:
            return True
    return False
