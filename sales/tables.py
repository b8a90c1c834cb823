"""The sales cloud's tables: opportunities, the daily usage they are forecast from,
and each site's feed water."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from foundations.database import unique_where

OPPORTUNITY_KINDS = ("consumable", "upgrade")
# open → offered → accepted (a work order exists) → won (the work order is done);
# declined by the customer; lost when it went by without an order (replaced elsewhere).
OPPORTUNITY_STATUSES = ("open", "offered", "accepted", "declined", "won", "lost")
ACTIVE_STATUSES = ("open", "offered", "accepted")


# The database itself keeps one active opportunity per device and product.
ONE_ACTIVE_PER_PRODUCT = unique_where("ux_opportunity_one_active", "device_id", "product",
                                      column="status", values=ACTIVE_STATUSES)


class Opportunity(SQLModel, table=True):
    """Something to sell a customer that the telemetry says they need now."""

    __table_args__ = (ONE_ACTIVE_PER_PRODUCT,)
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(foreign_key="device.id", index=True)
    customer_id: str = Field(foreign_key="customer.id", index=True)
    kind: str  # consumable | upgrade
    product: str
    quantity: int = 1
    # ms epoch: when the consumable runs out (or, for an upgrade, when it was raised).
    predicted_date: int = Field(sa_type=BigInteger)
    # How sure: the forecast's 10th and 90th percentile dates (None for upgrades).
    predicted_early: int | None = Field(default=None, sa_type=BigInteger)
    predicted_late: int | None = Field(default=None, sa_type=BigInteger)
    reason: str
    owner: str = Field(default="", index=True)  # the account's sales owner (e-mail)
    status: str = Field(default="open", index=True)
    created_at: int = Field(sa_type=BigInteger)
    updated_at: int = Field(sa_type=BigInteger)
    decided_by: str | None = None
    work_order_id: int | None = Field(default=None, foreign_key="work_order.id")


class ConsumableDay(SQLModel, table=True):
    """One device's usage on one UTC day, from its stored telemetry: what forecasts read
    (kept incrementally by the sales worker, never recomputed from raw readings)."""

    __tablename__ = "consumable_day"
    device_id: str = Field(primary_key=True, foreign_key="device.id")
    day: int = Field(primary_key=True, sa_type=BigInteger)  # ms epoch of 00:00 UTC
    samples: int
    litres: float = 0.0  # integrated flow
    run_hours: float = 0.0  # hours the running metric was above its threshold
    pressure: float | None = None  # mean of the filter's pressure metric
    # A new cartridge went in (its run-hours counter restarted): when, and the
    # litres from then to the day's end.
    reset_at: int | None = Field(default=None, sa_type=BigInteger)
    litres_after_reset: float = 0.0
    counter_last: float | None = None  # the counter's last reading of the day


class SiteWater(SQLModel, table=True):
    """A site's feed water (from the utility's analysis or a commissioning test)."""

    __tablename__ = "site_water"
    site_id: str = Field(primary_key=True, foreign_key="site.id")
    feed_tds_ppm: float
