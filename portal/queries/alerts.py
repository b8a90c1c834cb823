"""Alerts: the inbox (read as plain rows) with whom each is assigned to, and a device's
latest alerts."""

from __future__ import annotations

from sqlmodel import Session, col, select

from portal.schemas.alerts import AlertPublic
from rules.tables import OPEN_STATES, Alert, AlertEvent
from service.alert_cases import ASSIGNED

# The inbox's columns, read as plain rows: about half the time of loading ORM entities.
_ALERT_KEYS = tuple(f for f in AlertPublic.model_fields if f != "assigned_to")
_ALERT_COLUMNS = tuple(getattr(Alert, f) for f in _ALERT_KEYS)


def list_alerts(session: Session, state: str | None = None, device_id: str | None = None,
                limit: int = 500) -> list[AlertPublic]:
    query = select(*_ALERT_COLUMNS).order_by(col(Alert.id).desc()).limit(limit)
    if state == "open":
        query = query.where(col(Alert.state).in_(OPEN_STATES))
    elif state:
        query = query.where(Alert.state == state)
    if device_id:
        query = query.where(Alert.device_id == device_id)
    alerts = [AlertPublic.model_validate(dict(zip(_ALERT_KEYS, row, strict=True)))
              for row in session.exec(query)]
    assigned = _assignees(session, [a.id for a in alerts])
    for alert in alerts:
        alert.assigned_to = assigned.get(alert.id)
    return alerts


def _assignees(session: Session, alert_ids: list[int]) -> dict[int, str]:
    """Alert id -> whom it was last assigned to (`service.alert_cases.assign`)."""
    if not alert_ids:
        return {}
    rows = session.exec(select(AlertEvent.alert_id, AlertEvent.note)
                        .where(AlertEvent.action == ASSIGNED,
                               col(AlertEvent.alert_id).in_(alert_ids))
                        .order_by(col(AlertEvent.id))).all()
    return dict(rows)  # later rows win: the latest assignment


def device_alerts(session: Session, device_id: str, limit: int = 20) -> list[Alert]:
    """The device's alerts, newest first, open or not."""
    return list(session.exec(select(Alert).where(Alert.device_id == device_id)
                             .order_by(col(Alert.id).desc()).limit(limit)))


def alert_trail(session: Session, alert_id: int) -> list[AlertEvent] | None:
    """The alert's events, oldest first; None: no such alert."""
    if session.get(Alert, alert_id) is None:
        return None
    return list(session.exec(select(AlertEvent).where(AlertEvent.alert_id == alert_id)
                             .order_by(col(AlertEvent.id))))
