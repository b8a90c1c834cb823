"""Parts and the plan in force, on a real database: a stored plan reserves a job's
parts in its engineer's van and notes why that engineer; reassigning the job releases
the reservation (and reserves in the new van); a job given back releases it; a job
under way keeps its parts out of the next plan's reach; a part only a warehouse has
is reserved there, picked up on the way and used from the van."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_world import AT_MS, TZ, service_world
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from asset_registry.catalog import load_models
from asset_registry.parts import PartNeed
from dispatch.planning import replan
from foundations.database import session_scope
from service import stock
from service.cases import open_case
from service.job_reports import sign_off
from service.settlement import settle
from service.stock_tables import StockLocation, StockMovement
from service.tables import Engineer, WorkOrder
from service.work_orders import give_back, pin, set_status

PART = "AP-MEM-75G"
PARTS = (PART,)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = service_world(tmp_path)
    with session_scope(engine) as s:
        # eve (from the world) has no membrane; finn, a little farther, carries two.
        s.add(Engineer(id="finn", name="Finn", skills="water-treatment", home_lat=48.16,
                       home_lon=11.60, shift_start="08:00", shift_end="17:00"))
        s.add(StockLocation(id="wh", kind="warehouse", name="Main", lat=48.1, lon=11.5))
        s.flush()
        stock.move(s, "receipt", PART, 2, at=AT_MS, by="t", known_parts=PARTS,
                   to_location="wh")
        stock.move(s, "transfer", PART, 2, at=AT_MS, by="t", known_parts=PARTS,
                   from_location="wh", to_location="van-finn")
    yield engine
    engine.dispose()


def _order(engine: Engine) -> int:
    with session_scope(engine) as s:
        _, order = open_case(s, device_id="dev-standard", source="alert", title="TDS high",
                             skill="water-treatment", duration_min=45, priority=3,
                             at=AT_MS - 60_000, parts_needed=(PartNeed(PART, 1),))
        assert order.id is not None
        return order.id


def _held(engine: Engine, order_id: int) -> dict[tuple[str, str], int]:
    with Session(engine) as s:
        return stock.outstanding(s, order_id)


def _van(engine: Engine, engineer: str) -> tuple[int, int]:
    with Session(engine) as s:
        row = stock.level(s, f"van-{engineer}", PART, AT_MS)
        return row.on_hand, row.reserved


def test_the_plan_reserves_in_the_carriers_van_and_a_reassignment_releases(
        engine: Engine) -> None:
    order_id = _order(engine)
    replan(engine, TZ, time_limit_s=1.0, at_ms=AT_MS)
    with Session(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        assert (order.engineer_id, order.plan_note) == ("finn", f"carries {PART}")
    assert _held(engine, order_id) == {("van-finn", PART): 1}
    assert _van(engine, "finn") == (2, 1)

    replan(engine, TZ, time_limit_s=1.0, at_ms=AT_MS + 60_000)  # the same plan again
    assert _van(engine, "finn") == (2, 1), "a plan kept reserves nothing twice"

    with session_scope(engine) as s:  # the dispatcher moves the job to eve
        order = s.get(WorkOrder, order_id)
        assert order is not None
        pin(s, order, "eve", None)
    replan(engine, TZ, time_limit_s=1.0, at_ms=AT_MS + 120_000)
    with Session(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        assert order.engineer_id == "eve"
        assert order.plan_note == (f"sent without {PART}: no engineer or warehouse "
                                   "within reach holds it")
        release = s.exec(select(StockMovement).where(
            StockMovement.work_order_id == order_id, StockMovement.kind == "release")).one()
        assert (release.from_location, release.qty, release.note) == (
            "van-finn", 1, "reassigned to eve")
        assert stock.reconcile(s) == []
    assert _held(engine, order_id) == {}
    assert _van(engine, "finn") == (2, 0)


def test_a_job_given_back_releases_its_parts(engine: Engine) -> None:
    order_id = _order(engine)
    replan(engine, TZ, time_limit_s=1.0, at_ms=AT_MS)
    assert _held(engine, order_id) == {("van-finn", PART): 1}
    with session_scope(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        give_back(s, order, "customer not home")
    assert _held(engine, order_id) == {}
    assert _van(engine, "finn") == (2, 0)


def test_parts_held_by_a_job_under_way_are_not_offered_to_the_next_plan(
        engine: Engine) -> None:
    first, second, third = _order(engine), _order(engine), _order(engine)
    replan(engine, TZ, time_limit_s=1.0, at_ms=AT_MS)
    with Session(engine) as s:
        by = {o.id: o.engineer_id for o in s.exec(select(WorkOrder).where(
            col(WorkOrder.id).in_((first, second, third))))}
    assert sorted(by.values(), key=str).count("finn") == 2  # two membranes, two jobs
    on_finn = [o for o, e in by.items() if e == "finn"]
    with session_scope(engine) as s:  # finn starts one of them
        order = s.get(WorkOrder, on_finn[0])
        assert order is not None
        for status in ("accepted", "en_route"):
            set_status(s, order, status)
    with Session(engine) as s:
        assert stock.vans_for_planning(s, {o for o in by if o != on_finn[0]}) == {
            "finn": {PART: 1}}


def test_a_part_only_a_warehouse_has_is_picked_up_and_used(engine: Engine) -> None:
    """The plan sends eve by way of the warehouse: the valve is reserved there, and
    when she settles it moves into her van and is used from it."""
    valve = "AP-VALVE-IN"
    with session_scope(engine) as s:
        s.add(StockLocation(id="wh-2", kind="warehouse", name="South", lat=48.14,
                            lon=11.58))
        s.flush()
        stock.move(s, "receipt", valve, 3, at=AT_MS, by="t", known_parts=None,
                   to_location="wh-2")
        _, order = open_case(s, device_id="dev-standard", source="customer",
                             title="Leak", skill="water-treatment", duration_min=45,
                             priority=3, at=AT_MS - 60_000,
                             parts_needed=(PartNeed(valve, 1),))
        order_id = order.id
        assert order_id is not None
    replan(engine, TZ, time_limit_s=1.0, at_ms=AT_MS)
    with Session(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None and order.engineer_id is not None
        assert order.pickup_from == "wh-2"
        assert order.plan_note == f"picks up {valve} at wh-2 on the way"
        engineer = order.engineer_id
    assert _held(engine, order_id) == {("wh-2", valve): 1}

    with session_scope(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        for status in ("accepted", "en_route", "on_site"):
            set_status(s, order, status)
        sign_off(s, order, "Ms Customer", "signature.png", AT_MS)
        settle(s, order, load_models()["aquapure-ro500"], [PartNeed(valve, 1)], 30,
               by="t", at=AT_MS + 3_600_000, tz=TZ)
    with Session(engine) as s:
        assert stock.reconcile(s) == []
        assert stock.outstanding(s, order_id) == {}
        kinds = [(m.kind, m.from_location, m.to_location) for m in s.exec(
            select(StockMovement).where(StockMovement.work_order_id == order_id,
                                        StockMovement.kind != "reserve")
            .order_by(col(StockMovement.id)))]
        assert kinds == [("release", "wh-2", None), ("consume", f"van-{engineer}", None)]
        transfer = s.exec(select(StockMovement).where(
            StockMovement.kind == "transfer", StockMovement.to_location == f"van-{engineer}",
            StockMovement.part_number == valve)).one()
        assert (transfer.from_location, transfer.qty) == ("wh-2", 1)
        assert (stock.level(s, "wh-2", valve, AT_MS).on_hand,
                stock.level(s, f"van-{engineer}", valve, AT_MS).on_hand) == (2, 0)
