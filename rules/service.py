"""Rules service: evaluates stored readings, persists alerts, runs their actions.

The evaluation itself is `rules.engine`; this module is the I/O around it. It
does not know how a work order is made: the assembly passes `open_work_order`,
so the rules component never imports the dispatcher.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.catalog import DeviceModel
from asset_registry.database import session_scope
from asset_registry.tables import Customer, Device, Site
from ingest.checks import AcceptedReading
from rules.engine import RuleState, Transition
from rules.tables import Alert, Notification

log = logging.getLogger("fieldpulse.rules")


@dataclass(frozen=True, slots=True)
class WorkOrderRequest:
    """What an alert asks the service side to open: a case with one work order."""

    device_id: str
    alert_id: int
    title: str
    description: str
    skill: str
    duration_min: int
    priority: int


# Opens a case and work order inside the caller's session; returns the case id.
OpenWorkOrder = Callable[[Session, WorkOrderRequest], int]

AUDIENCES = {"notify_owner": "owner", "notify_supervisor": "supervisor",
             "notify_customer": "customer"}
PRIORITY_BY_SEVERITY = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}


class RulesService:
    def __init__(
        self,
        engine: Engine,
        models: Mapping[str, DeviceModel],
        open_work_order: OpenWorkOrder,
        on_work_orders_opened: Callable[[], None] = lambda: None,
        supervisor: str = "service-supervisor",
    ) -> None:
        self._engine = engine
        self._models = models
        self._open_work_order = open_work_order
        self._on_work_orders_opened = on_work_orders_opened
        self._supervisor = supervisor
        self._lock = threading.Lock()
        self.state = RuleState()
        with Session(engine) as session:
            for alert in session.exec(select(Alert).where(Alert.state == "active")):
                self.state.active.add((alert.device_id, alert.rule_id))

    def on_readings(self, readings: Sequence[AcceptedReading]) -> list[Transition]:
        model_of = {r.device_id: self._models[r.model_id] for r in readings}
        with self._lock:
            transitions = self.state.run(
                model_of, ((r.device_id, r.ts, r.metrics) for r in readings)
            )
            if not transitions:
                return transitions
            opened = 0
            with session_scope(self._engine) as session:
                for t in transitions:
                    if t.kind == "raise":
                        opened += self._raise(session, t, model_of[t.device_id])
                    else:
                        self._clear(session, t)
        if opened:
            self._on_work_orders_opened()
        return transitions

    def _raise(self, session: Session, t: Transition, model: DeviceModel) -> int:
        alert = Alert(
            device_id=t.device_id, rule_id=t.rule.id, metric=t.rule.metric,
            severity=t.rule.severity, message=t.rule.message, raised_at=t.ts,
            raised_value=t.value,
        )
        session.add(alert)
        session.flush()
        log.info("alert %s raised: %s %s (%s=%s)", alert.id, t.device_id, t.rule.id,
                 t.rule.metric, t.value)
        opened = 0
        for action in model.actions_for(t.rule.severity):
            if action in AUDIENCES:
                self._notify(session, alert, AUDIENCES[action])
            elif action == "open_work_order":
                alert.case_id = self._open_work_order(session, WorkOrderRequest(
                    device_id=t.device_id, alert_id=alert.id,
                    title=f"{model.name}: {t.rule.message}",
                    description=(f"Alert {alert.id}: {t.rule.metric} = {t.value:g} "
                                 f"({t.rule.condition} {t.rule.threshold:g})"),
                    skill=model.service_skill, duration_min=model.service_minutes,
                    priority=PRIORITY_BY_SEVERITY[t.rule.severity],
                ))
                opened += 1
        return opened

    def _notify(self, session: Session, alert: Alert, audience: str) -> None:
        if audience == "supervisor":
            recipient = self._supervisor
        else:
            row = session.exec(
                select(Customer.id, Customer.contact_email)
                .join(Site, Site.customer_id == Customer.id)
                .join(Device, Device.site_id == Site.id)
                .where(Device.id == alert.device_id)
            ).first()
            if row is None:
                recipient = "unknown"
            else:
                recipient = row[1] if audience == "customer" else f"account-owner:{row[0]}"
        session.add(Notification(
            alert_id=alert.id, audience=audience, recipient=recipient,
            message=f"[{alert.severity}] {alert.device_id}: {alert.message}",
            created_at=alert.raised_at,
        ))

    @staticmethod
    def _clear(session: Session, t: Transition) -> None:
        alert = session.exec(select(Alert).where(
            Alert.device_id == t.device_id, Alert.rule_id == t.rule.id, Alert.state == "active"
        )).first()
        if alert is None:
            return
        alert.state, alert.cleared_at, alert.cleared_value = "cleared", t.ts, t.value
        session.add(alert)
        log.info("alert %s cleared: %s %s", alert.id, t.device_id, t.rule.id)
