"""Alerts with their history, the rule versions in force, and the anomaly detectors' saved state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger
from sqlmodel import Field, SQLModel

from foundations.database import unique_where

# active → acknowledged → cleared → closed. "Open" is the first two: at most one
# open alert per device and rule.
ALERT_STATES = ("active", "acknowledged", "cleared", "closed")
OPEN_STATES = ("active", "acknowledged")


# The database itself guarantees one open alert per device and rule.
ONE_OPEN_PER_RULE = unique_where("ux_alert_one_open", "device_id", "rule_id",
                                 column="state", values=OPEN_STATES)


class Alert(SQLModel, table=True):
    __table_args__ = (ONE_OPEN_PER_RULE,)
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", index=True)
    rule_id: str
    metric: str
    severity: str
    message: str
    state: str = "active"
    raised_at: int = Field(sa_type=BigInteger)
    raised_value: float
    # Raised from readings that reached the cloud late (an edge backlog after
    # an outage): the episode happened in the past, in event time.
    replayed: bool = False
    # Alerts on one device close together fold under the first: one incident.
    parent_id: int | None = Field(default=None, foreign_key="alert.id")
    acknowledged_at: int | None = Field(default=None, sa_type=BigInteger)
    acknowledged_by: str | None = None
    escalated_at: int | None = Field(default=None, sa_type=BigInteger)
    cleared_at: int | None = Field(default=None, sa_type=BigInteger)
    cleared_value: float | None = None
    closed_at: int | None = Field(default=None, sa_type=BigInteger)
    closed_by: str | None = None
    case_id: int | None = None
    # An anomaly rule's alert: what made it raise, written when it is raised.
    # {"channel": "instant" | "sustained" | "stuck" | "window", "score": 0.87,
    #  "contributions": [{"metric": "tds_ppm", "share": 0.71, "deviation": 4.2}, ...]}
    # (metrics by share of the evidence, largest first; deviation in units of the
    # metric's normal spread, null for an `anomaly` rule's one metric). Null otherwise.
    explanation: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class AlertEvent(SQLModel, table=True):
    """Who did what to an alert, and when: its audit trail."""

    __tablename__ = "alert_event"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    action: str  # raised | acknowledged | escalated | cleared | closed | comment
    by: str  # "system" or a user
    at: int = Field(sa_type=BigInteger)
    note: str = ""


class RuleSet(SQLModel, table=True):
    """A version of one device model's rules, as edited through the API.

    Version 1 is what the model file declares; the newest version is in force.
    """

    __tablename__ = "rule_set"
    model_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    rules: str  # JSON list of rule specs, in the model file's shape
    created_at: int = Field(sa_type=BigInteger)
    created_by: str


class AnomalyState(SQLModel, table=True):
    """A device metric's anomaly detector, saved so a restart does not warm up again."""

    __tablename__ = "anomaly_state"
    device_id: str = Field(primary_key=True)
    metric: str = Field(primary_key=True)
    state: str  # JSON, as the detector exports it
    updated_at: int = Field(sa_type=BigInteger)


class ModelAnomalyState(SQLModel, table=True):
    """A device model's multivariate detector (history, fit), saved across restarts."""

    __tablename__ = "model_anomaly_state"
    model_id: str = Field(primary_key=True)
    metrics: str = Field(primary_key=True)  # the metrics scored together, comma-separated
    state: str  # JSON, as the detector exports it
    updated_at: int = Field(sa_type=BigInteger)
