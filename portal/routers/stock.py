"""The parts catalogue and stock: `GET /api/parts`; locations, quantities per location,
the movement ledger, goods in / transfers / returns, low-stock thresholds and
replenishment requests (`service.stock`). Engineers see their own van's stock."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Query
from sqlmodel import col, select

from asset_registry.catalog import all_parts
from foundations.clock import now_ms
from foundations.database import session_scope
from portal.auth.audit import record
from portal.auth.dependencies import AnyRole, GuardedRoute, Staff
from portal.context import ContextDep, SessionDep
from portal.queries import stock as queries
from portal.schemas.stock import (
    LevelPublic,
    LocationPublic,
    MovementNew,
    MovementPublic,
    PartsCatalogue,
    ReplenishmentPublic,
    ThresholdNew,
    WarehouseNew,
)
from service import stock
from service.replenishment import ThresholdError, set_threshold
from service.stock_tables import MOVEMENT_KINDS, StockLocation

router = APIRouter(route_class=GuardedRoute, tags=["parts and stock"])
Kind = Literal["receipt", "transfer", "reserve", "release", "consume", "return"]
assert set(Kind.__args__) == set(MOVEMENT_KINDS)  # type: ignore[attr-defined]


@router.get("/api/parts")
def parts(ctx: ContextDep, _principal: AnyRole) -> PartsCatalogue:
    """Every part of every device model, and what each rule, plan and fault needs."""
    return queries.catalogue(ctx.models)


@router.get("/api/stock/locations")
def locations(session: SessionDep, _principal: Staff) -> list[LocationPublic]:
    """Warehouses, and the vans that have held stock."""
    return [LocationPublic.model_validate(loc) for loc in session.exec(
        select(StockLocation).order_by(col(StockLocation.kind).desc(),
                                       col(StockLocation.id)))]


@router.post("/api/stock/locations", status_code=201)
def new_warehouse(body: WarehouseNew, ctx: ContextDep, principal: Staff) -> LocationPublic:
    with session_scope(ctx.engine) as session:
        if session.get(StockLocation, body.id) is not None or body.id.startswith("van-"):
            raise HTTPException(409, f"stock location '{body.id}' exists or is a van's name")
        place = StockLocation(id=body.id, kind="warehouse", name=body.name, lat=body.lat,
                              lon=body.lon)
        session.add(place)
        record(session, principal.actor, "stock.warehouse", f"stock_location:{body.id}",
               body.name)
        session.flush()
        return LocationPublic.model_validate(place)


@router.get("/api/stock")
def stock_levels(session: SessionDep, ctx: ContextDep, principal: AnyRole,
                 location: str | None = Query(None, max_length=64),
                 part: str | None = Query(None, max_length=64),
                 low: bool = Query(False, description="only levels below their threshold"),
                 ) -> list[LevelPublic]:
    """Quantities per location and part: on hand, reserved for jobs, available.
    Engineers: their own van only (`location=van-<their id>`)."""
    if principal.role == "engineer" and location != stock.van_id(principal.engineer_id or ""):
        raise HTTPException(403, f"'{principal.username}' may only see their own van: "
                                 f"location={stock.van_id(principal.engineer_id or '')}")
    if location is not None and stock.location_of(session, location) is None:
        raise HTTPException(404, f"no stock location '{location}'")
    return queries.levels(session, ctx.models, location, part, low)


@router.get("/api/stock/movements")
def movements(session: SessionDep, _principal: Staff,
              location: str | None = Query(None, max_length=64),
              part: str | None = Query(None, max_length=64),
              work_order_id: int | None = Query(None, ge=1, le=2**63 - 1),
              kind: Kind | None = None,
              before_id: int | None = Query(None, ge=1, le=2**63 - 1),
              limit: int = Query(200, ge=1, le=5000)) -> list[MovementPublic]:
    """The ledger, newest first; `before_id` pages back."""
    return [MovementPublic.model_validate(m) for m in queries.movements(
        session, location=location, part=part, work_order_id=work_order_id, kind=kind,
        before_id=before_id, limit=limit)]


@router.post("/api/stock/movements", status_code=201)
def new_movement(body: MovementNew, ctx: ContextDep, principal: Staff) -> MovementPublic:
    """Goods in at a warehouse, a transfer (e.g. a van's restock), a part returned."""
    with session_scope(ctx.engine) as session:
        try:
            movement = stock.move(
                session, body.kind, body.part, body.qty, at=now_ms(), by=principal.actor,
                known_parts=all_parts(ctx.models), from_location=body.from_location,
                to_location=body.to_location, work_order_id=body.work_order_id,
                note=body.note)
        except stock.StockError as err:
            raise HTTPException(409, str(err)) from None
        record(session, principal.actor, f"stock.{body.kind}", f"part:{body.part}",
               f"{body.qty} {body.from_location or ''}->{body.to_location or ''}")
        session.flush()
        return MovementPublic.model_validate(movement)


@router.put("/api/stock/thresholds")
def threshold(body: ThresholdNew, ctx: ContextDep, session: SessionDep, principal: Staff
              ) -> LevelPublic:
    """A location's low-stock threshold for a part (min_qty 0 clears it)."""
    if body.part not in all_parts(ctx.models):
        raise HTTPException(422, f"part: {body.part!r} is not in the parts catalogue")
    with session_scope(ctx.engine) as write:
        if stock.location_of(write, body.location_id) is None:
            raise HTTPException(404, f"no stock location '{body.location_id}'")
        try:
            set_threshold(write, stock.level(write, body.location_id, body.part, now_ms()),
                          body.min_qty, body.reorder_qty, now_ms())
        except ThresholdError as err:
            raise HTTPException(422, str(err)) from None
        record(write, principal.actor, "stock.threshold", f"part:{body.part}",
               f"{body.location_id} min {body.min_qty} reorder {body.reorder_qty}")
    return queries.levels(session, ctx.models, body.location_id, body.part,
                          keep_empty=True)[0]


@router.get("/api/stock/replenishment")
def replenishment(session: SessionDep, _principal: Staff,
                  status: Literal["open", "fulfilled"] | None = None,
                  ) -> list[ReplenishmentPublic]:
    """Requests raised by low stock, newest first."""
    return [ReplenishmentPublic.model_validate(r) for r in queries.replenishment(session,
                                                                              status)]
