"""The dispatch board's read model: each engineer's day from the plan in force (their
shift, their jobs as blocks from the ETA for the job's duration, the drive to each
from home or the previous stop), and the open jobs no plan placed, with the plan's
reason. Drives are the solver's own estimate (`dispatch.travel.great_circle_seconds`);
a plan that waits for a window shows the wait as the gap after the drive."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from asset_registry.tables import Customer, Device, Site
from dispatch.problem import Location
from dispatch.tables import DispatchPlan
from dispatch.travel import great_circle_seconds
from portal.queries.work_orders import ROUTED
from service.tables import OPEN_STATUSES, Case, Engineer, WorkOrder

HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Block:
    work_order_id: int
    title: str
    serial: str
    customer: str
    site: str
    status: str
    start: int  # ms epoch: the plan's arrival
    end: int  # start + the job's duration
    drive_from: int  # ms epoch: when the drive to it starts (start - drive)
    drive_min: int
    pinned: bool
    movable: bool  # still open to re-planning (not en route or on site)


@dataclass(slots=True)
class Row:
    engineer_id: str
    name: str
    skills: list[str]
    shift_start: int  # ms epoch, the shift on the board's day
    shift_end: int
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Waiting:
    work_order_id: int
    title: str
    serial: str
    customer: str
    skill: str
    priority: int
    reason: str
    pinned_engineer_id: str | None


@dataclass(frozen=True, slots=True)
class Board:
    day_start: int  # ms epoch: the timeline's first hour
    day_end: int  # and its end (whole hours)
    plan_id: int | None  # the plan in force
    plan_at: int | None
    rows: list[Row]
    unassigned: list[Waiting]


def _shift_on(day: datetime, start: str, end: str) -> tuple[int, int]:
    """An engineer's shift on `day` (local midnight), ms epoch; a night shift ends the
    next day."""
    (sh, sm), (eh, em) = (map(int, start.split(":")), map(int, end.split(":")))
    begins = day + timedelta(hours=sh, minutes=sm)
    ends = day + timedelta(hours=eh, minutes=em)
    if ends <= begins:
        ends += timedelta(days=1)
    return int(begins.timestamp() * 1000), int(ends.timestamp() * 1000)


def dispatch_board(session: Session, tz: ZoneInfo, now_ms: int) -> Board:
    found = session.exec(
        select(WorkOrder, Case, Device, Site)
        .join(Case, col(Case.id) == WorkOrder.case_id)
        .join(Device, col(Device.id) == WorkOrder.device_id)
        .join(Site, col(Site.id) == Device.site_id)
        .where(col(WorkOrder.status).in_((*OPEN_STATUSES, *ROUTED)))
        .order_by(col(WorkOrder.engineer_id), col(WorkOrder.eta), col(WorkOrder.route_seq),
                  col(WorkOrder.id))).all()
    customers = {c.id: c.name for c in session.exec(
        select(Customer).where(col(Customer.id).in_({site.customer_id for *_, site in found})))}
    rows = [(order, case, device, site, customers.get(site.customer_id, ""))
            for order, case, device, site in found]
    routed = [r for r in rows if r[0].engineer_id and r[0].eta is not None
              and r[0].status in ROUTED]
    # The board's day: that of the first planned arrival (after the shifts' end the
    # plan is tomorrow's), else today.
    first = min((r[0].eta for r in routed if r[0].eta is not None), default=now_ms)
    day = datetime.fromtimestamp(first / 1000, tz).replace(hour=0, minute=0, second=0,
                                                           microsecond=0)
    engineers = session.exec(select(Engineer).order_by(col(Engineer.name))).all()
    board_rows = {e.id: Row(e.id, e.name, sorted(e.skill_set()),
                            *_shift_on(day, e.shift_start, e.shift_end)) for e in engineers}
    homes = {e.id: Location(e.home_lat, e.home_lon) for e in engineers}
    last_at: dict[str, Location] = {}
    for order, case, device, site, customer in routed:
        assert order.id is not None and order.eta is not None and order.engineer_id
        row = board_rows.get(order.engineer_id)
        if row is None:
            continue
        here = Location(site.lat, site.lon)
        drive_s = great_circle_seconds(last_at.get(order.engineer_id, homes[row.engineer_id]),
                                       here)
        last_at[order.engineer_id] = here
        row.blocks.append(Block(
            work_order_id=order.id, title=case.title, serial=device.serial,
            customer=customer, site=site.name, status=order.status, start=order.eta,
            end=order.eta + order.duration_min * 60_000, drive_from=order.eta - drive_s * 1000,
            drive_min=round(drive_s / 60),
            pinned=order.pinned_engineer_id is not None or order.pinned_start is not None,
            movable=order.status in OPEN_STATUSES))
    waiting = [Waiting(order.id, case.title, device.serial, customer, order.skill,
                       order.priority, order.unassigned_reason or "not planned yet",
                       order.pinned_engineer_id)
               for order, case, device, site, customer in rows
               if order.id is not None and order.status == "new"]
    all_rows = list(board_rows.values())
    starts = [r.shift_start for r in all_rows] + [b.drive_from for r in all_rows
                                                   for b in r.blocks]
    ends = [r.shift_end for r in all_rows] + [b.end for r in all_rows for b in r.blocks]
    midnight = int(day.timestamp() * 1000)
    day_start = min(starts, default=midnight)
    day_end = max(ends, default=midnight + 24 * HOUR_MS)
    day_start -= day_start % HOUR_MS
    day_end += -day_end % HOUR_MS
    plan = session.exec(select(DispatchPlan).order_by(col(DispatchPlan.id).desc())).first()
    return Board(day_start=day_start, day_end=day_end,
                 plan_id=plan.id if plan else None, plan_at=plan.created_at if plan else None,
                 rows=all_rows, unassigned=waiting)
