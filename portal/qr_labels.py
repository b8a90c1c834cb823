"""Printable QR label sheets: A4 pages of 3 x 8 labels (70 x 37 mm), one SVG per page.

Each label carries the device's QR code (its customer page URL, with the
device's token), the serial number, the model and a one-line call to action,
so a technician can stick it on the device and a customer can scan it. The
sheet is plain SVG in millimetres: browsers print it at scale, and nothing is
loaded from elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import segno

from portal.qr_codes import customer_url

PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
COLUMNS, ROWS = 3, 8
LABEL_W, LABEL_H = 70.0, 37.0
TOP = (PAGE_H - ROWS * LABEL_H) / 2  # the sheet's unprintable margin, centred
QR_MM = 29.0
PAD = 4.0
CALL_TO_ACTION = "Scan to report a fault"


@dataclass(frozen=True, slots=True)
class Label:
    token: str
    serial: str
    model: str


def _qr(url: str, x: float, y: float) -> str:
    qr = segno.make(url, error="m")
    modules = qr.symbol_size(scale=1, border=0)[0]
    # segno's path is in module units; a nested viewport scales it to QR_MM.
    path = qr.svg_inline(scale=1, border=0)
    inner = path[path.index(">") + 1:path.rindex("</svg>")]
    return (f'<svg x="{x:.2f}" y="{y:.2f}" width="{QR_MM}" height="{QR_MM}" '
            f'viewBox="0 0 {modules} {modules}">{inner}</svg>')


def _label(label: Label, base_url: str, x: float, y: float) -> str:
    text_x = x + PAD + QR_MM + 3
    lines = [(label.serial, 3.6, "bold"), (label.model, 2.8, "normal"),
             (CALL_TO_ACTION, 2.6, "normal")]
    texts = "".join(
        f'<text x="{text_x:.2f}" y="{y + PAD + 8 + i * 6:.2f}" font-size="{size}" '
        f'font-weight="{weight}" font-family="sans-serif">{escape(value)}</text>'
        for i, (value, size, weight) in enumerate(lines))
    return (f'<g class="label"><rect x="{x:.2f}" y="{y:.2f}" width="{LABEL_W}" '
            f'height="{LABEL_H}" fill="none" stroke="#ccc" stroke-width="0.2"/>'
            f'{_qr(customer_url(base_url, label.token), x + PAD, y + (LABEL_H - QR_MM) / 2)}'
            f"{texts}</g>")


def label_sheets(labels: Sequence[Label], base_url: str) -> list[str]:
    """One SVG document per A4 page, labels filled row by row."""
    per_page = COLUMNS * ROWS
    pages = []
    for start in range(0, len(labels), per_page):
        body = []
        for i, label in enumerate(labels[start:start + per_page]):
            row, column = divmod(i, COLUMNS)
            body.append(_label(label, base_url, column * LABEL_W, TOP + row * LABEL_H))
        pages.append(
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_W}mm" height="{PAGE_H}mm" '
            f'viewBox="0 0 {PAGE_W} {PAGE_H}">{"".join(body)}</svg>')
    return pages
