"""Rules service: evaluates stored readings, keeps alerts' life cycle, runs their actions.

The evaluation is `rules.engine`; this module is the I/O around it. It does
not know how a work order is made: the assembly passes `open_work_order`, so
the rules component never imports the dispatcher.

Readings are evaluated in event time. A device's readings newer than anything
evaluated for it go to the live engine. Older ones (an edge backlog drained
after live data resumed) go to a separate replay engine, so a past episode is
judged on its own readings without disturbing the live state; alerts from
readings that arrive long after they were taken are marked `replayed`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from asset_registry.catalog import DeviceModel, severity_rank
from asset_registry.database import session_scope
from asset_registry.rule_spec import parse_rules, rule_spec_of
from asset_registry.tables import Customer, Device, Site
from ingest.checks import AcceptedReading
from rules.anomaly_scores import AnomalyScorer, ModelScorer
from rules.engine import RuleEngine, Transition, by_model
from rules.notify import LogSender, NotificationSender
from rules.readings import ReadingBlock, blocks_from_readings
from rules.tables import (
    OPEN_STATES,
    Alert,
    AlertEvent,
    AnomalyState,
    ModelAnomalyState,
    Notification,
    RuleSet,
)

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
# Alerts on one device raised within this window of an open incident fold under it.
FOLD_WINDOW_MS = 30 * 60 * 1000
# Readings this much older than their arrival raise alerts marked as replayed.
REPLAY_LAG_MS = 2 * 60 * 1000
DETECTOR_SAVE_INTERVAL_MS = 5 * 60 * 1000


class AlertError(ValueError):
    pass


def now_ms() -> int:
    return int(time.time() * 1000)


class RulesService:
    def __init__(
        self,
        engine: Engine,
        models: Mapping[str, DeviceModel],
        open_work_order: OpenWorkOrder,
        on_work_orders_opened: Callable[[], None] = lambda: None,
        supervisor: str = "service-supervisor",
        tz: ZoneInfo | None = None,
        clock: Callable[[], int] = now_ms,
        sender: NotificationSender | None = None,
        deliver_notifications: bool = True,
    ) -> None:
        self._engine = engine
        # Both engines share this dict, so a rule change reaches them at once.
        self._models = dict(models)
        self._open_work_order = open_work_order
        self._on_work_orders_opened = on_work_orders_opened
        self._supervisor = supervisor
        self._clock = clock
        self._sender = sender or LogSender()
        # Ingest workers only record notifications; the main process sends them, so
        # each goes out once and through the configured sender.
        self._delivers = deliver_notifications
        self._delivery_lock = threading.Lock()  # the ingest and timer threads both deliver
        self._detectors_saved_at = clock()
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}  # rule-set version in force per model
        self.live = RuleEngine(self._models, tz, scorer=AnomalyScorer(),
                               model_scorer=ModelScorer())
        self.replay = RuleEngine(self._models, tz)
        with Session(engine) as session:
            for saved in session.exec(select(AnomalyState)):
                self.live.scorer.restore((saved.device_id, saved.metric), json.loads(saved.state))
            for kept in session.exec(select(ModelAnomalyState)):
                self.live.model_scorer.restore((kept.model_id, tuple(kept.metrics.split(","))),
                                               json.loads(kept.state))
            for rule_set in session.exec(select(RuleSet).order_by(RuleSet.version)):
                if rule_set.model_id in self._models:
                    self._install(rule_set.model_id, json.loads(rule_set.rules),
                                  rule_set.version)
            for alert in session.exec(select(Alert).where(col(Alert.state).in_(OPEN_STATES))):
                self.live.set_active(alert.device_id, alert.rule_id)

    # -- rule sets -------------------------------------------------------------------

    def rules_of(self, model_id: str) -> tuple[int, list[dict]]:
        """The rules in force for a model: (version, specs)."""
        with Session(self._engine) as session:
            latest = session.exec(select(RuleSet).where(RuleSet.model_id == model_id)
                                  .order_by(col(RuleSet.version).desc())).first()
        if latest is not None:
            return latest.version, json.loads(latest.rules)
        return 1, [rule_spec_of(r) for r in self._models[model_id].rules]

    def update_rules(self, model_id: str, specs: list[dict], by: str) -> int:
        """Validate and put a new version of a model's rules in force; returns the version.

        Raises RuleError naming the field when a rule does not validate; the
        rules in force then stay as they were.
        """
        if model_id not in self._models:
            raise AlertError(f"no device model '{model_id}'")
        parse_rules(specs, "rules", self._models[model_id].attributes)  # refuse before storing
        with self._lock:
            version = self.rules_of(model_id)[0] + 1
            with session_scope(self._engine) as session:
                session.add(RuleSet(model_id=model_id, version=version, rules=json.dumps(specs),
                                    created_at=self._clock(), created_by=by))
            self._install(model_id, specs, version)
        log.info("rules of %s: version %s in force (by %s)", model_id, version, by)
        return version

    def _install(self, model_id: str, specs: list[dict], version: int) -> None:
        model = self._models[model_id]
        self._models[model_id] = replace(model, rules=parse_rules(specs, "rules",
                                                                  model.attributes))
        self._versions[model_id] = version

    def reload_rules(self) -> list[str]:
        """Put in force the rule versions another process stored; returns the models
        that changed. Several ingest processes share one database: an edit through
        the API is in force at once in the process that took it, and in the others
        at their next reload (every few seconds)."""
        with Session(self._engine) as session:
            newest = session.exec(select(RuleSet.model_id, func.max(RuleSet.version))
                                  .group_by(RuleSet.model_id)).all()
        changed = []
        for model_id, version in newest:
            if model_id in self._models and version > self._versions.get(model_id, 1):
                _, specs = self.rules_of(model_id)
                with self._lock:
                    self._install(model_id, specs, version)
                changed.append(model_id)
                log.info("rules of %s: version %s in force (stored by another process)",
                         model_id, version)
        return changed

    # -- readings -------------------------------------------------------------------

    def on_readings(self, readings: Sequence[AcceptedReading]) -> list[Transition]:
        return self.on_blocks(blocks_from_readings(readings))

    def on_blocks(self, blocks: Sequence[ReadingBlock]) -> list[Transition]:
        """Evaluate readings given as per-model column blocks (ingest's hot path)."""
        with self._lock:
            received = self._clock()
            transitions: list[tuple[Transition, bool, str]] = []
            late: list[tuple[str, str, int, dict[str, float]]] = []
            for block in blocks:
                live = self._newer_than_watermark(block)
                if not live.all():
                    late += [(d, block.model_id, ts, m)
                             for d, ts, m in block.take(~live).rows()]
                    block = block.take(live)
                transitions += [(t, received - t.ts > REPLAY_LAG_MS, "live")
                                for t in self.live.evaluate_block(block)]
            transitions += [(t, True, "replay") for t in self._replay(late)]
            if transitions:
                self._apply(transitions, received)
        return [t for t, _, _ in transitions]

    def _newer_than_watermark(self, block: ReadingBlock) -> np.ndarray:
        """Per row: is it newer than anything the live engine evaluated for its device?"""
        marks = np.array([self.live.watermark(d) for d in block.names], dtype=np.int64)
        return block.ts > marks[block.codes]

    def _replay(self, late: list) -> list[Transition]:
        out: list[Transition] = []
        for model_id, rows in by_model(late).items():
            out += self.replay.evaluate(model_id, rows)
            # A past episode still "on" when the backlog ends is over: live
            # data, which is newer, says the condition does not hold.
            for device_id in {row[0] for row in rows}:
                for rule in self._models[model_id].rules:
                    mem = self.replay.rules.get((device_id, rule.id))
                    if mem and mem.active and not self.live.is_active(device_id, rule.id):
                        mem.active = False
                        out.append(Transition("clear", device_id, rule,
                                              self.live.watermark(device_id), float("nan"),
                                              model_id))
        return out

    # -- timers: no-data rules and escalation ------------------------------------------

    def start(self, period_s: float = 10.0) -> None:
        """Run `tick` every `period_s` in a background thread until `stop`."""
        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(period_s):
                try:
                    self.tick()
                except Exception:
                    log.exception("rules tick failed; will retry")

        self._ticker = threading.Thread(target=loop, name="rules-ticker", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        if getattr(self, "_ticker", None) is not None:
            self._stop.set()
            self._ticker.join(timeout=10)
        with self._lock:
            self.save_detectors()

    def tick(self, at_ms: int | None = None) -> None:
        at = self._clock() if at_ms is None else at_ms
        with self._lock:
            with Session(self._engine) as session:
                rows = session.exec(select(Device.id, Device.model_id, Device.last_seen)).all()
            silent = self.live.silence(at, {d: m for d, m, _ in rows if m in self._models},
                                       {d: seen for d, _, seen in rows})
            if silent:
                self._apply([(t, False, "live") for t in silent], at)
            self._escalate(at)
            self.deliver()
            # A detector's state is large (hundreds of KB): save it now and then,
            # not on every tick; losing a few minutes of learning costs little.
            if at - self._detectors_saved_at >= DETECTOR_SAVE_INTERVAL_MS:
                self.save_detectors(at)

    def save_detectors(self, at_ms: int | None = None) -> int:
        """Write the anomaly detectors that learned since the last save; returns how many."""
        assert self.live.scorer is not None and self.live.model_scorer is not None
        states = self.live.scorer.export()
        model_states = self.live.model_scorer.export()
        at = self._clock() if at_ms is None else at_ms
        self._detectors_saved_at = at
        with session_scope(self._engine) as session:
            for (device_id, metric), state in states.items():
                session.merge(AnomalyState(device_id=device_id, metric=metric,
                                           state=json.dumps(state), updated_at=at))
            for (model_id, metrics), state in model_states.items():
                session.merge(ModelAnomalyState(model_id=model_id, metrics=",".join(metrics),
                                                state=json.dumps(state), updated_at=at))
        return len(states) + len(model_states)

    def _escalate(self, at: int) -> None:
        with session_scope(self._engine) as session:
            pending = session.exec(
                select(Alert, Device.model_id).join(Device, Device.id == Alert.device_id)
                .where(Alert.state == "active", col(Alert.escalated_at).is_(None),
                       col(Alert.parent_id).is_(None))).all()
            for alert, model_id in pending:
                model = self._models.get(model_id)
                if model is None or model.escalate_after_min is None:
                    continue
                if severity_rank(alert.severity) < severity_rank(model.escalate_from):
                    continue
                if at - alert.raised_at < model.escalate_after_min * 60_000:
                    continue
                alert.escalated_at = at
                session.add(alert)
                session.add(AlertEvent(alert_id=alert.id, action="escalated", by="system", at=at,
                                       note=f"unacknowledged for {model.escalate_after_min:g} min"))
                session.add(Notification(
                    alert_id=alert.id, audience="supervisor", recipient=self._supervisor,
                    message=f"[escalated] [{alert.severity}] {alert.device_id}: {alert.message} "
                            f"— unacknowledged for {model.escalate_after_min:g} min",
                    created_at=at))
                log.info("alert %s escalated", alert.id)

    # -- people acting on alerts ----------------------------------------------------------

    def acknowledge(self, alert_id: int, by: str, note: str = "") -> Alert:
        return self._act(alert_id, "acknowledged", by, note, allowed=("active",))

    def close(self, alert_id: int, by: str, note: str = "") -> Alert:
        return self._act(alert_id, "closed", by, note,
                         allowed=("active", "acknowledged", "cleared"))

    def comment(self, alert_id: int, by: str, note: str) -> Alert:
        return self._act(alert_id, None, by, note, allowed=(*OPEN_STATES, "cleared"))

    def _act(self, alert_id: int, state: str | None, by: str, note: str,
             allowed: tuple[str, ...]) -> Alert:
        at = self._clock()
        with self._lock, session_scope(self._engine) as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                raise AlertError(f"no alert {alert_id}")
            if alert.state not in allowed:
                raise AlertError(f"alert {alert_id} is {alert.state}; cannot "
                                 f"{'comment on' if state is None else state.rstrip('d')} it")
            if state == "acknowledged":
                alert.acknowledged_at, alert.acknowledged_by = at, by
            elif state == "closed":
                alert.closed_at, alert.closed_by = at, by
            if state is not None:
                alert.state = state
            session.add(alert)
            session.add(AlertEvent(alert_id=alert_id, action=state or "comment", by=by, at=at,
                                   note=note))
            return alert

    # -- persisting transitions -----------------------------------------------------------

    def _apply(self, transitions: list[tuple[Transition, bool, str]], received: int) -> None:
        """Persist (transition, replayed, lane) triples in event-time order."""
        for attempt in range(3):
            try:
                opened = self._persist(transitions, received)
                break
            except IntegrityError:
                # Another worker opened the same alert between our check and our
                # insert; the database refused the second. Retrying sees it.
                log.info("alert raised concurrently elsewhere; retrying (%s)", attempt + 1)
        else:
            raise RuntimeError("could not persist alert transitions after 3 attempts")
        self.deliver()
        if opened:
            self._on_work_orders_opened()

    def _persist(self, transitions: list[tuple[Transition, bool, str]], received: int) -> int:
        opened = 0
        with session_scope(self._engine) as session:
            for t, replayed, lane in sorted(transitions, key=lambda x: x[0].ts):
                if t.kind == "raise":
                    opened += self._raise(session, t, replayed, received)
                elif not (lane == "replay" and self.live.is_active(t.device_id, t.rule.id)):
                    # While the live lane holds the alarm, it alone may end it: a
                    # backlog's recovery is older than the live breach.
                    self._clear(session, t)
        return opened

    def deliver(self) -> int:
        """Send every notification not yet sent; returns how many went out."""
        if not self._delivers:
            return 0
        sent = 0
        with self._delivery_lock, session_scope(self._engine) as session:
            for n in session.exec(select(Notification).where(Notification.status == "recorded")
                                  .order_by(Notification.id)):
                try:
                    self._sender.send(n)
                except Exception as exc:  # a sender's failure must not stop the rules
                    n.status, n.error = "failed", f"{type(exc).__name__}: {exc}"
                    log.warning("notification %s failed: %s", n.id, n.error)
                else:
                    n.status, n.sent_at = "sent", self._clock()
                    sent += 1
                session.add(n)
        return sent

    def _open_alert(self, session: Session, device_id: str, rule_id: str) -> Alert | None:
        return session.exec(select(Alert).where(
            Alert.device_id == device_id, Alert.rule_id == rule_id,
            col(Alert.state).in_(OPEN_STATES))).first()

    def _raise(self, session: Session, t: Transition, replayed: bool, received: int) -> int:
        model = self._models[t.model_id]
        if self._open_alert(session, t.device_id, t.rule.id) is not None:
            return 0  # the same episode seen through the other lane
        parent = session.exec(
            select(Alert).where(Alert.device_id == t.device_id, col(Alert.parent_id).is_(None),
                                col(Alert.state).in_(OPEN_STATES),
                                Alert.raised_at >= t.ts - FOLD_WINDOW_MS)
            .order_by(col(Alert.raised_at).desc())).first()
        alert = Alert(device_id=t.device_id, rule_id=t.rule.id, metric=t.rule.metric or "",
                      severity=t.rule.severity, message=t.rule.message, raised_at=t.ts,
                      raised_value=t.value, replayed=replayed,
                      parent_id=parent.id if parent else None)
        session.add(alert)
        session.flush()
        note = "from readings replayed after an outage" if replayed else ""
        session.add(AlertEvent(alert_id=alert.id, action="raised", by="system", at=received,
                               note=note))
        log.info("alert %s raised: %s %s%s", alert.id, t.device_id, t.rule.id,
                 f" (folded under {parent.id})" if parent else "")
        # A folded alert acts only if it is worse than its incident so far.
        if parent is not None and severity_rank(alert.severity) <= severity_rank(parent.severity):
            return 0
        opened = 0
        for action in model.actions_for(t.rule.severity):
            if action in AUDIENCES:
                self._notify(session, alert, AUDIENCES[action])
            elif action == "open_work_order" and not (parent and parent.case_id):
                alert.case_id = self._open_work_order(session, WorkOrderRequest(
                    device_id=t.device_id, alert_id=alert.id,
                    title=f"{model.name}: {t.rule.message}",
                    description=f"Alert {alert.id}: {t.rule.id} ({t.rule.condition}) at "
                                f"{t.value:g}",
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

    def _clear(self, session: Session, t: Transition) -> None:
        alert = self._open_alert(session, t.device_id, t.rule.id)
        if alert is None or t.ts < alert.raised_at:
            return  # nothing open, or a clear from before this episode began
        alert.state, alert.cleared_at = "cleared", t.ts
        alert.cleared_value = None if t.value != t.value else t.value  # NaN: no reading
        session.add(alert)
        session.add(AlertEvent(alert_id=alert.id, action="cleared", by="system",
                               at=self._clock()))
        log.info("alert %s cleared: %s %s", alert.id, t.device_id, t.rule.id)
