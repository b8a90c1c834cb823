"""Work-order notifications: the events dispatch writes, turned into e-mails.

Every change to a work order writes a `WorkOrderEvent` in the same transaction
(dispatch/service.py). This worker reads the events after a cursor kept in the
database (`notification_cursor`), records the notices they call for
(`dispatch.work_order_notices`) as `Notification` rows in the same transaction
as it advances the cursor, then sends them through the sender the rules use. A
restart therefore neither loses nor repeats one: a crash before the commit
re-reads the same events, one after it finds the rows waiting as `pending`. A
failed send stays `failed` with its reason.

Event ids come from the database in insert order, but on PostgreSQL a
transaction can commit after one that took a later id. So the cursor advances
only over consecutive ids: after a missing id the worker waits (`gap_wait_s`)
for it to commit, then takes it for rolled back and goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from asset_registry.database import session_scope
from asset_registry.tables import Customer, Device, Site
from dispatch.tables import Case, Engineer, WorkOrder, WorkOrderEvent
from dispatch.work_order_notices import (
    EventFacts,
    Notice,
    OrderFacts,
    assigned_engineer,
    customer_recipient,
    engineer_before,
    notices_for,
)
from rules.notify import NotificationSender
from rules.tables import Notification, NotificationCursor

log = logging.getLogger("fieldpulse.dispatch.notices")

CURSOR = "work_order_event"
# Not "recorded": the rules' deliver() sends those, in every process (see rules/tables.py).
PENDING = "pending"


def _wall_ms() -> int:
    return int(time.time() * 1000)


class WorkOrderNoticeWorker:
    """Periodically: work-order events -> `Notification` rows -> the sender."""

    def __init__(self, engine: Engine, sender: NotificationSender, *, tz: ZoneInfo,
                 base_url: str, period_s: float = 2.0, gap_wait_s: float = 10.0,
                 batch: int = 200, clock: Callable[[], int] = _wall_ms,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._engine, self._sender = engine, sender
        self._tz, self._base_url = tz, base_url
        self._period_s, self._gap_wait_s, self._batch = period_s, gap_wait_s, batch
        self._clock, self._monotonic = clock, monotonic
        self._gaps: dict[int, float] = {}  # first missing id -> when first seen missing
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="work-order-notices",
                                        daemon=True)

    # -- running ------------------------------------------------------------------------

    def start(self) -> None:
        # The cursor is placed before the thread runs, so events from this start on
        # (e.g. the first plan after it) are not skipped by a cursor placed later.
        self.ensure_cursor()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self.run_once()
            except Exception:
                log.exception("work-order notifications failed; will retry")

    def run_once(self) -> int:
        """Record the notices of every new event, then send what waits; returns how
        many were sent."""
        while self.record() == self._batch:
            pass
        return self.deliver()

    # -- events -> notifications ----------------------------------------------------------

    def ensure_cursor(self) -> None:
        """A database that never had the worker starts at its newest event: history
        from before notifications existed is not mailed."""
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

    def record(self) -> int:
        """Turn the next events into `pending` notifications; returns how many
        events it consumed (the cursor moved by as many)."""
        self.ensure_cursor()
        now = self._clock()
        with session_scope(self._engine) as session:
            cursor = session.get(NotificationCursor, CURSOR)
            assert cursor is not None
            last = cursor.last_id
            events = session.exec(
                select(WorkOrderEvent).where(col(WorkOrderEvent.id) > last)
                .order_by(col(WorkOrderEvent.id)).limit(self._batch)).all()
            taken = self._consecutive(last, events)
            if not taken:
                return 0
            for event in taken:
                for notice in self._notices(session, event):
                    session.add(Notification(
                        work_order_id=event.work_order_id, audience=notice.audience,
                        recipient=notice.recipient, message=notice.message,
                        created_at=now, status=PENDING))
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

    def _consecutive(self, last: int, events: Sequence[WorkOrderEvent]
                     ) -> list[WorkOrderEvent]:
        """The events that follow `last` without a gap still worth waiting for."""
        taken: list[WorkOrderEvent] = []
        expected = last + 1
        for event in events:
            assert event.id is not None
            if event.id > expected:
                seen = self._gaps.setdefault(expected, self._monotonic())
                if self._monotonic() - seen < self._gap_wait_s:
                    break  # an earlier transaction may still commit it
                log.info("work-order events %s..%s never appeared (rolled back)",
                         expected, event.id - 1)
            taken.append(event)
            expected = event.id + 1
        self._gaps = {gap: seen for gap, seen in self._gaps.items() if gap >= expected}
        return taken

    def _notices(self, session: Session, event: WorkOrderEvent) -> list[Notice]:
        row = session.exec(
            select(WorkOrder, Case, Device, Site, Customer)
            .join(Case, col(Case.id) == WorkOrder.case_id)
            .join(Device, col(Device.id) == WorkOrder.device_id)
            .join(Site, col(Site.id) == Device.site_id)
            .join(Customer, col(Customer.id) == Site.customer_id)
            .where(WorkOrder.id == event.work_order_id)).first()
        if row is None:
            return []
        order, case, device, site, customer = row
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
            customer_recipient=customer_recipient(case.contact, customer.contact_email,
                                                  customer.id),
            engineer_id=order.engineer_id, eta=order.eta, engineer_names=names)
        try:
            return notices_for(facts, before, order_facts, tz=self._tz,
                               base_url=self._base_url)
        except Exception:
            # One odd event must not hold back every later notification.
            log.exception("work-order event %s: no notices", event.id)
            return []

    # -- notifications -> the sender -------------------------------------------------------

    def deliver(self) -> int:
        """Send every pending work-order notification; returns how many went out."""
        with Session(self._engine, expire_on_commit=False) as session:
            pending = session.exec(select(Notification)
                                   .where(Notification.status == PENDING)
                                   .where(col(Notification.work_order_id).is_not(None))
                                   .order_by(col(Notification.id))).all()
            session.expunge_all()
        sent = 0
        for n in pending:
            # Sent outside any transaction (SMTP may take seconds), each result
            # committed at once so a crash re-sends at most the one in flight.
            try:
                self._sender.send(n)
            except Exception as exc:  # a sender's failure must not stop the others
                status, error, sent_at = "failed", f"{type(exc).__name__}: {exc}", None
                log.warning("work-order notification %s failed: %s", n.id, error)
            else:
                status, error, sent_at = "sent", None, self._clock()
                sent += 1
            with session_scope(self._engine) as session:
                session.connection().execute(
                    update(Notification).where(col(Notification.id) == n.id,
                                               col(Notification.status) == PENDING)
                    .values(status=status, error=error, sent_at=sent_at))
        return sent


class StoredEngineerAddresses(Mapping[str, str]):
    """Engineer id -> e-mail address as stored now (`Engineer.email`), for the rules'
    `AddressBook`: read at each lookup, so new and changed engineers need no restart."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __getitem__(self, engineer_id: str) -> str:
        with Session(self._engine) as session:
            email = session.exec(select(Engineer.email).where(Engineer.id == engineer_id)
                                 ).first()
        if not email:
            raise KeyError(engineer_id)
        return email

    def __iter__(self) -> Iterator[str]:
        with Session(self._engine) as session:
            return iter(list(session.exec(select(Engineer.id).where(Engineer.email != ""))))

    def __len__(self) -> int:
        return sum(1 for _ in self)
