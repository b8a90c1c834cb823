"""A customer's fault report from the device's QR page: a case with one work order,
the arrival window they chose (one the plan can keep), and their photos.

The photos' files are stored by the caller, which passes their names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from asset_registry.catalog import DeviceModel
from asset_registry.fault_categories import FAULT_CATEGORIES as FAULT_CATEGORIES
from service.cases import open_case
from service.tables import Case, CaseAttachment, WorkOrder, WorkOrderEvent

SOURCE = "customer"
PRIORITY = 3
MAX_PHOTOS = 3
# The arrival windows offered on the page are this long.
WINDOW_MS = 2 * 3600 * 1000
# The timeline event of a window chosen with the report (the customer is sent it).
BOOKED = "booked"


class FaultReportError(ValueError):
    """The report cannot be taken as it is; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Photo:
    file_name: str
    content_type: str


def check_category(category: str) -> None:
    if category not in FAULT_CATEGORIES:
        raise FaultReportError(f"category must be one of {FAULT_CATEGORIES}")


def check_photo_count(count: int) -> None:
    if count > MAX_PHOTOS:
        raise FaultReportError(f"photos: at most {MAX_PHOTOS}")


def check_window(start: int, end: int, now_ms: int, horizon_ms: int) -> tuple[int, int]:
    """A window the page can have offered: `WINDOW_MS` long, starting between now and
    the end of the dispatcher's planning horizon."""
    if end - start != WINDOW_MS or not now_ms <= start <= now_ms + horizon_ms:
        raise FaultReportError("window: pick one of the windows offered on the page")
    return start, end


TITLE = "Customer report: "


def category_of(case: Case) -> str | None:
    """The fault category a customer's report named (None: not a customer's report)."""
    if case.source != SOURCE or not case.title.startswith(TITLE):
        return None
    return case.title.removeprefix(TITLE)


def report_fault(session: Session, *, device_id: str, model: DeviceModel, category: str,
                 description: str, contact: str, window: tuple[int, int] | None,
                 photos: Sequence[Photo], at: int) -> tuple[Case, WorkOrder]:
    """Open the case with one work order for the device model's service; the window
    (checked with `check_window`) becomes the order's promised window."""
    check_category(category)
    check_photo_count(len(photos))
    case, order = open_case(
        session, device_id=device_id, source=SOURCE, title=f"{TITLE}{category}",
        description=description, contact=contact, skill=model.service_skill,
        duration_min=model.service_minutes, priority=PRIORITY, at=at,
        parts_needed=model.parts.needed_for("fault", category))
    if window is not None:
        order.window_start, order.window_end = window
        session.add(order)
        assert order.id is not None
        # On the timeline, and the customer gets a confirmation (work_order_notices).
        session.add(WorkOrderEvent(work_order_id=order.id, status=BOOKED, at=at,
                                   note="arrival window booked"))
    assert case.id is not None
    for photo in photos:
        session.add(CaseAttachment(case_id=case.id, file_name=photo.file_name,
                                   content_type=photo.content_type, uploaded_at=at))
    return case, order
