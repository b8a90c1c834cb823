"""Reads of the parts catalogue and of stock for the API and the console."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, col, select

from asset_registry.catalog import DeviceModel, all_parts
from portal.schemas.stock import (
    LevelPublic,
    ModelPartsPublic,
    PartNeedPublic,
    PartPublic,
    PartsCatalogue,
)
from service.stock_tables import ReplenishmentRequest, StockLevel, StockMovement


def catalogue(models: Mapping[str, DeviceModel]) -> PartsCatalogue:
    users: dict[str, list[str]] = {}
    for model in models.values():
        for number in model.parts.parts:
            users.setdefault(number, []).append(model.id)
    return PartsCatalogue(
        parts=[PartPublic(number=p.number, name=p.name, price_cents=p.price_cents,
                          consumable=p.consumable, model_ids=sorted(users[p.number]))
               for p in sorted(all_parts(models).values(), key=lambda p: p.number)],
        models=[ModelPartsPublic(
            model_id=m.id, labour_cents_per_hour=m.parts.labour_cents_per_hour,
            needs={key: [PartNeedPublic(part=n.part, qty=n.qty) for n in needs]
                   for key, needs in m.parts.needs.items()})
            for m in sorted(models.values(), key=lambda m: m.id)])


def levels(session: Session, models: Mapping[str, DeviceModel], location: str | None,
           part: str | None = None, low_only: bool = False, keep_empty: bool = False
           ) -> list[LevelPublic]:
    names = {n: p.name for n, p in all_parts(models).items()}
    query = select(StockLevel).order_by(col(StockLevel.location_id),
                                        col(StockLevel.part_number))
    if location is not None:
        query = query.where(StockLevel.location_id == location)
    if part is not None:
        query = query.where(StockLevel.part_number == part)
    out = []
    for row in session.exec(query):
        available = row.on_hand - row.reserved
        low = row.min_qty > 0 and available < row.min_qty
        if (keep_empty or row.on_hand or row.reserved or row.min_qty) \
                and (low or not low_only):
            out.append(LevelPublic(
                location_id=row.location_id, part_number=row.part_number,
                part_name=names.get(row.part_number, row.part_number), on_hand=row.on_hand,
                reserved=row.reserved, available=available, min_qty=row.min_qty,
                reorder_qty=row.reorder_qty, low=low))
    return out


def movements(session: Session, *, location: str | None, part: str | None,
              work_order_id: int | None, kind: str | None, before_id: int | None,
              limit: int) -> list[StockMovement]:
    """Newest first; `before_id` pages back through the ledger."""
    query = select(StockMovement).order_by(col(StockMovement.id).desc()).limit(limit)
    if location is not None:
        query = query.where((col(StockMovement.from_location) == location)
                            | (col(StockMovement.to_location) == location))
    if part is not None:
        query = query.where(StockMovement.part_number == part)
    if work_order_id is not None:
        query = query.where(StockMovement.work_order_id == work_order_id)
    if kind is not None:
        query = query.where(StockMovement.kind == kind)
    if before_id is not None:
        query = query.where(col(StockMovement.id) < before_id)
    return list(session.exec(query))


def replenishment(session: Session, status: str | None) -> list[ReplenishmentRequest]:
    query = select(ReplenishmentRequest).order_by(col(ReplenishmentRequest.id).desc())
    if status is not None:
        query = query.where(ReplenishmentRequest.status == status)
    return list(session.exec(query.limit(1000)))
