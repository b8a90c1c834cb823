"""Skills with levels, lunch breaks, pins and SLA: the rules a dispatcher relies
on, each judged by the independent checker (plan_checker.py)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from plan_checker import check_plan, lateness

from dispatch.plan import (
    REASON_CAPACITY,
    REASON_PINNED,
    REASON_WINDOW,
    Plan,
    Route,
    Stop,
    reason_no_level,
)
from dispatch.problem import Break, Engineer, Job, Location, Problem, ProblemError
from dispatch.solver import solve
from dispatch.solver.screen import MAX_SLA_WEIGHT, SLA_SOON, penalties, sla_weight
from testing_support.city_days import H, city_day

HOME = Location(48.1374, 11.5755)
NEAR = Location(48.1450, 11.5800)
FAR = Location(48.2188, 11.6247)


def tech(id: str = "t", skills: dict[str, int] | None = None, lunch: Break | None = None,
         start: int = H, end: int = 9 * H) -> Engineer:
    skills = skills or {"hvac": 1}
    return Engineer(id, frozenset(skills), HOME, HOME, start, end,
                    levels=tuple(skills.items()), lunch=lunch)


def job(id: str, where: Location = NEAR, **kw: object) -> Job:
    kw.setdefault("duration", H)
    kw.setdefault("priority", 3)
    kw.setdefault("skill", "hvac")
    return Job(id, where, **kw)  # type: ignore[arg-type]


def routed(plan: Plan) -> dict[str, str]:
    return {s.job_id: r.engineer_id for r in plan.routes for s in r.stops}


@pytest.fixture(scope="module")
def city() -> Problem:
    return city_day(40, 6, seed=3)


@pytest.fixture(scope="module")
def city_plan(city: Problem) -> Plan:
    # Time-limited: the plan may differ run to run, the checker must pass on any.
    return solve(city, time_limit_s=3, deterministic=False)


def test_city_day_with_levels_lunch_windows_and_sla_passes_the_checker(
    city: Problem, city_plan: Plan
) -> None:
    assert check_plan(city, city_plan) == []
    assert len(routed(city_plan)) >= 25  # most of a normal day fits
    working = [r for r in city_plan.routes if r.stops]
    assert working and all(r.break_start is not None for r in working)


def test_checker_catches_lunch_taken_during_a_visit(city: Problem, city_plan: Plan) -> None:
    route = next(r for r in city_plan.routes if len(r.stops) >= 2)
    bad = dataclasses.replace(route, break_start=route.stops[1].arrival + 60)
    plan = dataclasses.replace(
        city_plan, routes=tuple(bad if r is route else r for r in city_plan.routes)
    )
    assert any("lunch" in e for e in check_plan(city, plan))


def test_checker_catches_a_route_without_lunch(city: Problem, city_plan: Plan) -> None:
    route = next(r for r in city_plan.routes if r.stops)
    bad = dataclasses.replace(route, break_start=None)
    plan = dataclasses.replace(
        city_plan, routes=tuple(bad if r is route else r for r in city_plan.routes)
    )
    assert any("takes no lunch" in e for e in check_plan(city, plan))


def test_lunch_window_forces_a_gap_between_back_to_back_jobs() -> None:
    # Two 2 h jobs on the same spot, lunch must start 11:00-11:30 (t=4H..4.5H).
    lunch = Break(4 * H, 4 * H + 1800, 1800)
    problem = Problem(
        (tech(lunch=lunch),),
        (job("a", duration=2 * H + 1800), job("b", duration=2 * H)),
        horizon=10 * H,
    )
    plan = solve(problem)
    assert check_plan(problem, plan) == []
    route = plan.routes[0]
    assert len(route.stops) == 2
    assert route.break_start is not None
    first, second = route.stops
    assert first.departure <= route.break_start
    assert second.arrival >= route.break_start + 1800


def test_job_needing_a_higher_level_goes_to_the_senior_engineer() -> None:
    junior = tech("junior", {"hvac": 1})
    senior = tech("senior", {"hvac": 3}, start=3 * H)  # starts later: the junior is closer in time
    problem = Problem((junior, senior), (job("hard", level=2), job("easy")), horizon=10 * H)
    plan = solve(problem)
    assert check_plan(problem, plan) == []
    assert routed(plan)["hard"] == "senior"


def test_job_above_every_engineers_level_is_unassigned_with_level_reason() -> None:
    problem = Problem((tech("t", {"hvac": 2}),), (job("expert", level=3),), horizon=10 * H)
    plan = solve(problem)
    assert [(u.job_id, u.reason) for u in plan.unassigned] == [
        ("expert", reason_no_level("hvac", 3))
    ]
    assert check_plan(problem, plan) == []


def test_checker_catches_a_job_done_below_its_level() -> None:
    problem = Problem((tech("t", {"hvac": 1}),), (job("expert", level=2),), horizon=10 * H)
    plan = Plan((Route("t", (Stop("expert", 2 * H, 3 * H),)),), (), 0)
    assert any("below level" in e for e in check_plan(problem, plan))


def test_pinned_engineer_is_kept_even_when_another_is_closer() -> None:
    near = tech("near")
    far_away = dataclasses.replace(tech("far"), start=FAR, end=FAR)
    problem = Problem((near, far_away), (job("locked", pinned_engineer="far"),), horizon=10 * H)
    plan = solve(problem)
    assert check_plan(problem, plan) == []
    assert routed(plan) == {"locked": "far"}


def test_pinned_time_is_kept_exactly() -> None:
    problem = Problem((tech(),), (job("at10", pinned_start=3 * H), job("free")), horizon=10 * H)
    plan = solve(problem)
    assert check_plan(problem, plan) == []
    arrivals = {s.job_id: s.arrival for s in plan.routes[0].stops}
    assert arrivals["at10"] == 3 * H


def test_pinned_job_outranks_urgent_work_when_the_day_is_full() -> None:
    # Room for one 4 h job only: the pinned priority-1 job stays, the urgent one goes.
    problem = Problem(
        (tech(end=H + 4 * H + 900),),
        (job("urgent", duration=4 * H, priority=5),
         job("pinned", duration=4 * H, priority=1, pinned_engineer="t")),
        horizon=10 * H,
    )
    plan = solve(problem)
    assert check_plan(problem, plan) == []
    assert routed(plan) == {"pinned": "t"}
    assert [(u.job_id, u.reason) for u in plan.unassigned] == [("urgent", REASON_CAPACITY)]


def test_pin_that_cannot_be_honoured_is_unassigned_with_pin_reason() -> None:
    # Pinned to an engineer without the skill.
    problem = Problem(
        (tech("t"), tech("sparky", {"electrical": 1})),
        (job("locked", pinned_engineer="sparky"),),
        horizon=10 * H,
    )
    plan = solve(problem)
    assert [(u.job_id, u.reason) for u in plan.unassigned] == [("locked", REASON_PINNED)]


def test_checker_catches_broken_pins() -> None:
    problem = Problem(
        (tech("a"), tech("b")),
        (job("x", pinned_engineer="a", pinned_start=3 * H),),
        horizon=10 * H,
    )
    wrong = Plan((Route("a", ()), Route("b", (Stop("x", 3 * H, 4 * H),))), (), 0)
    late = Plan((Route("a", (Stop("x", 3 * H + 60, 4 * H + 60),)), Route("b", ())), (), 0)
    assert any("pinned to a" in e for e in check_plan(problem, wrong))
    assert any("pinned to 10800" in e for e in check_plan(problem, late))


def test_sla_due_time_pulls_the_job_forward() -> None:
    # Without SLA the solver does the cheap drive first; with it, the due job first.
    jobs = (job("near", NEAR), job("far", FAR, sla_due=H + 1800))
    free = Problem((tech(),), (jobs[0], dataclasses.replace(jobs[1], sla_due=None)), 10 * H)
    due = Problem((tech(),), jobs, 10 * H)
    assert [s.job_id for s in solve(free).routes[0].stops] == ["near", "far"]
    plan = solve(due)
    assert check_plan(due, plan) == []
    assert [s.job_id for s in plan.routes[0].stops] == ["far", "near"]
    assert lateness(due, plan) == {"far": 0}


def test_missed_sla_is_soft_the_job_is_still_done_late() -> None:
    problem = Problem((tech(),), (job("overdue", FAR, sla_due=H),), horizon=10 * H)
    plan = solve(problem)
    assert check_plan(problem, plan) == []
    assert lateness(problem, plan)["overdue"] > 0
    assert plan.unassigned == ()


def _room_for_one(*jobs: Job) -> Problem:
    # One 4 h job plus a drive to FAR and back fits; two 4 h jobs never do.
    return Problem((tech(end=5 * H + 2600),), jobs, horizon=10 * H)


def test_job_due_today_is_kept_over_a_cheaper_job_of_equal_priority() -> None:
    # Without the SLA weight the near job wins: same price to drop, less driving.
    problem = _room_for_one(job("routine", NEAR, duration=4 * H),
                            job("due", FAR, duration=4 * H, sla_due=3 * H))
    plan = solve(problem)
    assert check_plan(problem, plan) == []
    assert routed(plan) == {"due": "t"}
    assert lateness(problem, plan) == {"due": 0}
    assert [(u.job_id, u.reason) for u in plan.unassigned] == [("routine", REASON_CAPACITY)]


def test_sla_due_after_every_shift_does_not_outweigh_driving() -> None:
    # A later plan can still meet this SLA, so the cheaper drive wins.
    problem = _room_for_one(job("routine", NEAR, duration=4 * H),
                            job("later", FAR, duration=4 * H, sla_due=8 * H))
    assert routed(solve(problem)) == {"routine": "t"}


def test_priority_still_outranks_an_overdue_sla() -> None:
    problem = _room_for_one(job("urgent", FAR, duration=4 * H, priority=4),
                            job("overdue", NEAR, duration=4 * H, sla_due=0))
    assert routed(solve(problem)) == {"urgent": "t"}


def test_sla_weight_tiers_and_lexicographic_priorities() -> None:
    last_end = 9 * H
    weights = [sla_weight(job("x", sla_due=due), last_end)
               for due in (None, 9 * H, 8 * H, SLA_SOON, 0)]
    assert weights == [1, 1, 2, MAX_SLA_WEIGHT, MAX_SLA_WEIGHT]
    # Thirty priority-3 jobs all overdue still weigh less than one priority-4 job.
    jobs = [job(f"o{k}", sla_due=0) for k in range(30)] + [job("p4", priority=4), job("plain")]
    price = penalties(Problem((tech(),), tuple(jobs), horizon=10 * H), [0])
    assert sum(price[:30]) < price[30]
    assert price[0] == MAX_SLA_WEIGHT * price[31]


def test_window_unreachable_because_of_lunch_is_explained() -> None:
    # The only window is exactly the lunch hour and the job takes longer than the gap.
    lunch = Break(4 * H, 4 * H, 1800)
    problem = Problem(
        (tech(lunch=lunch, start=4 * H - 600, end=6 * H),),
        (job("noon", window_start=4 * H - 300, window_end=4 * H - 300, duration=H),),
        horizon=10 * H,
    )
    plan = solve(problem)
    assert [(u.job_id, u.reason) for u in plan.unassigned] == [("noon", REASON_WINDOW)]


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Break(100, 50, 10), "Break.latest"),
        (lambda: tech(lunch=Break(20 * H, 20 * H, 1800)), "Engineer[t].lunch"),
        (lambda: Engineer("t", frozenset({"a"}), HOME, HOME, 0, H, levels=(("b", 2),)),
         "Engineer[t].levels"),
        (lambda: job("j", level=0), "Job[j].level"),
        (lambda: job("j", sla_due=-1), "Job[j].sla_due"),
        (lambda: job("j", pinned_engineer=""), "Job[j].pinned_engineer"),
    ],
)
def test_impossible_rich_input_is_refused_naming_the_field(
    build: Callable[[], object], field: str
) -> None:
    with pytest.raises(ProblemError, match="^" + re.escape(field)):
        build()
