"""Alerts and the notifications their actions recorded."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, text
from sqlmodel import Field, SQLModel


class Alert(SQLModel, table=True):
    __table_args__ = (
        # The database itself guarantees one open alert per device and rule.
        Index(
            "ux_alert_one_active", "device_id", "rule_id", unique=True,
            sqlite_where=text("state = 'active'"), postgresql_where=text("state = 'active'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", index=True)
    rule_id: str
    metric: str
    severity: str
    message: str
    state: str = "active"  # active | cleared
    raised_at: int = Field(sa_type=BigInteger)
    raised_value: float
    cleared_at: int | None = Field(default=None, sa_type=BigInteger)
    cleared_value: float | None = None
    case_id: int | None = None


class Notification(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    audience: str  # owner | supervisor | customer
    recipient: str
    message: str
    created_at: int = Field(sa_type=BigInteger)
