"""The SLA monitor: stops the clocks of cases that met them, warns before a breach,
records breaches. Runs in the main process only (the `sla-monitor` worker).

A warning and a breach are recorded once per clock (`*_warned_at`,
`*_breached_at` on the case) in the same transaction as their notifications to
the supervisor and the customer's account owner, about the case's first work
order; the delivery worker sends them. A breach is recorded at the due time
it happened; a clock found already past due (the monitor was down) is breached
without a late warning.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, and_, or_
from sqlmodel import Session, col, select

from asset_registry.tables import Device, Site
from foundations.database import session_scope
from notifications import recipients
from notifications.record import notify
from service import sla
from service.tables import Case, WorkOrder, WorkOrderEvent

log = logging.getLogger("fieldpulse.service.sla")

@dataclass
class SlaReport:
    """What one pass did: (case id, clock) pairs."""

    met: list[tuple[int, str]] = field(default_factory=list)
    warned: list[tuple[int, str]] = field(default_factory=list)
    breached: list[tuple[int, str]] = field(default_factory=list)


def case_events(session: Session, case_ids: list[int]) -> dict[int, list[sla.Event]]:
    """The SLA's view of each case's work-order events, in time order."""
    rows = session.exec(select(WorkOrder.case_id, WorkOrderEvent.status, WorkOrderEvent.at)
                        .join(WorkOrder, col(WorkOrder.id) == WorkOrderEvent.work_order_id)
                        .where(col(WorkOrder.case_id).in_(case_ids))
                        .order_by(col(WorkOrderEvent.at), col(WorkOrderEvent.id))).all()
    out: dict[int, list[sla.Event]] = defaultdict(list)
    for case_id, status, at in rows:
        out[case_id].append(sla.Event(status, at))
    return out


def clocks_of(case: Case, events: list[sla.Event]) -> sla.CaseClocks:
    """A case's clocks: met times as recorded, else as its events show."""
    seen = sla.met_times(events, case.status == "closed")
    met = {"response": case.response_met_at or seen["response"],
           "resolution": case.resolution_met_at or seen["resolution"]}
    return sla.case_clocks(case.created_at, case.response_due, case.resolution_due, met,
                           sla.policy_for(case.sla_level))


def _running() -> ColumnElement[bool]:
    """Cases with a clock not yet stopped."""
    return or_(and_(col(Case.response_due).is_not(None), col(Case.response_met_at).is_(None)),
               and_(col(Case.resolution_due).is_not(None),
                    col(Case.resolution_met_at).is_(None)))


def check_clocks(engine: Engine, now: int, tz: ZoneInfo) -> SlaReport:
    """One pass over every case with a running clock."""
    report = SlaReport()
    with session_scope(engine) as session:
        cases = session.exec(select(Case).where(_running()).order_by(col(Case.id))).all()
        events = case_events(session, [c.id for c in cases if c.id is not None])
        for case in cases:
            assert case.id is not None
            _check_case(session, case, events.get(case.id, []), now, tz, report)
    for what, pairs in (("warning", report.warned), ("breach", report.breached)):
        for case_id, name in pairs:
            log.info("SLA %s: case %s %s clock", what, case_id, name)
    return report


def _check_case(session: Session, case: Case, events: list[sla.Event], now: int,
                tz: ZoneInfo, report: SlaReport) -> None:
    clocks = clocks_of(case, events)
    closed = case.status == "closed"
    for clock in clocks.all():
        met_at = clock.met_at
        if met_at is None and closed:
            # Closed without the events that stop this clock (e.g. resolved remotely
            # through the API): it stops now.
            met_at = now
        prefix = clock.name
        if met_at is not None and getattr(case, f"{prefix}_met_at") is None:
            setattr(case, f"{prefix}_met_at", met_at)
            report.met.append((case.id or 0, prefix))
        breached = (met_at if met_at is not None else now) > clock.due
        if breached and getattr(case, f"{prefix}_breached_at") is None:
            setattr(case, f"{prefix}_breached_at", clock.due)
            report.breached.append((case.id or 0, prefix))
            _notify(session, case, f"SLA breached: case {case.id}, {prefix} was due "
                    f"{_clock_time(clock.due, tz)}", now)
        elif (met_at is None and not breached and now >= clock.warn_at
              and getattr(case, f"{prefix}_warned_at") is None):
            setattr(case, f"{prefix}_warned_at", now)
            report.warned.append((case.id or 0, prefix))
            _notify(session, case, f"SLA warning: case {case.id}, {prefix} due "
                    f"{_clock_time(clock.due, tz)}", now)
    session.add(case)


def _clock_time(ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


def _notify(session: Session, case: Case, subject: str, now: int) -> None:
    """To the supervisor and the customer's account owner, about the case's first job."""
    row = session.exec(select(WorkOrder.id, Device.serial, Site.name, Site.customer_id)
                       .join(Device, col(Device.id) == WorkOrder.device_id)
                       .join(Site, col(Site.id) == Device.site_id)
                       .where(WorkOrder.case_id == case.id)
                       .order_by(col(WorkOrder.id))).first()
    if row is None:
        log.warning("case %s has no work order: SLA notice not recorded", case.id)
        return
    order_id, serial, site_name, customer_id = row
    message = (f"{subject}\n\n{case.title}\nDevice {serial} at {site_name}\n"
               f"Contract level: {case.sla_level or sla.DEFAULT_LEVEL}")
    for audience, recipient in (("supervisor", recipients.SUPERVISOR),
                                ("owner", recipients.account_owner(customer_id))):
        notify(session, audience=audience, recipient=recipient, message=message, at=now,
               work_order_id=order_id)
