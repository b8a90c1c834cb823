"""Spare-parts stock: where parts are kept (warehouses, each engineer's van), the ledger
of every movement, the quantities it adds up to, and replenishment requests.

`stock_level` is the ledger summed per location and part, kept in the same
transaction as each movement (`service/stock.py` is the only writer) so reads need
no sum; `stock.reconcile` recomputes it from the ledger to prove they agree.
"""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

LOCATION_KINDS = ("warehouse", "van")
# receipt: goods in from a supplier; transfer: between locations; reserve / release: set
# aside for a work order, or no longer; consume: used at the customer's; return: back
# into stock (an unused part from a job, a customer's return).
MOVEMENT_KINDS = ("receipt", "transfer", "reserve", "release", "consume", "return")


class StockLocation(SQLModel, table=True):
    __tablename__ = "stock_location"
    id: str = Field(primary_key=True)  # e.g. "wh-munich", "van-<engineer id>"
    kind: str  # warehouse | van
    name: str
    engineer_id: str | None = Field(default=None, foreign_key="engineer.id", unique=True)
    lat: float | None = None  # warehouses: where a pick-up happens
    lon: float | None = None


class StockLevel(SQLModel, table=True):
    __tablename__ = "stock_level"
    location_id: str = Field(primary_key=True, foreign_key="stock_location.id")
    part_number: str = Field(primary_key=True)
    on_hand: int = 0  # physically there
    reserved: int = 0  # of on_hand, set aside for work orders
    # Low-stock threshold: below `min_qty` available a replenishment request is raised
    # for `reorder_qty` (0: no threshold).
    min_qty: int = 0
    reorder_qty: int = 0
    updated_at: int = Field(default=0, sa_type=BigInteger)


class StockMovement(SQLModel, table=True):
    """One line of the ledger; never changed or deleted once written."""

    __tablename__ = "stock_movement"
    id: int | None = Field(default=None, primary_key=True)
    kind: str
    part_number: str = Field(index=True)
    qty: int
    # receipt and return: to; transfer: from and to; reserve, release, consume: from.
    from_location: str | None = Field(default=None, foreign_key="stock_location.id",
                                      index=True)
    to_location: str | None = Field(default=None, foreign_key="stock_location.id",
                                    index=True)
    work_order_id: int | None = Field(default=None, foreign_key="work_order.id", index=True)
    at: int = Field(sa_type=BigInteger)
    by: str = ""
    note: str = ""


class ReplenishmentRequest(SQLModel, table=True):
    """Raised once when a location's available stock of a part falls below its
    threshold; fulfilled when stock is back at or above it."""

    __tablename__ = "replenishment_request"
    id: int | None = Field(default=None, primary_key=True)
    location_id: str = Field(foreign_key="stock_location.id", index=True)
    part_number: str
    qty: int
    status: str = Field(default="open", index=True)  # open | fulfilled
    raised_at: int = Field(sa_type=BigInteger)
    fulfilled_at: int | None = Field(default=None, sa_type=BigInteger)
