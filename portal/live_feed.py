"""What changed since the last look: the dispatcher console's live updates.

The feed reads the database, not an in-process bus, so it sees changes made by
every process that shares it (ingest workers raise alerts, the dispatcher
stores plans, engineers' phones post statuses). Each poll returns the new
alert events, work-order events and plans by their increasing ids, and the
devices whose online state flipped, then a cursor for the next poll; a client
that connects gets what happens from then on, not the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from asset_registry.tables import Device
from dispatch.tables import DispatchPlan
from rules.tables import Alert, AlertEvent
from service.tables import WorkOrder, WorkOrderEvent

# A poll returns at most this many events of each kind; the rest come next time.
MAX_EVENTS = 500


@dataclass(frozen=True, slots=True)
class LiveEvent:
    kind: str  # alert | work_order | plan | device
    data: dict[str, Any]
    # The row id of its kind (alert event, work-order event, plan); None for device
    # flips. Not sent: it tells a stream that caught up from the database which of the
    # hub's events it has already (`live_hub.after`).
    ref: int | None = None


@dataclass(slots=True)
class Cursor:
    alert_event_id: int = 0
    work_order_event_id: int = 0
    plan_id: int = 0
    online: dict[str, bool] = field(default_factory=dict)  # the offline devices: False


class LiveFeed:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def start(self) -> Cursor:
        """A cursor at the present: the next poll returns only newer changes."""
        with Session(self._engine) as s:
            return Cursor(
                alert_event_id=s.exec(select(func.max(AlertEvent.id))).one() or 0,
                work_order_event_id=s.exec(select(func.max(WorkOrderEvent.id))).one() or 0,
                plan_id=s.exec(select(func.max(DispatchPlan.id))).one() or 0,
                online=_offline(s),
            )

    def poll(self, cursor: Cursor) -> tuple[list[LiveEvent], Cursor]:
        with Session(self._engine) as s:
            alerts = s.exec(
                select(AlertEvent, Alert).join(Alert, col(Alert.id) == AlertEvent.alert_id)
                .where(col(AlertEvent.id) > cursor.alert_event_id)
                .order_by(col(AlertEvent.id)).limit(MAX_EVENTS)).all()
            orders = s.exec(
                select(WorkOrderEvent, WorkOrder)
                .join(WorkOrder, col(WorkOrder.id) == WorkOrderEvent.work_order_id)
                .where(col(WorkOrderEvent.id) > cursor.work_order_event_id)
                .order_by(col(WorkOrderEvent.id)).limit(MAX_EVENTS)).all()
            plans = s.exec(select(DispatchPlan).where(col(DispatchPlan.id) > cursor.plan_id)
                           .order_by(col(DispatchPlan.id)).limit(MAX_EVENTS)).all()
            online = _offline(s)
        events = [_alert_event(e, a) for e, a in alerts]
        events += [_work_order_event(e, w) for e, w in orders]
        events += [LiveEvent("plan", {"plan_id": p.id, "assigned": p.assigned,
                                      "unassigned": p.unassigned, "at": p.created_at}, p.id)
                   for p in plans]
        before = {d for d, up in cursor.online.items() if not up}
        events += [LiveEvent("device", {"device_id": d, "online": d not in online})
                   for d in sorted(before ^ online.keys())]
        return events, Cursor(
            alert_event_id=_last_id(alerts[-1][0].id if alerts else None,
                                    cursor.alert_event_id),
            work_order_event_id=_last_id(orders[-1][0].id if orders else None,
                                         cursor.work_order_event_id),
            plan_id=_last_id(plans[-1].id if plans else None, cursor.plan_id),
            online=online,
        )


def _offline(s: Session) -> dict[str, bool]:
    """The offline devices (a few percent of them): a cursor keeps only those, and a
    flip either way is a change of this set. Reading every device's flag cost a
    10,000-row read per poll (issue 24)."""
    return dict.fromkeys(s.exec(select(Device.id).where(col(Device.online).is_(False))), False)


def _last_id(newest: int | None, before: int) -> int:
    """The cursor's next position: the newest row read (stored rows have ids), or where
    it was when nothing new came."""
    return before if newest is None else newest


def _alert_event(event: AlertEvent, alert: Alert) -> LiveEvent:
    return LiveEvent("alert", {
        "alert_id": alert.id, "action": event.action, "by": event.by, "at": event.at,
        "device_id": alert.device_id, "rule_id": alert.rule_id, "severity": alert.severity,
        "state": alert.state, "message": alert.message,
    }, event.id)


def _work_order_event(event: WorkOrderEvent, order: WorkOrder) -> LiveEvent:
    return LiveEvent("work_order", {
        "work_order_id": order.id, "status": event.status, "at": event.at,
        "device_id": order.device_id, "engineer_id": order.engineer_id, "eta": order.eta,
    }, event.id)
