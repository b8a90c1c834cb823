"""The service report handed over at the door, as a PDF (fpdf2, pure Python): the job,
the device, the priced lines under the customer's coverage, the total, the notes and
the customer's signature. A pure function of its facts; the caller stores the bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF

from service.pricing import Line, money

COVERAGE_WORDS = {"warranty": "Warranty: parts and labour covered",
                  "service_contract": "Service contract: labour covered, parts charged",
                  "chargeable": "Chargeable: parts and labour"}


@dataclass(frozen=True, slots=True)
class ReportFacts:
    work_order_id: int
    title: str
    customer: str
    site: str
    device: str  # model name and serial
    engineer: str
    settled_on: str  # local date and time
    coverage: str
    lines: Sequence[Line]
    total_cents: int
    notes: str
    signed_by: str


def _text(value: str) -> str:
    """The PDF's core font speaks Latin-1; anything else becomes '?'."""
    return value.encode("latin-1", "replace").decode("latin-1")


def render(facts: ReportFacts, signature_png: bytes | None) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(_text(f"Service report, work order {facts.work_order_id}"))
    pdf.set_creator("FieldPulse")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _text(f"Service report - work order {facts.work_order_id}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for label, value in (("Job", facts.title), ("Customer", facts.customer),
                         ("Site", facts.site), ("Device", facts.device),
                         ("Engineer", facts.engineer), ("Completed", facts.settled_on),
                         ("Coverage", COVERAGE_WORDS.get(facts.coverage, facts.coverage))):
        pdf.cell(30, 6, _text(f"{label}:"))
        pdf.cell(0, 6, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    widths = (28, 72, 12, 30, 38)
    pdf.set_font("Helvetica", "B", 10)
    for width, head in zip(widths, ("Code", "Description", "Qty", "Unit", "Amount"),
                           strict=True):
        pdf.cell(width, 7, head, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", size=10)
    for line in facts.lines:
        amount = "covered" if line.covered else money(line.total_cents)
        for width, value in zip(widths, (line.code, line.description, str(line.qty),
                                         money(line.unit_cents), amount), strict=True):
            pdf.cell(width, 6, _text(value))
        pdf.ln()
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(sum(widths[:4]), 8, "Total to pay", border="T")
    pdf.cell(widths[4], 8, money(facts.total_cents), border="T", new_x="LMARGIN",
             new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.cell(0, 5, "Prices net of VAT.", new_x="LMARGIN", new_y="NEXT")
    if facts.notes:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(0, 6, "Engineer's notes", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 5, _text(facts.notes[:4000]))
    pdf.ln(4)
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, _text(f"Signed by the customer: {facts.signed_by}"),
             new_x="LMARGIN", new_y="NEXT")
    if signature_png:
        try:
            pdf.image(io.BytesIO(signature_png), w=60)
        except (OSError, ValueError, RuntimeError):  # stored, but not an image PIL reads
            pdf.cell(0, 6, "(the signature image on file could not be drawn)",
                     new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
