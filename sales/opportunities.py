"""Opportunities from telemetry: consumables about to run out, devices due an upgrade.

`raise_opportunities` reads each device's days (`ConsumableDay`), forecasts its
consumables (sales/forecast.py) and raises an opportunity once the predicted
date is inside the product's lead window; it raises an upgrade for a device
with repeated incidents or past its model's expected life. One active
opportunity per device and product (the database's unique index enforces it).
Each new one is routed to the account's sales owner: the opportunity names
them, and a notification (audience `sales-owner`) is recorded in the same
transaction, for the delivery worker to send. `settle` closes the loop: an
accepted offer whose work order is done is won; an open one whose filter was
replaced meanwhile is lost.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from asset_registry.tables import Customer, Device, Site
from foundations.clock import DAY_MS
from foundations.database import session_scope
from notifications import recipients
from notifications.record import notify
from rules.tables import Alert
from sales.catalogue import Consumable, SalesSpec, Upgrade
from sales.forecast import DayUsage, Forecast, forecast_filter, forecast_run_hours
from sales.tables import ACTIVE_STATUSES, ConsumableDay, Opportunity, SiteWater
from service.tables import WorkOrder

log = logging.getLogger("fieldpulse.sales")

AUDIENCE = "sales-owner"
FAULT_WINDOW_MS = 90 * DAY_MS
HISTORY_DAYS = 400  # days a forecast reads (rate: the last 28; capacity: past cartridges)
MOVE_DAYS = 1.0  # an open opportunity's date is updated only when it moves this much
# Serials read PREFIX-YY-NNNNNN, YY the year of manufacture (simulators/fleet.py).
SERIAL_YEAR = re.compile(r"-(\d{2})-\d+$")


# -- decisions (pure) -----------------------------------------------------------------------

def in_lead_window(forecast: Forecast, consumable: Consumable, now_ms: int) -> bool:
    return forecast.predicted - now_ms <= consumable.lead_days * DAY_MS


def manufactured(serial: str) -> int | None:
    """Year of manufacture from the serial (None if it does not say)."""
    m = SERIAL_YEAR.search(serial)
    return 2000 + int(m.group(1)) if m else None


def upgrade_reason(upgrade: Upgrade, serial: str, incidents_90d: int, now_ms: int
                   ) -> str | None:
    """Why this device should be replaced by the upgrade product (None: no reason)."""
    if incidents_90d >= upgrade.faults_in_90_days:
        return f"{incidents_90d} incidents in the last 90 days"
    year = manufactured(serial)
    if year is not None:
        age = (now_ms - datetime(year, 1, 1, tzinfo=UTC).timestamp() * 1000) / (365.25 * DAY_MS)
        if age >= upgrade.expected_life_years:
            return (f"built {year}: {age:.1f} years old, past the model's expected "
                    f"{upgrade.expected_life_years:g}")
    return None


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def consumable_reason(consumable: Consumable, f: Forecast) -> str:
    unit = "L" if consumable.basis == "litres" else "run-hours"
    return (f"{f.used:,.0f} of {f.capacity:,.0f} {unit} used ({f.share_used:.0%}) at "
            f"{f.rate_per_day:,.0f} {unit}/day: runs out {_day(f.predicted)} "
            f"(likely {_day(f.early)} to {_day(f.late)})")


# -- the database side ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Account:
    device_id: str
    serial: str
    model_id: str
    site_id: str
    site_name: str
    customer_id: str
    owner: str


def _accounts(session: Session, model_ids: Sequence[str]) -> list[Account]:
    rows = session.exec(
        select(Device, Site, Customer)
        .join(Site, col(Site.id) == Device.site_id)
        .join(Customer, col(Customer.id) == Site.customer_id)
        .where(col(Device.model_id).in_(model_ids)).order_by(col(Device.id))).all()
    return [Account(d.id, d.serial, d.model_id, s.id, s.name, c.id, c.sales_owner_email)
            for d, s, c in rows]


def _days(session: Session, device_id: str, now_ms: int) -> list[DayUsage]:
    rows = session.exec(select(ConsumableDay).where(
        ConsumableDay.device_id == device_id, ConsumableDay.samples > 0,
        ConsumableDay.day >= now_ms - HISTORY_DAYS * DAY_MS)
        .order_by(col(ConsumableDay.day))).all()
    return [DayUsage(r.day, r.samples, r.litres, r.run_hours, r.pressure, r.reset_at,
                     r.litres_after_reset, r.counter_last) for r in rows]


def _last_service(session: Session, device_id: str, product: str) -> int | None:
    """When this product was last fitted through us (its work order done)."""
    return session.exec(
        select(func.max(WorkOrder.updated_at))
        .join(Opportunity, col(Opportunity.work_order_id) == WorkOrder.id)
        .where(Opportunity.device_id == device_id, Opportunity.product == product,
               WorkOrder.status == "done")).one()


def forecast_for(session: Session, account: Account, consumable: Consumable,
                 days: Sequence[DayUsage], now_ms: int) -> Forecast | None:
    if consumable.basis == "litres":
        water = session.get(SiteWater, account.site_id)
        return forecast_filter(days, now_ms,
                               consumable.capacity_at(water.feed_tds_ppm if water else None))
    if not days:
        return None
    since = _last_service(session, account.device_id, consumable.product) or days[0].day
    return forecast_run_hours(days, now_ms, consumable.interval_hours, since)


def _active(session: Session, device_id: str, product: str) -> Opportunity | None:
    return session.exec(select(Opportunity).where(
        Opportunity.device_id == device_id, Opportunity.product == product,
        col(Opportunity.status).in_(ACTIVE_STATUSES))).first()


def _notify(session: Session, opp: Opportunity, account: Account, now_ms: int) -> None:
    recipient = opp.owner or recipients.sales_owner(account.customer_id)  # unrouted: fails
    what = "Consumable due" if opp.kind == "consumable" else "Upgrade opportunity"
    notify(session, audience=AUDIENCE, recipient=recipient, at=now_ms,
           message=(f"{what}: {opp.quantity} x {opp.product} for {account.serial} at "
                    f"{account.site_name}, by {_day(opp.predicted_date)}\n"
                    f"{opp.reason}\nOpportunity {opp.id}: accept or decline it in FieldPulse "
                    f"(/api/opportunities/{opp.id})"))


def _raise(engine: Engine, opp: Opportunity, account: Account, now_ms: int) -> int | None:
    """Store a new opportunity and its owner's notification; its id (None if one is
    active already)."""
    try:
        with session_scope(engine) as session:
            if _active(session, opp.device_id, opp.product) is not None:
                return None
            session.add(opp)
            session.flush()
            _notify(session, opp, account, now_ms)
            opp_id = opp.id
    except IntegrityError:
        return None  # raised by another pass at the same moment
    log.info("opportunity %s: %s for %s", opp_id, opp.product, account.device_id)
    return opp_id


def raise_opportunities(engine: Engine, catalogue: Mapping[str, SalesSpec], now_ms: int
                        ) -> list[int]:
    """Raise what is due now; returns the new opportunities' ids."""
    raised: list[int] = []
    with Session(engine) as session:
        accounts = _accounts(session, [m for m, s in catalogue.items()
                                       if s.consumables or s.upgrade])
    for account in accounts:
        spec = catalogue[account.model_id]
        with Session(engine) as session:
            days = _days(session, account.device_id, now_ms)
            for consumable in spec.consumables:
                f = forecast_for(session, account, consumable, days, now_ms)
                if f is None:
                    continue
                active = _active(session, account.device_id, consumable.product)
                if active is not None:
                    _refresh(engine, active, f, consumable, now_ms)
                    continue
                if not in_lead_window(f, consumable, now_ms):
                    continue
                opp = Opportunity(
                    device_id=account.device_id, customer_id=account.customer_id,
                    kind="consumable", product=consumable.product,
                    quantity=consumable.quantity, predicted_date=f.predicted,
                    predicted_early=f.early, predicted_late=f.late,
                    reason=consumable_reason(consumable, f), owner=account.owner,
                    created_at=now_ms, updated_at=now_ms)
                if (opp_id := _raise(engine, opp, account, now_ms)) is not None:
                    raised.append(opp_id)
            if spec.upgrade is not None:
                incidents = session.exec(select(func.count()).select_from(Alert).where(
                    Alert.device_id == account.device_id, col(Alert.parent_id).is_(None),
                    Alert.raised_at >= now_ms - FAULT_WINDOW_MS)).one()
                reason = upgrade_reason(spec.upgrade, account.serial, incidents, now_ms)
                if reason and _active(session, account.device_id, spec.upgrade.product) is None:
                    opp = Opportunity(
                        device_id=account.device_id, customer_id=account.customer_id,
                        kind="upgrade", product=spec.upgrade.product, quantity=1,
                        predicted_date=now_ms, reason=reason, owner=account.owner,
                        created_at=now_ms, updated_at=now_ms)
                    if (opp_id := _raise(engine, opp, account, now_ms)) is not None:
                        raised.append(opp_id)
    return raised


def _refresh(engine: Engine, opp: Opportunity, f: Forecast, consumable: Consumable,
             now_ms: int) -> None:
    """Keep an open opportunity's date current; one replaced meanwhile is lost."""
    if opp.status == "accepted":
        return  # the work order is under way; settle() closes it
    with session_scope(engine) as session:
        row = session.get(Opportunity, opp.id)
        if row is None or row.status not in ("open", "offered"):
            return
        if f.since is not None and f.since > row.created_at:
            row.status, row.updated_at = "lost", now_ms
            row.reason += f"; replaced {_day(f.since)} without this order"
        elif abs(f.predicted - row.predicted_date) >= MOVE_DAYS * DAY_MS:
            row.predicted_date, row.predicted_early, row.predicted_late = (
                f.predicted, f.early, f.late)
            row.reason, row.updated_at = consumable_reason(consumable, f), now_ms
        else:
            return
        session.add(row)


def settle(engine: Engine, now_ms: int) -> int:
    """Accepted opportunities whose work order is done are won; returns how many."""
    with session_scope(engine) as session:
        done = session.exec(
            select(Opportunity).join(WorkOrder, col(WorkOrder.id) == Opportunity.work_order_id)
            .where(Opportunity.status == "accepted", WorkOrder.status == "done")).all()
        for opp in done:
            opp.status, opp.updated_at = "won", now_ms
            session.add(opp)
        return len(done)
