"""Alerts in the database: raising, folding, clearing, escalating, and what people do
to them. Every change writes its `AlertEvent` (the alert's trail) in the same
transaction; the notifications an alert calls for are recorded there too, through the
recorder the rules service was given.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlmodel import Session, col, select

from asset_registry.catalog import DeviceModel, severity_rank
from asset_registry.tables import Device
from rules.actions import (
    AUDIENCES,
    OPEN_WORK_ORDER,
    AlertNotice,
    OpenWorkOrder,
    RecordNotice,
    work_order_request,
)
from rules.engine import Transition
from rules.errors import AlertError
from rules.tables import OPEN_STATES, Alert, AlertEvent

log = logging.getLogger("fieldpulse.rules")

# Alerts on one device raised within this window of an open incident fold under it.
FOLD_WINDOW_MS = 30 * 60 * 1000


def open_alert(session: Session, device_id: str, rule_id: str) -> Alert | None:
    return session.exec(select(Alert).where(
        Alert.device_id == device_id, Alert.rule_id == rule_id,
        col(Alert.state).in_(OPEN_STATES))).first()


def raise_alert(session: Session, t: Transition, model: DeviceModel, *, replayed: bool,
                received: int, open_work_order: OpenWorkOrder,
                record_notice: RecordNotice) -> int:
    """Record a raise and run its actions; returns the work orders opened (0 or 1)."""
    if open_alert(session, t.device_id, t.rule.id) is not None:
        return 0  # the same episode seen through the other lane
    parent = session.exec(
        select(Alert).where(Alert.device_id == t.device_id, col(Alert.parent_id).is_(None),
                            col(Alert.state).in_(OPEN_STATES),
                            Alert.raised_at >= t.ts - FOLD_WINDOW_MS)
        .order_by(col(Alert.raised_at).desc())).first()
    alert = Alert(device_id=t.device_id, rule_id=t.rule.id, metric=t.rule.metric or "",
                  severity=t.rule.severity, message=t.rule.message, raised_at=t.ts,
                  raised_value=t.value, replayed=replayed,
                  parent_id=parent.id if parent else None,
                  explanation=dict(t.explanation) if t.explanation is not None else None)
    session.add(alert)
    session.flush()
    assert alert.id is not None
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
            record_notice(session, AlertNotice(
                alert.id, alert.device_id, AUDIENCES[action],
                f"[{alert.severity}] {alert.device_id}: {alert.message}", alert.raised_at))
        elif action == OPEN_WORK_ORDER and not (parent and parent.case_id):
            alert.case_id = open_work_order(session, work_order_request(
                model, device_id=t.device_id, alert_id=alert.id, message=t.rule.message,
                severity=t.rule.severity, rule_id=t.rule.id,
                description=f"Alert {alert.id}: {t.rule.id} ({t.rule.condition}) at "
                            f"{t.value:g}"))
            opened += 1
    return opened


def clear_alert(session: Session, t: Transition, at: int) -> None:
    alert = open_alert(session, t.device_id, t.rule.id)
    if alert is None or t.ts < alert.raised_at:
        return  # nothing open, or a clear from before this episode began
    alert.state, alert.cleared_at = "cleared", t.ts
    alert.cleared_value = None if t.value != t.value else t.value  # NaN: no reading
    session.add(alert)
    assert alert.id is not None
    session.add(AlertEvent(alert_id=alert.id, action="cleared", by="system", at=at))
    log.info("alert %s cleared: %s %s", alert.id, t.device_id, t.rule.id)


def escalate(session: Session, models: Mapping[str, DeviceModel], at: int,
             record_notice: RecordNotice) -> None:
    """Escalate to the supervisor every incident left unacknowledged past its model's
    `escalate_after_min` (from `escalate_from` severity up)."""
    pending = session.exec(
        select(Alert, Device.model_id).join(Device, col(Device.id) == Alert.device_id)
        .where(Alert.state == "active", col(Alert.escalated_at).is_(None),
               col(Alert.parent_id).is_(None))).all()
    for alert, model_id in pending:
        model = models.get(model_id)
        if model is None or model.escalate_after_min is None:
            continue
        if severity_rank(alert.severity) < severity_rank(model.escalate_from):
            continue
        if at - alert.raised_at < model.escalate_after_min * 60_000:
            continue
        assert alert.id is not None
        alert.escalated_at = at
        session.add(alert)
        session.add(AlertEvent(alert_id=alert.id, action="escalated", by="system", at=at,
                               note=f"unacknowledged for {model.escalate_after_min:g} min"))
        assert alert.id is not None
        record_notice(session, AlertNotice(
            alert.id, alert.device_id, "supervisor",
            f"[escalated] [{alert.severity}] {alert.device_id}: {alert.message} "
            f"— unacknowledged for {model.escalate_after_min:g} min", at))
        log.info("alert %s escalated", alert.id)


def act(session: Session, alert_id: int, state: str | None, by: str, note: str,
        allowed: tuple[str, ...], at: int) -> Alert:
    """A person moves an alert to `state` (None: a comment), if it is in `allowed`."""
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
