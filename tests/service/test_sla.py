"""SLA clocks: set by the contract level when a case opens (every channel), warned
before a breach once, breached when due, stopped when met. Every time is fixed."""

from __future__ import annotations

from pathlib import Path

import pytest
from service_world import AT_MS, HOUR_MS, TZ, service_world
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from foundations.database import session_scope
from notifications.tables import Notification
from rules.actions import WorkOrderRequest
from service import sla
from service.alert_cases import open_alert_work_order as _open_alert_work_order
from service.cases import open_case
from service.sla_monitor import check_clocks
from service.tables import Case, WorkOrder, WorkOrderEvent


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return service_world(tmp_path)


def _open(engine: Engine, device_id: str, priority: int = 3, at: int = AT_MS
          ) -> tuple[int, int]:
    with session_scope(engine) as s:
        case, order = open_case(s, device_id=device_id, source="customer", title="Leak",
                                skill="water-treatment", duration_min=45, priority=priority,
                                at=at)
        assert case.id is not None and order.id is not None
        return case.id, order.id


def _progress(engine: Engine, order_id: int, status: str, at: int) -> None:
    """What set_status records, at a time of the test's choosing."""
    with session_scope(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order is not None
        order.status = status
        s.add(WorkOrderEvent(work_order_id=order_id, status=status, at=at))
        if status == "done":
            case = s.get(Case, order.case_id)
            assert case is not None
            case.status = "closed"


def _case(engine: Engine, case_id: int) -> Case:
    with Session(engine) as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def _notices(engine: Engine) -> list[Notification]:
    with Session(engine) as s:
        return list(s.exec(select(Notification).order_by(col(Notification.id))).all())


# -- the pure policy ------------------------------------------------------------------------

def test_due_times_follow_the_contract_level_and_the_priority() -> None:
    premium, basic = sla.policy_for("premium"), sla.policy_for("basic")
    assert sla.due_times(premium, 5, 0) == sla.DueTimes(4 * HOUR_MS, 8 * HOUR_MS)
    assert sla.due_times(basic, 5, 0) == sla.DueTimes(24 * HOUR_MS, 48 * HOUR_MS)
    assert sla.due_times(premium, 3, 0).response_due == 8 * HOUR_MS
    assert sla.due_times(premium, 1, 0).response_due == 48 * HOUR_MS
    # Planned work is due on site by its date, not by when it was opened.
    planned = sla.due_times(premium, 1, 0, planned_for=100 * HOUR_MS)
    assert planned == sla.DueTimes(100 * HOUR_MS, 172 * HOUR_MS)
    assert sla.policy_for("") == sla.policy_for("no-such-level") == sla.policy_for("standard")


def test_a_clock_warns_at_three_quarters_breaches_past_due_and_stops_when_met() -> None:
    policy = sla.policy_for("standard")
    running = sla.clock("response", 0, 8 * HOUR_MS, policy)
    assert running.warn_at == 6 * HOUR_MS
    assert running.state(6 * HOUR_MS - 1) == sla.OK
    assert running.state(6 * HOUR_MS) == sla.WARNING
    assert running.state(8 * HOUR_MS + 1) == sla.BREACHED
    on_time = sla.clock("response", 0, 8 * HOUR_MS, policy, met_at=7 * HOUR_MS)
    assert on_time.state(100 * HOUR_MS) == sla.MET
    late = sla.clock("response", 0, 8 * HOUR_MS, policy, met_at=9 * HOUR_MS)
    assert late.state(9 * HOUR_MS) == sla.BREACHED
    events = [sla.Event("assigned", 1), sla.Event("on_site", 5), sla.Event("done", 9)]
    assert sla.met_times(events, case_closed=True) == {"response": 5, "resolution": 9}
    assert sla.met_times(events[:2], case_closed=False) == {"response": 5, "resolution": None}
    assert sla.worst([sla.MET, sla.WARNING, sla.OK]) == sla.WARNING


# -- clocks on every case --------------------------------------------------------------------

def test_open_case_sets_the_clocks_of_the_customers_contract(engine: Engine) -> None:
    for level, response_h in (("premium", 4), ("standard", 8), ("basic", 24)):
        case_id, order_id = _open(engine, f"dev-{level}", priority=5)
        case = _case(engine, case_id)
        assert case.sla_level == level
        assert case.response_due == AT_MS + response_h * HOUR_MS
        assert case.resolution_due is not None and case.resolution_due > case.response_due
        with Session(engine) as s:
            order = s.get(WorkOrder, order_id)
            # The dispatcher aims to arrive by the response clock.
            assert order is not None and order.sla_due == case.response_due


def test_a_case_opened_by_an_alert_runs_the_same_clocks(engine: Engine) -> None:
    with session_scope(engine) as s:
        case_id = _open_alert_work_order(s, WorkOrderRequest(
            device_id="dev-premium", alert_id=7, title="TDS high", description="",
            skill="water-treatment", duration_min=45, priority=5))
    case = _case(engine, case_id)
    assert case.source == "alert" and case.sla_level == "premium"
    assert case.response_due is not None and case.resolution_due is not None


# -- the monitor -----------------------------------------------------------------------------

def test_response_clock_at_75_percent_is_warned_once_then_the_breach_is_recorded(
        engine: Engine) -> None:
    case_id, order_id = _open(engine, "dev-premium")  # premium, priority 3: on site in 8 h
    due = AT_MS + 8 * HOUR_MS
    assert check_clocks(engine, AT_MS + 6 * HOUR_MS - 1, TZ).warned == []
    report = check_clocks(engine, AT_MS + 6 * HOUR_MS, TZ)  # 75 % of the response time
    assert report.warned == [(case_id, "response")] and report.breached == []
    warnings = _notices(engine)
    assert {(n.audience, n.recipient) for n in warnings} == {
        ("supervisor", "service-supervisor"), ("owner", "account-owner:cus-premium")}
    assert all(n.work_order_id == order_id and n.status == "pending" for n in warnings)
    assert all(n.message.startswith(f"SLA warning: case {case_id}, response due")
               for n in warnings)
    assert _case(engine, case_id).response_warned_at == AT_MS + 6 * HOUR_MS
    assert _case(engine, case_id).response_breached_at is None  # warned before the breach

    assert check_clocks(engine, AT_MS + 7 * HOUR_MS, TZ).warned == []  # once per clock
    assert len(_notices(engine)) == 2

    report = check_clocks(engine, due + 1, TZ)
    assert report.breached == [(case_id, "response")]
    case = _case(engine, case_id)
    assert case.response_breached_at == due  # when it happened, and which clock
    assert case.resolution_breached_at is None
    breaches = [n for n in _notices(engine) if n.message.startswith("SLA breached")]
    assert len(breaches) == 2
    assert check_clocks(engine, due + HOUR_MS, TZ).breached == []  # recorded once


def test_a_clock_met_in_time_stops_and_is_never_warned_or_breached(engine: Engine) -> None:
    case_id, order_id = _open(engine, "dev-standard")  # standard, priority 3: 24 h / 48 h
    _progress(engine, order_id, "assigned", AT_MS + HOUR_MS)
    _progress(engine, order_id, "on_site", AT_MS + 5 * HOUR_MS)
    report = check_clocks(engine, AT_MS + 20 * HOUR_MS, TZ)
    assert report.met == [(case_id, "response")] and report.warned == []
    assert _case(engine, case_id).response_met_at == AT_MS + 5 * HOUR_MS
    _progress(engine, order_id, "done", AT_MS + 6 * HOUR_MS)
    report = check_clocks(engine, AT_MS + 100 * HOUR_MS, TZ)  # long past both due times
    assert report.met == [(case_id, "resolution")] and report.breached == []
    case = _case(engine, case_id)
    assert case.resolution_met_at == AT_MS + 6 * HOUR_MS
    assert (case.response_breached_at, case.resolution_breached_at) == (None, None)
    assert _notices(engine) == []
    assert check_clocks(engine, AT_MS + 200 * HOUR_MS, TZ).met == []  # no longer watched


def test_met_late_between_two_passes_is_a_breach_at_the_due_time(engine: Engine) -> None:
    case_id, order_id = _open(engine, "dev-basic", priority=5)  # basic, urgent: 24 h
    due = AT_MS + 24 * HOUR_MS
    _progress(engine, order_id, "on_site", due + 2 * HOUR_MS)
    report = check_clocks(engine, due + 3 * HOUR_MS, TZ)
    assert report.breached == [(case_id, "response")] and report.warned == []
    assert _case(engine, case_id).response_breached_at == due


def test_the_periodic_task_runs_the_monitor_on_its_injected_clock(engine: Engine) -> None:
    case_id, _ = _open(engine, "dev-premium")
    now = [AT_MS]
    assert check_clocks(engine, now[0], TZ).warned == []
    now[0] = AT_MS + 6 * HOUR_MS
    assert check_clocks(engine, now[0], TZ).warned == [(case_id, "response")]
