"""Settling a job at the door: the parts used come out of the engineer's van (consumed
through the stock ledger), the lines are priced by the customer's coverage, the job
is done, and the customer is sent the service report. The `settlement` row's insert
is the `work_order.settled` domain event that carries the invoice lines to the CRMs.

Two steps, one transaction: `settle` checks and books everything and returns the
report's facts; the caller renders the PDF (service_report.render), stores it (with
the work order, and as a file of the case: `attach_report`), and calls `send_report`,
so a report that could not be stored leaves nothing settled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from asset_registry.catalog import DeviceModel
from asset_registry.parts import MAX_PART_QTY, PartNeed
from asset_registry.tables import Customer, Device, Site
from notifications import recipients
from notifications.record import notify
from service import stock
from service.pricing import COVERAGES, price
from service.service_report import ReportFacts
from service.tables import Case, CaseAttachment, Engineer, JobReport, Settlement, WorkOrder
from service.work_order_notices import local_time
from service.work_orders import reached, set_status

MAX_LABOUR_MIN = 24 * 60
REPORT_FILE = "service-report.pdf"


class SettlementError(ValueError):
    """The job cannot be settled (yet); the message says why."""


def settle(session: Session, order: WorkOrder, model: DeviceModel, used: Sequence[PartNeed],
           labour_minutes: int, *, by: str, at: int, tz: ZoneInfo) -> tuple[Settlement,
                                                                           ReportFacts]:
    assert order.id is not None
    if session.get(Settlement, order.id) is not None:
        raise SettlementError(f"work order {order.id} is settled already")
    if order.engineer_id is None or not reached(order, "on_site"):
        raise SettlementError("a job is settled on site: mark it 'on_site' first")
    report = session.get(JobReport, order.id)
    if report is None or report.signed_at is None:
        raise SettlementError("the customer signs off before the job is settled")
    if isinstance(labour_minutes, bool) or not 0 <= labour_minutes <= MAX_LABOUR_MIN:
        raise SettlementError(f"labour_minutes: 0 to {MAX_LABOUR_MIN}")
    lines: list[tuple[str, int]] = []
    for i, need in enumerate(used):
        if need.part not in model.parts.parts:
            raise SettlementError(f"parts[{i}]: {need.part!r} is not a part of {model.name}")
        if not 0 < need.qty <= MAX_PART_QTY or any(p == need.part for p, _ in lines):
            raise SettlementError(f"parts[{i}]: each part once, 1 to {MAX_PART_QTY}")
        lines.append((need.part, need.qty))
    van = stock.van_id(order.engineer_id)
    _picked_up(session, order, van, lines, by, at)
    for part, qty in lines:  # from the van; a part it lacks refuses the settlement
        try:
            stock.move(session, "consume", part, qty, at=at, by=by, known_parts=None,
                       from_location=van, work_order_id=order.id, note="used on the job")
        except stock.StockError as err:
            raise SettlementError(f"{part}: {err}") from None
    stock.release_all(session, order.id, at=at, by=by, note="job settled")
    device, site, customer = _where(session, order)
    coverage = customer.coverage if customer.coverage in COVERAGES else "chargeable"
    priced = price(coverage, [(model.parts.parts[p], q) for p, q in lines], labour_minutes,
                   model.parts.labour_cents_per_hour)
    total = sum(line.total_cents for line in priced)
    settlement = Settlement(
        work_order_id=order.id, coverage=coverage,
        lines=json.dumps([line.as_dict() for line in priced]), total_cents=total,
        labour_minutes=labour_minutes, report_file=REPORT_FILE, settled_by=by, settled_at=at)
    session.add(settlement)
    if order.status != "done":
        set_status(session, order, "done", note=f"settled by {by}")
    case = session.get(Case, order.case_id)
    engineer = session.get(Engineer, order.engineer_id)
    facts = ReportFacts(
        work_order_id=order.id, title=case.title if case else "",
        customer=customer.name, site=f"{site.name}, {site.address}".strip(", "),
        device=f"{model.name}, serial {device.serial}",
        engineer=engineer.name if engineer else order.engineer_id,
        settled_on=local_time(at, tz), coverage=coverage, lines=priced, total_cents=total,
        notes=report.notes, signed_by=report.signed_by or "")
    return settlement, facts


def _picked_up(session: Session, order: WorkOrder, van: str,
               lines: Sequence[tuple[str, int]], by: str, at: int) -> None:
    """Parts the plan had picked up at a warehouse on the way (reserved there for this
    job) came along in the van: booked as a transfer before they are used."""
    assert order.id is not None
    used = dict(lines)
    for (location, part), held in sorted(stock.outstanding(session, order.id).items()):
        take = min(held, used.get(part, 0))
        if location == van or take <= 0:
            continue
        note = f"picked up for work order {order.id}"
        stock.move(session, "release", part, take, at=at, by=by, known_parts=None,
                   from_location=location, work_order_id=order.id, note=note)
        stock.move(session, "transfer", part, take, at=at, by=by, known_parts=None,
                   from_location=location, to_location=van, note=note)


def report_attachment(order: WorkOrder) -> str:
    """The report's file name among the case's files: one per work order, as a case
    can have more than one visit."""
    return f"service-report-{order.id}.pdf"


def attach_report(session: Session, order: WorkOrder, at: int) -> CaseAttachment:
    """The report becomes one of the case's files (stored by the caller under
    cases/<case id>/), so whoever reads the case later finds what was done and billed."""
    attachment = CaseAttachment(case_id=order.case_id, file_name=report_attachment(order),
                                content_type="application/pdf", uploaded_at=at)
    session.add(attachment)
    return attachment


def send_report(session: Session, order: WorkOrder, settlement: Settlement, pdf_path: str,
                at: int) -> None:
    """E-mail the stored report to the customer (sent by the delivery worker)."""
    case = session.get(Case, order.case_id)
    _device, _site, customer = _where(session, order)
    notify(session, audience="customer",
           recipient=recipients.customer(case.contact if case else "", customer.contact_email,
                                         customer.id),
           message=f"Your service report for work order {order.id}\n\n"
                   f"The visit is done. Total to pay: "
                   f"{settlement.currency} {settlement.total_cents / 100:.2f} "
                   f"({settlement.coverage.replace('_', ' ')}). The report is attached.",
           at=at, work_order_id=order.id, attachment=pdf_path)


def _where(session: Session, order: WorkOrder) -> tuple[Device, Site, Customer]:
    row = session.exec(select(Device, Site, Customer)
                       .join(Site, col(Site.id) == Device.site_id)
                       .join(Customer, col(Customer.id) == Site.customer_id)
                       .where(Device.id == order.device_id)).one()
    return row[0], row[1], row[2]
