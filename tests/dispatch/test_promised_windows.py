"""Windows promised to customers: offered only where a qualified engineer's shift has
room beside everything already planned or promised, planned by the solver when their
day comes, and when a plan cannot keep one the promise says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from asset_registry.tables import Customer, Device, Gateway, Site
from dispatch.plan import REASON_LATER_DAY
from dispatch.plan_store import promise
from dispatch.planning import candidates, offer_windows, replan, window_available
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from service.cases import open_case
from service.tables import Engineer, WorkOrder, WorkOrderEvent
from service.work_orders import WINDOW_MISSED

TZ = ZoneInfo("Europe/Berlin")
# A Tuesday afternoon: Eve's shift (08:00-17:00) has too little left for a visit.
REPORTED = int(datetime(2026, 3, 3, 14, 43, tzinfo=TZ).timestamp() * 1000)
NEXT_MORNING = int(datetime(2026, 3, 4, 7, 0, tzinfo=TZ).timestamp() * 1000)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    with session_scope(engine) as s:
        s.add(Customer(id="c", name="C"))
        s.flush()
        s.add(Site(id="s", customer_id="c", name="s", lat=48.15, lon=11.58))
        s.flush()
        s.add(Gateway(id="gw", site_id="s"))
        s.flush()
        s.add(Device(id="dev", serial="S1", model_id="m", site_id="s", gateway_id="gw",
                     qr_token="tok"))
        s.add(Engineer(id="eve", name="Eve", skills="hvac", levels="hvac:2", home_lat=48.137,
                       home_lon=11.575, shift_start="08:00", shift_end="17:00"))
        # Has the skill but not the level these visits need: no window relies on her.
        s.add(Engineer(id="ann", name="Ann", skills="hvac", levels="", home_lat=48.137,
                       home_lon=11.575, shift_start="08:00", shift_end="17:00"))
    yield engine
    engine.dispose()


def _book(engine: Engine, start: int, end: int, at: int, minutes: int = 90,
          level: int = 2) -> int:
    with session_scope(engine) as s:
        _case, order = open_case(s, device_id="dev", source="customer", title="t",
                                 skill="hvac", duration_min=minutes, priority=3, at=at)
        order.window_start, order.window_end, order.level = start, end, level
        s.add(order)
        s.flush()
        assert order.id is not None
        return order.id


def test_every_window_offered_is_one_the_solver_plans_when_its_day_comes(
        engine: Engine) -> None:
    # Customer after customer takes the first window offered, as long as any is.
    booked = []
    for k in range(12):
        at = REPORTED + k * 60_000
        offers = offer_windows(engine, TZ, "dev", "hvac", 90, at_ms=at, level=2)
        if not offers:
            break
        booked.append((_book(engine, offers[0].start_ms, offers[0].end_ms, at),
                       offers[0].start_ms, offers[0].end_ms))
        # The plan made straight after the report leaves it for its day, saying so.
        replan(engine, TZ, time_limit_s=0.5, at_ms=at + 1000)
    assert 2 <= len(booked) < 12, "one engineer's day holds a few 90-minute visits, no more"
    with session_scope(engine) as s:
        waiting = [s.get(WorkOrder, order_id) for order_id, _, _ in booked]
        assert {o.unassigned_reason for o in waiting} == {REASON_LATER_DAY}
        assert {promise(o, REPORTED) for o in waiting} == {"booked"}
    # The dispatcher's "Nearest" explains why no one can take it today.
    assert {c.reason for c in candidates(engine, TZ, booked[0][0], at_ms=REPORTED)} == {
        REASON_LATER_DAY}
    # Next morning the solver plans every promise inside its window.
    replan(engine, TZ, time_limit_s=2.0, at_ms=NEXT_MORNING)
    with session_scope(engine) as s:
        for order_id, start, end in booked:
            order = s.get(WorkOrder, order_id)
            assert order.engineer_id == "eve", order.unassigned_reason
            assert order.eta is not None and start <= order.eta <= end
            assert promise(order, NEXT_MORNING) == "kept"


def test_a_window_taken_meanwhile_is_no_longer_available(engine: Engine) -> None:
    offers = offer_windows(engine, TZ, "dev", "hvac", 480, at_ms=REPORTED, level=2)
    assert offers, "a whole day's visit fits tomorrow's shift"
    first = offers[0]
    assert window_available(engine, TZ, "dev", "hvac", 480, first.start_ms, first.end_ms,
                            at_ms=REPORTED, level=2)
    _book(engine, first.start_ms, first.end_ms, REPORTED, minutes=480)
    assert not window_available(engine, TZ, "dev", "hvac", 480, first.start_ms,
                                first.end_ms, at_ms=REPORTED + 60_000, level=2)
    # A window never offered (not one of the two-hour slots) is not available either.
    assert not window_available(engine, TZ, "dev", "hvac", 30, first.start_ms + 60_000,
                                first.end_ms + 60_000, at_ms=REPORTED, level=2)


def test_no_window_is_offered_when_no_engineer_has_the_level(engine: Engine) -> None:
    assert offer_windows(engine, TZ, "dev", "hvac", 60, at_ms=REPORTED, level=3) == []


def test_a_promise_the_plan_cannot_keep_is_broken(engine: Engine) -> None:
    offers = offer_windows(engine, TZ, "dev", "hvac", 480, at_ms=REPORTED, level=2)
    kept = _book(engine, offers[0].start_ms, offers[0].end_ms, REPORTED, minutes=480)
    # Someone promised the same window outside the booking (the API, by hand).
    extra = _book(engine, offers[0].start_ms, offers[0].end_ms, REPORTED, minutes=480)
    replan(engine, TZ, time_limit_s=1.0, at_ms=NEXT_MORNING)
    with session_scope(engine) as s:
        states = {i: promise(s.get(WorkOrder, i), NEXT_MORNING) for i in (kept, extra)}
        missed = s.exec(select(WorkOrderEvent.work_order_id)
                        .where(WorkOrderEvent.status == WINDOW_MISSED)).all()
    assert sorted(states.values()) == ["broken", "kept"]
    # The one the plan cannot keep is on its timeline (its customer is told), once.
    assert missed == [next(i for i, state in states.items() if state == "broken")]
    replan(engine, TZ, time_limit_s=1.0, at_ms=NEXT_MORNING + 60_000)
    with session_scope(engine) as s:
        assert len(s.exec(select(WorkOrderEvent).where(
            WorkOrderEvent.status == WINDOW_MISSED)).all()) == 1


def test_a_window_offered_before_dawn_is_its_whole_hour_and_still_bookable_a_moment_later(
        engine: Engine) -> None:
    # Reported at 01:00:00.672, before the shift: today's windows are offered. The offer
    # is the whole hour, and booking it 5.3 s later (other milliseconds) still finds it.
    at = int(datetime(2026, 3, 4, 1, 0, tzinfo=TZ).timestamp() * 1000) + 672
    offers = offer_windows(engine, TZ, "dev", "hvac", 30, at_ms=at, level=2)
    assert offers, "today's shift still has room"
    assert all(o.start_ms % 3_600_000 == 0 and o.end_ms % 3_600_000 == 0 for o in offers)
    assert all(window_available(engine, TZ, "dev", "hvac", 30, o.start_ms, o.end_ms,
                                at_ms=at + 5_317, level=2) for o in offers)
