"""The stock ledger: every change of a quantity is a movement (receipt, transfer,
reserve, release, consume, return), written with the summed level it changes in one
transaction. Nothing else writes `stock_level`'s quantities, so stock can be audited
(the movements) and reconciled (`reconcile`).

Rules every movement keeps: quantities are whole and positive; nothing is taken that
is not there (`on_hand` never goes below zero, and never below what is reserved);
a reservation belongs to a work order and only that order releases or consumes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from sqlmodel import Session, col, func, select

from asset_registry.parts import PartNeed
from service.replenishment import check_threshold
from service.stock_tables import MOVEMENT_KINDS, StockLevel, StockLocation, StockMovement
from service.tables import Engineer

MAX_MOVE_QTY = 10_000


class StockError(ValueError):
    """A movement the ledger refuses; the message says why."""


def van_id(engineer_id: str) -> str:
    return f"van-{engineer_id}"


def ensure_van(session: Session, engineer: Engineer) -> StockLocation:
    """The engineer's van as a stock location (made on first use)."""
    van = session.get(StockLocation, van_id(engineer.id))
    if van is None:
        van = StockLocation(id=van_id(engineer.id), kind="van", name=f"Van of {engineer.name}",
                            engineer_id=engineer.id)
        session.add(van)
        session.flush()
    return van


def location_of(session: Session, location_id: str) -> StockLocation | None:
    """A stock location; an engineer's van (`van-<engineer id>`) exists from the first
    time it is named."""
    place = session.get(StockLocation, location_id)
    if place is None and location_id.startswith("van-"):
        engineer = session.get(Engineer, location_id.removeprefix("van-"))
        if engineer is not None:
            place = ensure_van(session, engineer)
    return place


def level(session: Session, location_id: str, part: str, at: int) -> StockLevel:
    """The level row of (location, part), locked for the rest of the transaction on
    PostgreSQL so two movements of one part at one place queue up."""
    row = session.exec(select(StockLevel).where(
        StockLevel.location_id == location_id, StockLevel.part_number == part)
        .with_for_update()).first()
    if row is None:
        row = StockLevel(location_id=location_id, part_number=part, updated_at=at)
        session.add(row)
    return row


def move(session: Session, kind: str, part: str, qty: int, *, at: int, by: str,
         known_parts: Collection[str] | None, from_location: str | None = None,
         to_location: str | None = None, work_order_id: int | None = None,
         note: str = "", _thresholds: bool = True) -> StockMovement:
    """Record one movement and apply it to the levels; `StockError` if it would break
    a rule (nothing is written then). `known_parts`: the catalogue's part numbers
    (None: the part comes from a work order, which took it from the catalogue)."""
    _check(session, kind, part, qty, known_parts, from_location, to_location, work_order_id)
    # Every check before any write: a refused movement leaves no trace.
    source = None if from_location is None else level(session, from_location, part, at)
    held = 0 if work_order_id is None or from_location is None else \
        outstanding(session, work_order_id).get((from_location, part), 0)
    if source is not None:
        free = source.on_hand - source.reserved
        if kind == "release" and held < qty:
            raise StockError(f"work order {work_order_id} holds {held} of {part} at "
                             f"{from_location}, cannot release {qty}")
        # A job uses its own reservation first: that much is free to it as well.
        own = min(held, qty) if kind == "consume" else 0
        if kind in ("reserve", "transfer", "consume") and free + own < qty:
            raise StockError(f"{from_location} has {free} of {part} free (on hand "
                             f"{source.on_hand}, reserved {source.reserved}), cannot "
                             f"{kind} {qty}")
        if own:
            move(session, "release", part, own, at=at, by=by, known_parts=known_parts,
                 from_location=from_location, work_order_id=work_order_id,
                 note="used on the job", _thresholds=False)  # judged after the use
        if kind == "reserve":
            source.reserved += qty
        elif kind == "release":
            source.reserved -= qty
        else:  # transfer, consume: the part leaves
            source.on_hand -= qty
        source.updated_at = at
        session.add(source)
    if to_location is not None:
        target = level(session, to_location, part, at)
        target.on_hand += qty
        target.updated_at = at
        session.add(target)
    movement = StockMovement(kind=kind, part_number=part, qty=qty,
                             from_location=from_location, to_location=to_location,
                             work_order_id=work_order_id, at=at, by=by[:200], note=note[:500])
    session.add(movement)
    session.flush()
    for location in {from_location, to_location} - {None} if _thresholds else ():
        assert location is not None
        check_threshold(session, level(session, location, part, at), at)
    return movement


def _check(session: Session, kind: str, part: str, qty: int,
           known_parts: Collection[str] | None,
           from_location: str | None, to_location: str | None,
           work_order_id: int | None) -> None:
    if kind not in MOVEMENT_KINDS:
        raise StockError(f"kind: one of {MOVEMENT_KINDS}, got {kind!r}")
    if known_parts is not None and part not in known_parts:
        raise StockError(f"part: {part!r} is not in the parts catalogue")
    if isinstance(qty, bool) or not isinstance(qty, int) or not 0 < qty <= MAX_MOVE_QTY:
        raise StockError(f"qty: a whole number from 1 to {MAX_MOVE_QTY}, got {qty!r}")
    needs_from = kind in ("transfer", "reserve", "release", "consume")
    needs_to = kind in ("receipt", "transfer", "return")
    if needs_from != (from_location is not None) or needs_to != (to_location is not None):
        raise StockError(f"a {kind} needs " + " and ".join(
            w for w, n in (("from_location", needs_from), ("to_location", needs_to)) if n)
            + " (and no other location)")
    if kind == "transfer" and from_location == to_location:
        raise StockError("a transfer needs two different locations")
    if kind in ("reserve", "release", "consume") and work_order_id is None:
        raise StockError(f"a {kind} is for a work order: give work_order_id")
    for location in (from_location, to_location):
        if location is not None:
            place = location_of(session, location)
            if place is None:
                raise StockError(f"no stock location {location!r}")
            if kind == "receipt" and place.kind != "warehouse":
                raise StockError(f"goods are received at a warehouse, not at {location}")


def outstanding(session: Session, work_order_id: int) -> dict[tuple[str, str], int]:
    """What a work order holds reserved: (location, part) -> quantity."""
    held: dict[tuple[str, str], int] = defaultdict(int)
    for kind, location, part, qty in session.exec(
            select(StockMovement.kind, StockMovement.from_location, StockMovement.part_number,
                   func.sum(StockMovement.qty))
            .where(StockMovement.work_order_id == work_order_id,
                   col(StockMovement.kind).in_(("reserve", "release")))
            .group_by(col(StockMovement.kind), col(StockMovement.from_location),
                      col(StockMovement.part_number))).all():
        assert location is not None
        held[(location, part)] += qty if kind == "reserve" else -qty
    return {key: qty for key, qty in held.items() if qty}


def release_all(session: Session, work_order_id: int, *, at: int, by: str,
                note: str = "") -> int:
    """Give back everything a work order holds reserved (it was reassigned, left out
    of the plan, or is done); how many units were released."""
    released = 0
    for (location, part), qty in sorted(outstanding(session, work_order_id).items()):
        move(session, "release", part, qty, at=at, by=by, known_parts=None,
             from_location=location, work_order_id=work_order_id, note=note)
        released += qty
    return released


def reserve_all(session: Session, work_order_id: int, location: str, needs: Iterable[PartNeed],
                *, at: int, by: str) -> list[PartNeed]:
    """Reserve at `location` what the order needs and does not hold there yet, as far
    as stock allows; returns what could not be reserved."""
    held = outstanding(session, work_order_id)
    short = []
    for need in needs:
        missing = need.qty - held.get((location, need.part), 0)
        if missing <= 0:
            continue
        row = level(session, location, need.part, at)
        take = min(missing, row.on_hand - row.reserved)
        if take > 0:
            move(session, "reserve", need.part, take, at=at, by=by, known_parts=None,
                 from_location=location, work_order_id=work_order_id, note="planned job")
        if take < missing:
            short.append(PartNeed(need.part, missing - max(take, 0)))
    return short


def for_planning(session: Session, open_orders: Collection[int]
                 ) -> dict[str, dict[str, int]]:
    """Location -> part -> what it holds for the jobs a plan may (re)assign: on hand,
    less what jobs not in `open_orders` (under way) hold reserved there."""
    free: dict[str, dict[str, int]] = defaultdict(dict)
    for row in session.exec(select(StockLevel).where(col(StockLevel.on_hand) > 0)):
        free[row.location_id][row.part_number] = row.on_hand - row.reserved
    for kind, sign in (("reserve", 1), ("release", -1)):
        for location, part, qty in session.exec(
                select(StockMovement.from_location, StockMovement.part_number,
                       func.sum(StockMovement.qty))
                .where(StockMovement.kind == kind,
                       col(StockMovement.work_order_id).in_(open_orders))
                .group_by(col(StockMovement.from_location),
                          col(StockMovement.part_number))).all():
            if location is not None and part in free[location]:
                # Held by a job the plan decides again: free for this plan.
                free[location][part] += sign * qty
    return {loc: {p: q for p, q in parts.items() if q > 0} for loc, parts in free.items()}


def vans_for_planning(session: Session, open_orders: Collection[int]
                      ) -> dict[str, dict[str, int]]:
    """Engineer -> part -> what their van holds for this plan (`for_planning`)."""
    free = for_planning(session, open_orders)
    return {loc.engineer_id: free[loc.id] for loc in session.exec(
        select(StockLocation).where(StockLocation.kind == "van"))
        if loc.engineer_id is not None and free.get(loc.id)}


def warehouses_for_planning(session: Session, open_orders: Collection[int]
                            ) -> list[tuple[StockLocation, dict[str, int]]]:
    """Warehouses with a place on the map and stock for this plan (`for_planning`)."""
    free = for_planning(session, open_orders)
    return [(loc, free[loc.id]) for loc in session.exec(
        select(StockLocation).where(StockLocation.kind == "warehouse")
        .order_by(col(StockLocation.id)))
        if loc.lat is not None and loc.lon is not None and free.get(loc.id)]


def reconcile(session: Session) -> list[str]:
    """Every (location, part) whose level differs from the sum of its movements;
    [] when the ledger and the levels agree."""
    on_hand: dict[tuple[str, str], int] = defaultdict(int)
    reserved: dict[tuple[str, str], int] = defaultdict(int)
    for m in session.exec(select(StockMovement)).all():
        if m.to_location is not None:
            on_hand[(m.to_location, m.part_number)] += m.qty
        if m.from_location is not None:
            key = (m.from_location, m.part_number)
            if m.kind in ("transfer", "consume"):
                on_hand[key] -= m.qty
            elif m.kind == "reserve":
                reserved[key] += m.qty
            else:
                reserved[key] -= m.qty
    problems = []
    levels = {(r.location_id, r.part_number): r for r in session.exec(select(StockLevel))}
    for key in sorted(set(levels) | set(on_hand) | set(reserved)):
        row = levels.get(key)
        have = (row.on_hand, row.reserved) if row else (0, 0)
        want = (on_hand.get(key, 0), reserved.get(key, 0))
        if have != want:
            problems.append(f"{key[0]} {key[1]}: level on hand/reserved {have}, "
                            f"ledger {want}")
    return problems
