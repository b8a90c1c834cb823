"""Low-stock thresholds per location and part, and the replenishment requests they raise:
one open request per (location, part) while its available stock is below the
threshold, fulfilled once stock is back."""

from __future__ import annotations

from sqlmodel import Session, select

from service.stock_tables import ReplenishmentRequest, StockLevel


class ThresholdError(ValueError):
    """A threshold that cannot be set; the message says why."""


def set_threshold(session: Session, row: StockLevel, min_qty: int, reorder_qty: int,
                  at: int) -> None:
    """Set (or with 0 clear) a location's low-stock threshold for a part."""
    for name, value in (("min_qty", min_qty), ("reorder_qty", reorder_qty)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
            raise ThresholdError(f"{name}: a whole number from 0 to 10000, got {value!r}")
    if min_qty and reorder_qty < 1:
        raise ThresholdError("reorder_qty: at least 1 with a min_qty")
    row.min_qty, row.reorder_qty, row.updated_at = min_qty, reorder_qty, at
    session.add(row)
    check_threshold(session, row, at)


def check_threshold(session: Session, row: StockLevel, at: int) -> ReplenishmentRequest | None:
    """Raise or fulfil the replenishment request of `row` as its stock now stands;
    the open request, if any."""
    request = session.exec(select(ReplenishmentRequest).where(
        ReplenishmentRequest.location_id == row.location_id,
        ReplenishmentRequest.part_number == row.part_number,
        ReplenishmentRequest.status == "open")).first()
    available = row.on_hand - row.reserved
    low = row.min_qty > 0 and available < row.min_qty
    if low and request is None:
        request = ReplenishmentRequest(
            location_id=row.location_id, part_number=row.part_number,
            qty=max(row.reorder_qty, row.min_qty - available), raised_at=at)
        session.add(request)
    elif not low and request is not None:
        request.status, request.fulfilled_at = "fulfilled", at
        session.add(request)
        request = None
    return request
