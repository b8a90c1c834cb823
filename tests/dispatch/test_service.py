"""The dispatcher's database side: replanning around work already under way."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from asset_registry.tables import Customer, Device, Gateway, Site
from dispatch.planning import place_emergency, replan
from dispatch.problem import Location
from dispatch.travel import great_circle_seconds
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from foundations.workers import Supervisor
from service.cases import open_case
from service.tables import Engineer, WorkOrder
from service.work_orders import set_status

TZ = ZoneInfo("Europe/Berlin")
AT_MS = int(datetime(2026, 3, 3, 10, 0, tzinfo=TZ).timestamp() * 1000)  # mid-shift
HOME = Location(48.1374, 11.5755)
FAR = Location(48.2188, 11.6247)  # the job under way
NEAR_HOME = Location(48.1380, 11.5760)  # the next job


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    with session_scope(engine) as s:
        s.add(Customer(id="c", name="C"))
        s.flush()  # no ORM relationships: insert parents before children by hand
        for name, loc in (("far", FAR), ("near", NEAR_HOME)):
            s.add(Site(id=name, customer_id="c", name=name, lat=loc.lat, lon=loc.lon))
            s.flush()
            s.add(Gateway(id=f"gw-{name}", site_id=name))
            s.flush()
            s.add(Device(id=f"dev-{name}", serial=name, model_id="m", site_id=name,
                         gateway_id=f"gw-{name}", qr_token=f"tok-{name}"))
        s.add(Engineer(id="eve", name="Eve", skills="hvac", home_lat=HOME.lat,
                       home_lon=HOME.lon, shift_start="08:00", shift_end="17:00"))
    yield engine
    engine.dispose()


def test_next_job_is_planned_after_the_job_under_way_from_its_site(engine: Engine) -> None:
    with session_scope(engine) as s:
        _, under_way = open_case(s, device_id="dev-far", source="customer", title="t",
                                 skill="hvac", duration_min=120, priority=3, at=AT_MS - 60_000)
        _, nxt = open_case(s, device_id="dev-near", source="customer", title="t",
                           skill="hvac", duration_min=30, priority=3, at=AT_MS - 60_000)
        under_way.engineer_id = "eve"
        for status in ("assigned", "en_route", "on_site"):
            set_status(s, under_way, status)
        under_way.updated_at = AT_MS - 30 * 60_000  # on site since 09:30
        s.add(under_way)
    replan(engine, TZ, time_limit_s=1, at_ms=AT_MS)
    with session_scope(engine) as s:
        order = s.get(WorkOrder, nxt.id)
        assert order is not None and order.engineer_id == "eve"
        # Busy until 11:30 at the far site, then the drive back to town.
        earliest = AT_MS + 90 * 60_000 + great_circle_seconds(FAR, NEAR_HOME) * 1000
        assert order.eta is not None and order.eta >= earliest


def test_engineer_busy_past_shift_end_gets_no_more_work_today(engine: Engine) -> None:
    late = int(datetime(2026, 3, 3, 16, 0, tzinfo=TZ).timestamp() * 1000)
    with session_scope(engine) as s:
        _, under_way = open_case(s, device_id="dev-far", source="customer", title="t",
                                 skill="hvac", duration_min=180, priority=3, at=late)
        open_case(s, device_id="dev-near", source="customer", title="t",
                  skill="hvac", duration_min=30, priority=3, at=late)
        under_way.engineer_id = "eve"
        for status in ("assigned", "en_route", "on_site"):
            set_status(s, under_way, status)
        under_way.updated_at = late
        s.add(under_way)
    summary = replan(engine, TZ, time_limit_s=1, at_ms=late)
    assert summary.assigned == 0 and summary.unassigned == 1


def test_emergency_order_is_placed_at_once_and_others_keep_their_engineer(
    engine: Engine,
) -> None:
    with session_scope(engine) as s:
        s.add(Engineer(id="zed", name="Zed", skills="hvac", home_lat=FAR.lat,
                       home_lon=FAR.lon, shift_start="08:00", shift_end="17:00"))
        routine = [
            open_case(s, device_id=dev, source="customer", title="t", skill="hvac",
                      duration_min=60, priority=2, at=AT_MS)[1]
            for dev in ("dev-near", "dev-far")
        ]
    replan(engine, TZ, time_limit_s=1, at_ms=AT_MS)
    with session_scope(engine) as s:
        before = {o.id: o.engineer_id for o in (s.get(WorkOrder, r.id) for r in routine) if o}
        _, urgent = open_case(s, device_id="dev-near", source="alert", title="leak",
                              skill="hvac", duration_min=45, priority=5, at=AT_MS + 1000)
    summary = place_emergency(engine, TZ, urgent.id, at_ms=AT_MS + 1000)
    assert summary.assigned == 3 and summary.unassigned == 0
    with session_scope(engine) as s:
        placed = s.get(WorkOrder, urgent.id)
        assert placed is not None and placed.status == "assigned"
        assert placed.engineer_id in {"eve", "zed"} and placed.eta is not None
        assert placed.eta >= AT_MS + 1000
        after = {o.id: o.engineer_id for o in (s.get(WorkOrder, r.id) for r in routine) if o}
    assert after == before and all(before.values())


def test_placing_an_order_that_is_not_open_is_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="not open"):
        place_emergency(engine, TZ, 999, at_ms=AT_MS)


def test_dispatcher_places_an_emergency_then_reoptimises_in_the_background(
    engine: Engine,
) -> None:
    from dispatch.dispatcher import Dispatcher
    from dispatch.tables import DispatchPlan

    with session_scope(engine) as s:
        _, urgent = open_case(s, device_id="dev-near", source="alert", title="leak",
                              skill="hvac", duration_min=45, priority=5)
    dispatcher = Dispatcher(engine, TZ, period_s=3600, debounce_s=0.05, time_limit_s=1,
                            clock=lambda: AT_MS)
    supervisor = Supervisor([dispatcher]).start()
    try:
        summary = dispatcher.emergency(urgent.id)
        assert summary.assigned == 1
        with session_scope(engine) as s:
            placed = s.get(WorkOrder, urgent.id)
            assert placed is not None and placed.engineer_id == "eve"
        # The full re-optimisation stores a second plan.
        for _ in range(300):
            with session_scope(engine) as s:
                if len(s.exec(select(DispatchPlan)).all()) >= 2:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("no background re-optimisation")
    finally:
        supervisor.stop()


def test_stored_levels_windows_sla_and_pins_reach_the_solver(engine: Engine) -> None:
    """Columns the dispatcher and the booking set on a work order shape the plan."""
    from dispatch.plan_store import load_problem

    at = int(datetime(2026, 3, 10, 9, 0, tzinfo=TZ).timestamp() * 1000)
    with session_scope(engine) as s:
        eve = s.get(Engineer, "eve")
        eve.levels = "hvac:3"
        s.add(eve)
        _, order = open_case(s, device_id="dev-near", source="customer", title="t",
                             skill="hvac", duration_min=30, priority=3, at=at)
        order.level, order.sla_due = 2, at + 3_600_000
        order.window_start, order.window_end = at + 1_800_000, at + 5_400_000
        order.pinned_engineer_id, order.pinned_start = "eve", at + 2_700_000
        s.add(order)
    with session_scope(engine) as s:
        eve = s.get(Engineer, "eve")
        eve.lunch_minutes = 30  # between 12:00 and 14:00
        s.add(eve)
    problem, _ = load_problem(engine, TZ, at)
    assert problem.engineers[0].lunch is not None
    assert (problem.engineers[0].lunch.earliest, problem.engineers[0].lunch.latest) == (
        3 * 3600, 4 * 3600 + 1800)
    [job] = problem.jobs
    assert (job.level, job.sla_due, job.window_start, job.window_end) == (2, 3600, 1800, 5400)
    assert (job.pinned_engineer, job.pinned_start) == ("eve", 2700)
    assert problem.engineers[0].level("hvac") == 3
    # And the stored plan honours them: eve, at the pinned time.
    replan(engine, TZ, time_limit_s=1, at_ms=at)
    with session_scope(engine) as s:
        stored = s.get(WorkOrder, order.id)
        assert stored.engineer_id == "eve" and stored.eta == at + 2_700_000


def test_urgent_orders_from_any_process_are_inserted_at_once_with_their_diff(
    engine: Engine,
) -> None:
    from dispatch.dispatcher import Dispatcher, urgent_unplanned

    with session_scope(engine) as s:
        _, routine = open_case(s, device_id="dev-far", source="customer", title="t",
                               skill="hvac", duration_min=60, priority=2)
        # Two urgent orders at once (e.g. written by an ingest worker's rules).
        urgent = [open_case(s, device_id=dev, source="alert", title="leak", skill="hvac",
                            duration_min=30, priority=5)[1] for dev in ("dev-near", "dev-far")]
    assert urgent_unplanned(engine) == [u.id for u in urgent]
    dispatcher = Dispatcher(engine, TZ, period_s=3600, debounce_s=0.05, time_limit_s=1,
                            urgent_poll_s=0.1, clock=lambda: AT_MS)  # mid-shift, any day
    # Nobody calls request() or emergency(): the loop finds them.
    supervisor = Supervisor([dispatcher]).start()
    try:
        for _ in range(300):
            kinds = [kind for kind, _ in dispatcher.history]
            if kinds.count("emergency") == 2 and "replan" in kinds:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"urgent orders not placed: {list(dispatcher.history)}")
    finally:
        supervisor.stop()
    emergencies = [summary for kind, summary in dispatcher.history if kind == "emergency"]
    for order, summary in zip(urgent, emergencies, strict=True):
        added = {job for change in summary.changes for job in change.added}
        assert str(order.id) in added  # the console's diff names the inserted order
    assert urgent_unplanned(engine) == []
    with session_scope(engine) as s:
        assert all(s.get(WorkOrder, u.id).engineer_id == "eve" for u in urgent)
        assert s.get(WorkOrder, routine.id).status in ("assigned", "new")


def test_offered_windows_are_ones_the_plan_can_absorb(engine: Engine) -> None:
    from dispatch.planning import offer_windows

    # Eve (hvac, 08:00-17:00) is the only engineer; it is 10:00 on a Tuesday.
    offers = offer_windows(engine, TZ, "dev-near", "hvac", 60, at_ms=AT_MS, best=3)
    assert 1 <= len(offers) <= 3
    for offer in offers:
        start = datetime.fromtimestamp(offer.start_ms / 1000, TZ)
        assert offer.end_ms - offer.start_ms == 2 * 3600 * 1000
        assert offer.start_ms >= AT_MS + 3600 * 1000  # not sooner than an hour away
        assert start.hour >= 8 and start.hour + 2 <= 17  # inside her shift
    assert offers == sorted(offers, key=lambda o: o.start_ms)
    assert offer_windows(engine, TZ, "dev-near", "plumbing", 60, at_ms=AT_MS) == []


def test_late_in_the_day_the_offers_are_for_tomorrows_shift(engine: Engine) -> None:
    from dispatch.planning import offer_windows

    late = int(datetime(2026, 3, 3, 16, 30, tzinfo=TZ).timestamp() * 1000)
    offers = offer_windows(engine, TZ, "dev-near", "hvac", 60, at_ms=late)
    assert offers
    assert {datetime.fromtimestamp(o.start_ms / 1000, TZ).day for o in offers} == {4}
