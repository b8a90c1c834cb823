"""Rules service: evaluates stored readings, keeps alerts' life cycle, runs their actions.

The evaluation is `rules.engine`; this module is the I/O around it. It does not
know how a work order is made: the assembly passes `open_work_order`
(`service.alert_cases`), nor how a notification is addressed (`record_notice`,
`notifications.alert_notices`), so the rules component never imports the layers
above it. Notifications are only recorded; the delivery worker sends them
(`notifications/delivery.py`), never on the ingest thread.

Readings are evaluated in event time. A device's readings newer than anything
evaluated for it go to the live engine. Older ones (an edge backlog drained
after live data resumed) go to a separate replay engine, so a past episode is
judged on its own readings without disturbing the live state; alerts from
readings that arrive long after they were taken are marked `replayed`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from asset_registry.catalog import DeviceModel
from asset_registry.tables import Device
from foundations.clock import Clock, now_ms
from foundations.database import session_scope
from ingest.reading_blocks import ReadingBlock
from rules import alert_store, detector_state
from rules.actions import OpenWorkOrder, RecordNotice
from rules.anomaly_scores import AnomalyScorer, ModelScorer
from rules.engine import RuleEngine, Transition, by_model
from rules.rule_book import RuleBook, RuleSpecs
from rules.tables import OPEN_STATES, Alert

log = logging.getLogger("fieldpulse.rules")

# Readings this much older than their arrival raise alerts marked as replayed.
REPLAY_LAG_MS = 2 * 60 * 1000
# How often the timers (no-data rules, escalation) run in the main process.
TICK_S = 10.0

# (transition, replayed, lane): lane "live" or "replay".
Judged = tuple[Transition, bool, str]


class RulesService:
    def __init__(
        self,
        engine: Engine,
        models: Mapping[str, DeviceModel],
        open_work_order: OpenWorkOrder,
        *,
        record_notice: RecordNotice,
        on_work_orders_opened: Callable[[], None] = lambda: None,
        tz: ZoneInfo | None = None,
        clock: Clock = now_ms,
        on_notified: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._open_work_order = open_work_order
        self._record_notice = record_notice
        self._on_work_orders_opened = on_work_orders_opened
        # Wakes the delivery worker when this process recorded notifications.
        self._on_notified = on_notified
        self._clock = clock
        self._detectors_saved_at = clock()
        self._lock = threading.Lock()
        self.book = RuleBook(engine, models, clock, self._lock)
        # Both engines share the book's models, so a rule change reaches them at once.
        self._models = self.book.models
        self.live = RuleEngine(self._models, tz, scorer=AnomalyScorer(),
                               model_scorer=ModelScorer())
        self.replay = RuleEngine(self._models, tz)
        assert self.live.scorer is not None and self.live.model_scorer is not None
        detector_state.restore(engine, self.live.scorer, self.live.model_scorer)
        self.resync_alerts()

    def resync_alerts(self) -> None:
        """Take which alerts are open from the store: at start, and whenever devices come
        to this process from another that may have raised or cleared theirs (a cluster's
        ingest partition moved here). Without it a breach raised elsewhere stays open
        when this process sees the device recover, as it never knew of the breach."""
        with Session(self._engine) as session:
            open_now = {(a.device_id, a.rule_id) for a in session.exec(
                select(Alert).where(col(Alert.state).in_(OPEN_STATES)))}
        with self._lock:
            for device_id, rule_id in list(self.live.rules):
                self.live.set_active(device_id, rule_id, (device_id, rule_id) in open_now)
            for device_id, rule_id in open_now:
                self.live.set_active(device_id, rule_id)

    # -- rule sets (rules.rule_book) ---------------------------------------------------

    def rules_of(self, model_id: str) -> tuple[int, RuleSpecs]:
        return self.book.rules_of(model_id)

    def update_rules(self, model_id: str, specs: RuleSpecs, by: str) -> int:
        return self.book.update(model_id, specs, by)

    def reload_rules(self) -> list[str]:
        return self.book.reload()

    # -- readings -------------------------------------------------------------------

    def on_blocks(self, blocks: Sequence[ReadingBlock]) -> list[Transition]:
        """Evaluate readings given as per-model column blocks (ingest's hot path)."""
        with self._lock:
            received = self._clock()
            transitions: list[Judged] = []
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
        newer: np.ndarray = block.ts > marks[block.codes]
        return newer

    def _replay(self, late: list[tuple[str, str, int, dict[str, float]]]) -> list[Transition]:
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

    def tick(self, at_ms: int | None = None) -> None:
        """The timers: no-data rules, escalation, and now and then saving the anomaly
        detectors. Run every `TICK_S` by the `rules-timers` worker (main process)."""
        at = self._clock() if at_ms is None else at_ms
        with self._lock:
            with Session(self._engine) as session:
                rows = session.exec(select(Device.id, Device.model_id, Device.last_seen)).all()
            silent = self.live.silence(at, {d: m for d, m, _ in rows if m in self._models},
                                       {d: seen for d, _, seen in rows})
            if silent:
                self._apply([(t, False, "live") for t in silent], at)
            with session_scope(self._engine) as session:
                alert_store.escalate(session, self._models, at, self._record_notice)
            self._on_notified()
            if at - self._detectors_saved_at >= detector_state.SAVE_INTERVAL_MS:
                self.save_detectors(at)

    def save_detectors(self, at_ms: int | None = None) -> int:
        """Write the anomaly detectors that learned since the last save; returns how many."""
        assert self.live.scorer is not None and self.live.model_scorer is not None
        at = self._clock() if at_ms is None else at_ms
        self._detectors_saved_at = at
        return detector_state.save(self._engine, self.live.scorer, self.live.model_scorer, at)

    def close_down(self) -> None:
        """Save what the detectors learned (the timers' worker calls it when it stops)."""
        with self._lock:
            self.save_detectors()

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
        with self._lock, session_scope(self._engine) as session:
            return alert_store.act(session, alert_id, state, by, note, allowed, self._clock())

    # -- persisting transitions -----------------------------------------------------------

    def _apply(self, transitions: list[Judged], received: int) -> None:
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
        self._on_notified()
        if opened:
            self._on_work_orders_opened()

    def _persist(self, transitions: list[Judged], received: int) -> int:
        opened = 0
        with session_scope(self._engine) as session:
            for t, replayed, lane in sorted(transitions, key=lambda x: x[0].ts):
                if t.kind == "raise":
                    opened += alert_store.raise_alert(
                        session, t, self._models[t.model_id], replayed=replayed,
                        received=received, open_work_order=self._open_work_order,
                        record_notice=self._record_notice)
                elif not (lane == "replay" and self.live.is_active(t.device_id, t.rule.id)):
                    # While the live lane holds the alarm, it alone may end it: a
                    # backlog's recovery is older than the live breach.
                    alert_store.clear_alert(session, t, self._clock())
        return opened
