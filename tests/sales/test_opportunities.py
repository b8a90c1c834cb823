"""Raising, routing, accepting and settling opportunities, on a seeded database."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.catalog import load_models
from asset_registry.tables import Customer, Device, Site
from dispatch.planning import replan
from foundations.clock import DAY_MS, HOUR_MS
from foundations.database import session_scope
from notifications.delivery import NotificationDelivery
from notifications.tables import Notification
from rules.tables import Alert
from sales import service
from sales.catalogue import Upgrade, load_sales_catalogue
from sales.opportunities import (
    AUDIENCE,
    manufactured,
    raise_opportunities,
    settle,
    upgrade_reason,
)
from sales.tables import ConsumableDay, Opportunity, SiteWater
from service.tables import Case, WorkOrder
from service.work_orders import set_status
from simulators.fleet import Fleet

TZ = ZoneInfo("Europe/Berlin")
# A Monday morning, inside every engineer's shift.
NOW = int(datetime(2026, 11, 30, 8, 30, tzinfo=TZ).timestamp() * 1000)
TODAY = NOW - NOW % DAY_MS
CATALOGUE = load_sales_catalogue()
MODELS = load_models()
KIT = CATALOGUE["aquapure-ro500"].consumables[0]
PER_DAY = 10_000.0


def purifier(fleet: Fleet, n: int = 0):
    return [d for d in fleet.devices if d.model_id == "aquapure-ro500"][n]


def capacity(engine: Engine, device_id: str) -> float:
    """The kit's rating at the device's site water."""
    with Session(engine) as session:
        device = session.get(Device, device_id)
        assert device is not None
        water = session.get(SiteWater, device.site_id)
        assert water is not None
        return KIT.capacity_at(water.feed_tds_ppm)


def store_days(engine: Engine, device_id: str, days_left_at_now: float) -> None:
    """A cartridge fitted so that, at PER_DAY, it runs out `days_left_at_now` after NOW."""
    n = round(capacity(engine, device_id) / PER_DAY - days_left_at_now)
    first = TODAY - n * DAY_MS
    with session_scope(engine) as session:
        for i in range(n):
            day = first + i * DAY_MS
            fitted = i == 0
            session.add(ConsumableDay(
                device_id=device_id, day=day, samples=96, litres=PER_DAY, pressure=3.3,
                reset_at=day if fitted else None,
                litres_after_reset=PER_DAY if fitted else 0.0, counter_last=24.0 * (i + 1)))


def filter_opportunities(engine: Engine) -> list[Opportunity]:
    with Session(engine) as session:
        return list(session.exec(select(Opportunity).where(Opportunity.kind == "consumable")))


def test_a_filter_is_raised_once_inside_its_lead_window_and_routed_to_the_owner(engine, fleet):
    device = purifier(fleet)
    store_days(engine, device.id, days_left_at_now=10)
    # Three weeks earlier it was not yet due (lead window: 14 days).
    raise_opportunities(engine, CATALOGUE, NOW - 21 * DAY_MS)
    assert filter_opportunities(engine) == []
    raised = raise_opportunities(engine, CATALOGUE, NOW)
    opps = filter_opportunities(engine)
    assert len(opps) == 1 and opps[0].id in raised
    opp = opps[0]
    assert opp.device_id == device.id and opp.product == KIT.product and opp.quantity == 1
    assert (opp.predicted_date - NOW) / DAY_MS == pytest.approx(10, abs=0.6)
    assert opp.predicted_early < opp.predicted_date < opp.predicted_late
    with Session(engine) as session:
        site = session.get(Site, device.site_id)
        owner = session.get(Customer, site.customer_id).sales_owner_email
        notes = session.exec(select(Notification).where(Notification.audience == AUDIENCE)
                             ).all()
    assert owner and opp.owner == owner
    mine = [n for n in notes if f"Opportunity {opp.id}:" in n.message]
    assert len(mine) == 1 and mine[0].recipient == owner and mine[0].status == "pending"
    # The next pass finds it active: no second one for the same device and product.
    raise_opportunities(engine, CATALOGUE, NOW + HOUR_MS)
    assert len(filter_opportunities(engine)) == 1


class Recording:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)


def test_owners_notifications_go_through_the_sender_once(engine, fleet):
    store_days(engine, purifier(fleet).id, days_left_at_now=5)
    raise_opportunities(engine, CATALOGUE, NOW)
    sender = Recording()
    delivery = NotificationDelivery(engine, sender, clock=lambda: NOW)
    assert delivery.run_once() >= 1
    assert delivery.run_once() == 0
    assert all(n.audience == AUDIENCE and "@" in n.recipient for n in sender.sent)
    assert any(KIT.product in n.message for n in sender.sent)


def test_repeated_incidents_or_age_raise_an_upgrade():
    up = Upgrade("RO-700", expected_life_years=5, faults_in_90_days=3)
    assert manufactured("AQ-500-21-004711") == 2021
    assert "3 incidents" in upgrade_reason(up, "AQ-500-25-000001", 3, NOW)
    assert "built 2021" in upgrade_reason(up, "AQ-500-21-000001", 0, NOW)
    assert upgrade_reason(up, "AQ-500-25-000001", 2, NOW) is None


def test_a_faulty_device_gets_one_upgrade_opportunity(engine, fleet):
    young = next(d for d in fleet.devices if d.model_id == "polarflow-ch200")
    with session_scope(engine) as session:
        for i in range(3):
            session.add(Alert(device_id=young.id, rule_id=f"r{i}", metric="m",
                              severity="high", message="trip", state="closed",
                              raised_at=NOW - (10 + i) * DAY_MS, raised_value=1.0))
    raise_opportunities(engine, CATALOGUE, NOW)
    raise_opportunities(engine, CATALOGUE, NOW + DAY_MS)
    with Session(engine) as session:
        ups = session.exec(select(Opportunity).where(Opportunity.device_id == young.id,
                                                     Opportunity.kind == "upgrade")).all()
    assert len(ups) == 1 and "incidents" in ups[0].reason
    assert ups[0].product == CATALOGUE["polarflow-ch200"].upgrade.product


def test_accepting_opens_exactly_one_work_order_that_the_dispatcher_assigns(engine, fleet):
    store_days(engine, purifier(fleet).id, days_left_at_now=7)
    raise_opportunities(engine, CATALOGUE, NOW)
    opp_id = filter_opportunities(engine)[0].id
    with session_scope(engine) as session:
        opp = session.get(Opportunity, opp_id)
        service.offer(opp, "dispatcher-1", NOW)
        order = service.accept(session, opp, MODELS, "dispatcher-1", NOW)
        order_id = order.id
        with pytest.raises(service.OpportunityError, match="accepted"):
            service.accept(session, opp, MODELS, "dispatcher-1", NOW)
    with Session(engine) as session:
        opp = session.get(Opportunity, opp_id)
        orders = session.exec(select(WorkOrder)).all()
        case = session.exec(select(Case).where(Case.id == orders[0].case_id)).one()
    assert opp.status == "accepted" and opp.work_order_id == order_id
    assert len(orders) == 1 and case.source == "sales" and KIT.product in case.title
    assert orders[0].skill == MODELS["aquapure-ro500"].service_skill
    summary = replan(engine, TZ, time_limit_s=1.0, at_ms=NOW)
    assert summary.assigned == 1
    with session_scope(engine) as session:
        order = session.get(WorkOrder, order_id)
        assert order.engineer_id is not None
        set_status(session, order, "done")
    assert settle(engine, NOW) == 1
    with Session(engine) as session:
        assert session.get(Opportunity, opp_id).status == "won"


def test_a_declined_offer_frees_the_device_for_the_next_one(engine, fleet):
    store_days(engine, purifier(fleet).id, days_left_at_now=7)
    raise_opportunities(engine, CATALOGUE, NOW)
    opp_id = filter_opportunities(engine)[0].id
    with session_scope(engine) as session:
        service.decline(session.get(Opportunity, opp_id), "dispatcher-1", NOW, "too dear")
    with Session(engine) as session:
        opp = session.get(Opportunity, opp_id)
        assert opp.status == "declined" and "too dear" in opp.reason
        assert session.exec(select(WorkOrder)).all() == []


def test_an_open_opportunity_is_lost_when_the_filter_is_replaced_elsewhere(engine, fleet):
    device = purifier(fleet)
    store_days(engine, device.id, days_left_at_now=7)
    raise_opportunities(engine, CATALOGUE, NOW)
    with session_scope(engine) as session:
        for i in range(1, 4):  # a new cartridge the next day, and two days of use
            day = TODAY + i * DAY_MS
            session.add(ConsumableDay(device_id=device.id, day=day, samples=96,
                                      litres=PER_DAY, reset_at=day if i == 1 else None,
                                      litres_after_reset=PER_DAY if i == 1 else 0.0,
                                      counter_last=24.0 * i))
    raise_opportunities(engine, CATALOGUE, TODAY + 4 * DAY_MS + HOUR_MS)
    opps = filter_opportunities(engine)
    assert [o.status for o in opps] == ["lost"]
