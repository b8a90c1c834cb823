"""Work-order notices: the events of work orders, turned into notifications.

Every change to a work order writes a `WorkOrderEvent` in the same transaction.
This worker reads the events after a cursor kept in the database
(`notification_cursor`) and records the notices they call for
(`service.work_order_notices`) in the same transaction as it advances the cursor;
the delivery worker sends them (`notifications/delivery.py`). A restart therefore
neither loses nor repeats one: a crash before the commit re-reads the same events.
A gap in the event ids is waited for (`foundations.id_cursor`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from asset_registry.tables import Customer, Device, Site
from foundations import i18n
from foundations.clock import Clock, now_ms
from foundations.database import session_scope
from foundations.id_cursor import GapGuard
from foundations.workers import Periodic
from notifications import recipients
from notifications.record import notify
from notifications.tables import NotificationCursor
from service.tables import Case, Engineer, WorkOrder, WorkOrderEvent
from service.visit_links import visit_token
from service.work_order_notices import (
    EventFacts,
    Notice,
    OrderFacts,
    assigned_engineer,
    engineer_before,
    notices_for,
)

log = logging.getLogger("fieldpulse.service.notices")

CURSOR = "work_order_event"


class WorkOrderNotices(Periodic):
    """The `work-order-notices` worker: every `every_s`, the new work-order events ->
    `Notification` rows (`record_all`); `on_recorded` then wakes the delivery."""

    def __init__(self, engine: Engine, *, tz: ZoneInfo, base_url: str, every_s: float = 2.0,
                 gap_wait_s: float = 10.0, batch: int = 200, clock: Clock = now_ms,
                 monotonic: Callable[[], float] = time.monotonic,
                 on_recorded: Callable[[], None] = lambda: None) -> None:
        super().__init__("work-order-notices", self.run_once, every_s, setup=self.ensure_cursor)
        self._on_recorded = on_recorded
        self._engine, self._tz, self._base_url = engine, tz, base_url
        self._batch, self._clock = batch, clock
        self._guard = GapGuard("work-order events", gap_wait_s, monotonic)

    def ensure_cursor(self) -> None:
        """A database that never had the worker starts at its newest event: history
        from before notifications existed is not mailed. Called before the worker
        starts, so events from then on (the first plan) are not skipped."""
        with Session(self._engine) as session:
            if session.get(NotificationCursor, CURSOR) is not None:
                return
        try:
            with session_scope(self._engine) as session:
                last = session.exec(select(func.max(WorkOrderEvent.id))).one() or 0
                session.add(NotificationCursor(name=CURSOR, last_id=last,
                                               updated_at=self._clock()))
        except IntegrityError:
            pass  # another process placed it first

    def run_once(self) -> int:
        recorded = self.record_all()
        if recorded:
            self._on_recorded()
        return recorded

    def record_all(self) -> int:
        """Record the notices of every new event; returns how many events were read."""
        total = 0
        while (taken := self.record()) > 0:
            total += taken
            if taken < self._batch:
                break
        return total

    def record(self) -> int:
        """Turn the next events into pending notifications; returns how many events
        it consumed (the cursor moved by as many)."""
        self.ensure_cursor()
        now = self._clock()
        with session_scope(self._engine) as session:
            cursor = session.get(NotificationCursor, CURSOR)
            assert cursor is not None
            last = cursor.last_id
            events = session.exec(
                select(WorkOrderEvent).where(col(WorkOrderEvent.id) > last)
                .order_by(col(WorkOrderEvent.id)).limit(self._batch)).all()
            taken = self._guard.consecutive(last, events)
            if not taken:
                return 0
            for event in taken:
                for notice in self._notices(session, event):
                    notify(session, audience=notice.audience, recipient=notice.recipient,
                           message=notice.message, at=now,
                           work_order_id=event.work_order_id)
            # Compare-and-set: a second process that read the same cursor records nothing.
            moved = session.connection().execute(
                update(NotificationCursor)
                .where(col(NotificationCursor.name) == CURSOR,
                       col(NotificationCursor.last_id) == last)
                .values(last_id=taken[-1].id, updated_at=now))
            if moved.rowcount != 1:
                session.rollback()
                log.info("work-order notices recorded elsewhere; skipping")
                return 0
        return len(taken)

    def _notices(self, session: Session, event: WorkOrderEvent) -> list[Notice]:
        order = session.get(WorkOrder, event.work_order_id)
        case = session.get(Case, order.case_id) if order else None
        where = session.exec(
            select(Device, Site, Customer)
            .join(Site, col(Site.id) == Device.site_id)
            .join(Customer, col(Customer.id) == Site.customer_id)
            .where(Device.id == order.device_id)).first() if order else None
        if order is None or case is None or where is None:
            return []
        device, site, customer = where
        history = session.exec(
            select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == event.work_order_id,
                                         col(WorkOrderEvent.id) < event.id)
            .order_by(col(WorkOrderEvent.id))).all()
        facts = EventFacts(event.id or 0, event.status, event.note)
        before = engineer_before(EventFacts(e.id or 0, e.status, e.note) for e in history)
        involved = {before, assigned_engineer(facts), order.engineer_id} - {None}
        names = dict(session.exec(select(Engineer.id, Engineer.name)
                                  .where(col(Engineer.id).in_(involved))).all())
        order_facts = OrderFacts(
            order_id=order.id or 0, title=case.title, device_id=device.id,
            device_serial=device.serial, model_id=device.model_id, site_name=site.name,
            site_address=site.address, qr_token=device.qr_token,
            customer_recipient=recipients.customer(case.contact, customer.contact_email,
                                                   customer.id),
            engineer_id=order.engineer_id, eta=order.eta, engineer_names=names,
            window=(order.window_start, order.window_end)
            if order.window_start is not None and order.window_end is not None else None,
            # The customer's page to follow the engineer's arrival, made for the first
            # "on the way" notice (in this transaction, with the notice).
            visit_token=visit_token(session, order.id, self._clock())
            if event.status == "en_route" and order.id is not None else "")
        try:
            return notices_for(facts, before, order_facts, tz=self._tz,
                               base_url=self._base_url,
                               customer_locale=i18n.normalise(customer.language) or i18n.DEFAULT)
        except Exception:
            # One odd event must not hold back every later notification.
            log.exception("work-order event %s: no notices", event.id)
            return []
