"""Plans proposed for review: nothing changes until a dispatcher accepts one, and
a proposal that no longer fits the work is refused with what changed."""

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
from dispatch.dispatcher import Dispatcher
from dispatch.proposals import PROPOSAL_TTL_MS, StaleProposal, what_changed
from dispatch.tables import DispatchPlan
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from foundations.workers import Supervisor
from service.cases import open_case
from service.tables import Engineer, WorkOrder

TZ = ZoneInfo("Europe/Berlin")
AT_MS = int(datetime(2026, 3, 3, 10, 0, tzinfo=TZ).timestamp() * 1000)  # mid-shift


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    with session_scope(engine) as s:
        s.add(Customer(id="c", name="C"))
        s.flush()
        for name, lat, lon in (("a", 48.14, 11.58), ("b", 48.20, 11.62)):
            s.add(Site(id=name, customer_id="c", name=name, lat=lat, lon=lon))
            s.flush()
            s.add(Gateway(id=f"gw-{name}", site_id=name))
            s.flush()
            s.add(Device(id=f"dev-{name}", serial=name, model_id="m", site_id=name,
                         gateway_id=f"gw-{name}", qr_token=f"tok-{name}"))
        for eid in ("eve", "max"):
            s.add(Engineer(id=eid, name=eid.title(), skills="hvac", home_lat=48.137,
                           home_lon=11.575, shift_start="08:00", shift_end="17:00"))
    yield engine
    engine.dispose()


class Clock:
    def __init__(self, at: int) -> None:
        self.at = at

    def __call__(self) -> int:
        return self.at


def _open(engine: Engine, device: str = "dev-a", priority: int = 3) -> int:
    with session_scope(engine) as s:
        _, order = open_case(s, device_id=device, source="api", title="noise", skill="hvac",
                             duration_min=30, priority=priority, at=AT_MS)
        assert order.id is not None
        return order.id


def _order(engine: Engine, order_id: int) -> WorkOrder:
    with session_scope(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        s.expunge(order)
        return order


def _plans(engine: Engine) -> int:
    with session_scope(engine) as s:
        return len(s.exec(select(DispatchPlan)).all())


def test_a_proposal_changes_nothing_until_it_is_accepted(engine: Engine) -> None:
    first, second = _open(engine), _open(engine, "dev-b")
    dispatcher = Dispatcher(engine, TZ, time_limit_s=1, clock=Clock(AT_MS))

    proposal = dispatcher.propose(made_by="dora")

    assert proposal.made_by == "dora" and dispatcher.proposals() == [proposal]
    assert _plans(engine) == 0
    assert _order(engine, first).engineer_id is None
    assert _order(engine, first).status == "new"
    planned = {s.job_id: (r.engineer_id, s.arrival) for r in proposal.plan.routes
               for s in r.stops}
    assert set(planned) == {str(first), str(second)}
    # The diff is against the (empty) stored plan: both jobs are additions.
    assert sorted(j for c in proposal.changes for j in c.added) == sorted(planned)
    assert not any(c.removed or c.moved for c in proposal.changes)

    summary = dispatcher.accept(proposal.id)

    assert summary.assigned == 2 and _plans(engine) == 1
    for order_id in (first, second):
        stored = _order(engine, order_id)
        engineer, arrival = planned[str(order_id)]
        assert stored.status == "assigned" and stored.engineer_id == engineer
        assert stored.eta == AT_MS + arrival * 1000
    assert dispatcher.history[-1][0] == "accepted"
    assert dispatcher.proposals() == []
    with pytest.raises(KeyError):
        dispatcher.accept(proposal.id)  # accepted once only


def test_a_proposal_made_before_new_work_arrived_is_refused_with_the_reason(
    engine: Engine,
) -> None:
    _open(engine)
    dispatcher = Dispatcher(engine, TZ, time_limit_s=1, clock=Clock(AT_MS))
    proposal = dispatcher.propose()
    late = _open(engine, "dev-b")

    with pytest.raises(StaleProposal, match=f"opened since: #{late}"):
        dispatcher.accept(proposal.id)

    assert _plans(engine) == 0 and dispatcher.proposals() == []


def test_a_pin_set_after_the_proposal_makes_it_stale(engine: Engine) -> None:
    order_id = _open(engine)
    dispatcher = Dispatcher(engine, TZ, time_limit_s=1, clock=Clock(AT_MS))
    proposal = dispatcher.propose()
    with session_scope(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        order.pinned_engineer_id = "max"
        s.add(order)

    with pytest.raises(StaleProposal, match=f"changed .*#{order_id}"):
        dispatcher.accept(proposal.id)


def test_a_plan_stored_meanwhile_does_not_block_acceptance_and_the_diff_is_against_it(
    engine: Engine,
) -> None:
    """Another plan stored in between (say, the periodic one) changes no input: the
    proposal still fits, and what accepting changes is measured against that plan."""
    order_id = _open(engine)
    dispatcher = Dispatcher(engine, TZ, time_limit_s=1, clock=Clock(AT_MS))
    proposal = dispatcher.propose()
    engineer = proposal.plan.routes[0].engineer_id if proposal.plan.routes[0].stops \
        else proposal.plan.routes[1].engineer_id
    other = "max" if engineer == "eve" else "eve"
    # Put the job with the other engineer, as a plan of the same inputs could.
    with session_scope(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        order.engineer_id, order.eta, order.route_seq = other, AT_MS + 3_600_000, 0
        order.status = "assigned"
        s.add(order)

    summary = dispatcher.accept(proposal.id)

    assert _order(engine, order_id).engineer_id == engineer
    by_engineer = {c.engineer_id: c for c in summary.changes}
    assert by_engineer[engineer].added == (str(order_id),)
    assert by_engineer[other].removed == (str(order_id),)


def test_an_old_proposal_expires(engine: Engine) -> None:
    _open(engine)
    clock = Clock(AT_MS)
    dispatcher = Dispatcher(engine, TZ, time_limit_s=1, clock=clock)
    proposal = dispatcher.propose()
    clock.at += PROPOSAL_TTL_MS + 60_000

    assert dispatcher.proposals() == []  # no longer offered for review
    with pytest.raises(StaleProposal, match="min old"):
        dispatcher.accept(proposal.id)


def test_only_the_newest_proposals_are_kept(engine: Engine) -> None:
    _open(engine)
    dispatcher = Dispatcher(engine, TZ, time_limit_s=0.2, clock=Clock(AT_MS))
    made = [dispatcher.propose().id for _ in range(7)]
    assert [p.id for p in dispatcher.proposals()] == made[::-1][:5]
    assert dispatcher.discard(made[-1]) and not dispatcher.discard(made[-1])


def test_in_review_mode_the_loop_proposes_and_emergencies_still_go_in_at_once(
    engine: Engine,
) -> None:
    routine = _open(engine)
    dispatcher = Dispatcher(engine, TZ, period_s=3600, debounce_s=0.05, time_limit_s=1,
                            clock=Clock(AT_MS), review=True)
    supervisor = Supervisor([dispatcher]).start()
    try:
        dispatcher.request()
        for _ in range(300):
            if dispatcher.proposals():
                break
            time.sleep(0.1)
        else:
            pytest.fail("the loop proposed no plan")
        assert _order(engine, routine).engineer_id is None  # waits for review
        assert _plans(engine) == 0

        urgent = _open(engine, "dev-b", priority=5)
        dispatcher.emergency(urgent)
        assert _order(engine, urgent).engineer_id in {"eve", "max"}
        assert _order(engine, routine).engineer_id is None
    finally:
        supervisor.stop()


def test_what_changed_names_the_orders_and_engineers(engine: Engine) -> None:
    from dispatch.plan_store import load_problem

    _open(engine)
    before, _ = load_problem(engine, TZ, AT_MS)
    added = _open(engine, "dev-b")
    with session_scope(engine) as s:
        eve = s.get(Engineer, "eve")
        assert eve is not None
        eve.shift_end = "12:00"
        s.add(eve)
    after, _ = load_problem(engine, TZ, AT_MS)

    text = what_changed(before, after)

    assert f"opened since: #{added}" in text and "day changed" in text and "eve" in text
    assert what_changed(after, after) == "nothing"
