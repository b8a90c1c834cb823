"""Parts-aware dispatch: the same day planned parts-blind and parts-aware. The aware
plan sends an engineer who carries a job's parts whenever one can reach it in time
(judged by the independent plan checker), says so in its notes, counts each van's
stock down along the route, plans a pick-up at a warehouse when only a warehouse
has the part, and under "require" leaves out a job no one can supply."""

from __future__ import annotations

import dataclasses

import pytest
from plan_checker import check_parts, check_plan

from dispatch.heuristics.greedy import greedy_plan
from dispatch.plan import Plan, Route, Stop, Unassigned, reason_no_part
from dispatch.problem import Depot, Engineer, Job, Location, Problem, ProblemError
from dispatch.solver import solve
from dispatch.travel import points_of, travel_matrix

H = 3600
SKILL = "water-treatment"
MARIENPLATZ = Location(48.1374, 11.5755)
PASING = Location(48.1500, 11.4600)
BOGENHAUSEN = Location(48.1520, 11.6200)


def engineer(id: str, home: Location, **van: int) -> Engineer:
    return Engineer(id, frozenset({SKILL}), home, home, H, 9 * H,
                    van=tuple((part.replace("_", "-"), qty) for part, qty in van.items()))


def job(id: str, where: Location, *parts: str) -> Job:
    return Job(id, where, SKILL, 45 * 60, 3, parts=tuple((p, 1) for p in parts))


@pytest.fixture(scope="module")
def day() -> Problem:
    engineers = (
        engineer("anna", MARIENPLATZ),  # next door to the membrane job, nothing in the van
        engineer("ben", PASING, **{"AP_MEM_75G": 1}),
        engineer("cem", BOGENHAUSEN, **{"AP_PREF_10": 2}),
    )
    jobs = (
        job("membrane", Location(48.1380, 11.5760), "AP-MEM-75G"),
        job("prefilter", Location(48.1299, 11.5834), "AP-PREF-10"),
        job("plain", Location(48.1402, 11.5600)),
        job("valve", Location(48.1100, 11.5800), "AP-VALVE-IN"),  # nobody carries it
    )
    return Problem(engineers, jobs, horizon=12 * H)


def engineer_of(plan: Plan, job_id: str) -> str | None:
    return next((r.engineer_id for r in plan.routes for s in r.stops if s.job_id == job_id),
                None)


def test_the_aware_plan_differs_only_in_sending_the_part_carriers(day: Problem) -> None:
    blind_day = dataclasses.replace(day, parts="ignore")
    blind, aware = solve(blind_day), solve(day)
    assert check_plan(blind_day, blind) == []
    assert check_plan(day, aware) == []
    # Judged as a day that minds parts, the blind plan sends someone without a part
    # a carrier could have brought.
    assert any("membrane" in e for e in check_parts(day, blind))
    assert engineer_of(blind, "membrane") == "anna"
    # The same jobs are served; the carriers take the jobs that need their parts.
    served = {s.job_id for r in aware.routes for s in r.stops}
    assert served == {s.job_id for r in blind.routes for s in r.stops} == {
        "membrane", "prefilter", "plain", "valve"}
    assert engineer_of(aware, "membrane") == "ben"
    assert engineer_of(aware, "prefilter") == "cem"
    notes = {n.job_id: n.text for n in aware.notes}
    assert notes == {"membrane": "carries AP-MEM-75G", "prefilter": "carries AP-PREF-10",
                     "valve": "sent without AP-VALVE-IN: no engineer or warehouse "
                              "within reach holds it"}
    assert blind.notes == ()


def test_require_leaves_out_a_job_no_carrier_can_do(day: Problem) -> None:
    strict = dataclasses.replace(day, parts="require")
    plan = solve(strict)
    assert check_plan(strict, plan) == []
    assert [(u.job_id, u.reason) for u in plan.unassigned] == [
        ("valve", reason_no_part((("AP-VALVE-IN", 1),)))]
    assert engineer_of(plan, "membrane") == "ben"


def test_one_unit_in_the_van_serves_one_job(day: Problem) -> None:
    twice = dataclasses.replace(day, jobs=(*day.jobs, job("membrane-2", PASING,
                                                          "AP-MEM-75G")))
    plan = solve(twice)
    assert check_plan(twice, plan) == []
    with_ben = [j for j in ("membrane", "membrane-2") if engineer_of(plan, j) == "ben"]
    assert len(with_ben) == 1  # ben's one membrane goes to one job
    other = ({"membrane", "membrane-2"} - set(with_ben)).pop()
    assert engineer_of(plan, other) is not None  # the other still gets a visit ("prefer")
    assert {n.job_id: n.text for n in plan.notes}[other].startswith("sent without")
    strict = dataclasses.replace(twice, parts="require")
    strict_plan = solve(strict)
    assert check_plan(strict, strict_plan) == []
    left_out = {u.job_id for u in strict_plan.unassigned}
    assert "valve" in left_out and len(left_out & {"membrane", "membrane-2"}) == 1


def test_the_checker_catches_a_part_left_behind(day: Problem) -> None:
    """A plan sending anna to the membrane job while ben carries one is refused."""
    bad = Plan((Route("anna", (Stop("membrane", H + 60, H + 60 + 45 * 60),)),
                Route("ben", ()), Route("cem", ())), (), 0)
    assert check_parts(day, bad) == [
        "job membrane: anna sent without its parts, though ben carry them and can reach "
        "it in time"]
    strict = dataclasses.replace(day, parts="require")
    assert check_parts(strict, bad) == ["job membrane: sent to anna without its parts"]


def test_the_greedy_start_minds_the_vans_too(day: Problem) -> None:
    twice = dataclasses.replace(day, jobs=(*day.jobs, job("membrane-2", PASING,
                                                          "AP-MEM-75G")))
    plan = greedy_plan(twice, travel_matrix(points_of(twice)))
    assert check_plan(twice, plan) == []


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Job("j", MARIENPLATZ, SKILL, 60, 3, parts=(("P", 0),)), r"Job\[j\].parts\[P\]"),
    (lambda: Job("j", MARIENPLATZ, SKILL, 60, 3, parts=(("P", 1), ("P", 2))), "twice"),
    (lambda: Job("j", MARIENPLATZ, SKILL, 60, 3, parts="P"), "pairs"),
    (lambda: Engineer("e", frozenset({SKILL}), MARIENPLATZ, MARIENPLATZ, 0, 60,
                      van=(("P", -1),)), r"Engineer\[e\].van\[P\]"),
    (lambda: Problem((), (), 60, parts="maybe"), "Problem.parts"),
])
def test_bad_parts_input_names_the_field(make: object, message: str) -> None:
    with pytest.raises(ProblemError, match=message):
        make()  # type: ignore[operator]


WAREHOUSE = Depot("wh-south", Location(48.1000, 11.5600), (("AP-VALVE-IN", 2),))


@pytest.mark.parametrize("mode", ["prefer", "require"])
def test_a_pick_up_is_planned_when_only_a_warehouse_has_the_part(day: Problem,
                                                                 mode: str) -> None:
    stocked = dataclasses.replace(day, parts=mode, depots=(WAREHOUSE,))
    plan = solve(stocked)
    assert check_plan(stocked, plan) == []  # the detour's drive and pick-up time included
    stop = next(s for r in plan.routes for s in r.stops if s.job_id == "valve")
    assert stop.via == "wh-south"
    assert {n.job_id: n.text for n in plan.notes}["valve"] == (
        "picks up AP-VALVE-IN at wh-south on the way")
    # The jobs a van can supply still go to the carriers, without a detour.
    assert engineer_of(plan, "membrane") == "ben"
    assert all(s.via is None for r in plan.routes for s in r.stops if s.job_id != "valve")
    assert plan.unassigned == ()


def test_an_empty_warehouse_is_no_pick_up(day: Problem) -> None:
    empty = dataclasses.replace(day, parts="require", depots=(
        dataclasses.replace(WAREHOUSE, stock=(("AP-VALVE-IN", 0),)),))
    plan = solve(empty)
    assert check_plan(empty, plan) == []
    assert [u.job_id for u in plan.unassigned] == ["valve"]


def test_the_checker_times_the_detour(day: Problem) -> None:
    """A pick-up whose arrival ignores the drive to the warehouse is refused."""
    stocked = dataclasses.replace(day, depots=(WAREHOUSE,))
    direct = H + 1  # anna leaving at shift start cannot be at Giesing 1 s later
    bad = Plan((Route("anna", (Stop("valve", direct, direct + 45 * 60, "wh-south"),)),
                Route("ben", ()), Route("cem", ())),
               tuple(Unassigned(j.id, "x") for j in day.jobs if j.id != "valve"), 0)
    assert any("cannot be there before" in e for e in check_plan(stocked, bad))
