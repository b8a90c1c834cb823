"""The report of a job: the engineer's parts, notes, photos, the customer's sign-off and rating.

Pure bookkeeping on the `job_report` row (created on first use); files
(photos, the signature image) are stored by the caller, which passes their
names. A signed-off report is final: nothing changes it afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlmodel import Session

from service.tables import JobReport, WorkOrder

MAX_PARTS = 200
MAX_NOTES_CHARS = 10_000
MAX_PHOTOS = 20


class ReportError(ValueError):
    """The report cannot take this change; the message says why."""


def report_of(session: Session, order: WorkOrder, at_ms: int) -> JobReport:
    assert order.id is not None
    report = session.get(JobReport, order.id)
    if report is None:
        report = JobReport(work_order_id=order.id, updated_at=at_ms)
        session.add(report)
    return report


def as_dict(report: JobReport | None) -> dict[str, Any]:
    if report is None:
        return {"parts": [], "notes": "", "photos": [], "signed_by": None, "signed_at": None,
                "rating": None, "rating_comment": ""}
    parts = [{"part": p["part"], "qty": p["qty"]} for p in json.loads(report.parts)]
    return {"parts": parts, "notes": report.notes,
            "photos": json.loads(report.photos), "signed_by": report.signed_by,
            "signed_at": report.signed_at, "rating": report.rating,
            "rating_comment": report.rating_comment}


def _editable(report: JobReport) -> None:
    if report.signed_at is not None:
        raise ReportError(f"the report of work order {report.work_order_id} is signed off "
                          f"by {report.signed_by}; it cannot change")


def add_parts(session: Session, order: WorkOrder, parts: list[dict[str, Any]],
              at_ms: int, entry: str | None = None) -> tuple[JobReport, bool]:
    """Append part lines; returns (report, added). With `entry` (the phone's outbox
    entry id) a replay of lines already added adds nothing (added is False)."""
    report = report_of(session, order, at_ms)
    current = json.loads(report.parts)
    if entry is not None and any(line.get("entry") == entry for line in current):
        return report, False
    _editable(report)
    for i, part in enumerate(parts):
        name, qty = str(part.get("part", "")).strip(), part.get("qty", 1)
        if not name:
            raise ReportError(f"parts[{i}].part: name the part")
        if not isinstance(qty, int) or isinstance(qty, bool) or not 0 < qty <= 1000:
            raise ReportError(f"parts[{i}].qty: a whole number from 1 to 1000")
        current.append({"part": name[:200], "qty": qty} | ({"entry": entry} if entry else {}))
    if len(current) > MAX_PARTS:
        raise ReportError(f"parts: at most {MAX_PARTS} lines per job")
    report.parts, report.updated_at = json.dumps(current), at_ms
    session.add(report)
    return report, True


def set_notes(session: Session, order: WorkOrder, notes: str, at_ms: int) -> JobReport:
    if len(notes) > MAX_NOTES_CHARS:
        raise ReportError(f"notes: at most {MAX_NOTES_CHARS} characters")
    report = report_of(session, order, at_ms)
    _editable(report)
    report.notes, report.updated_at = notes, at_ms
    session.add(report)
    return report


def check_new_photo(report: JobReport | None) -> None:
    """Whether the report can take one more photo: checked before its file is written
    (a final report, or one with `MAX_PHOTOS`, takes none)."""
    if report is None:
        return
    _editable(report)
    if len(json.loads(report.photos)) >= MAX_PHOTOS:
        raise ReportError(f"photos: at most {MAX_PHOTOS} per job")


def add_photo(session: Session, order: WorkOrder, file_name: str, at_ms: int) -> JobReport:
    report = report_of(session, order, at_ms)
    photos = json.loads(report.photos)
    if file_name in photos:  # a replayed upload that raced past the caller's check
        return report
    check_new_photo(report)
    photos.append(file_name)
    report.photos, report.updated_at = json.dumps(photos), at_ms
    session.add(report)
    return report


def has_photo(report: JobReport | None, stem: str) -> bool:
    """Whether the report holds a photo stored as `stem` (with any suffix): an upload
    sent again under the same name."""
    return report is not None and any(Path(p).stem == stem for p in json.loads(report.photos))


def signed_with(report: JobReport | None, signature_file: str) -> bool:
    """Whether the report is signed off with this very signature: a sign-off sent again."""
    return (report is not None and report.signed_at is not None
            and report.signature == signature_file)


def check_sign_off(order: WorkOrder, report: JobReport | None = None) -> None:
    """Whether the customer can sign now (checked before the signature's file is
    written): on site, and not signed off already."""
    if order.status not in ("on_site", "done"):
        raise ReportError("the customer signs off on site: mark the job 'on_site' first")
    if report is not None:
        _editable(report)


def sign_off(session: Session, order: WorkOrder, signed_by: str, signature_file: str,
             at_ms: int) -> JobReport:
    if not signed_by.strip():
        raise ReportError("signed_by: the name of the person signing")
    report = report_of(session, order, at_ms)
    check_sign_off(order, report)
    report.signed_by, report.signature = signed_by.strip()[:200], signature_file
    report.signed_at = report.updated_at = at_ms
    session.add(report)
    return report


def rate_visit(session: Session, order: WorkOrder, stars: int, comment: str,
               at_ms: int) -> JobReport:
    """The customer's rating of a finished visit, once."""
    if order.status != "done":
        raise ReportError("a visit can be rated once it is done")
    if not 1 <= stars <= 5:
        raise ReportError("rating: 1 to 5 stars")
    report = report_of(session, order, at_ms)
    if report.rated_at is not None:
        raise ReportError("this visit is rated already — thank you")
    report.rating, report.rating_comment = stars, comment.strip()[:2000]
    report.rated_at = report.updated_at = at_ms
    session.add(report)
    return report
