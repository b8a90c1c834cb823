"""Printable QR label sheets: pages, positions and what each label encodes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import segno

from portal.qr_codes import customer_url
from portal.qr_labels import COLUMNS, LABEL_H, LABEL_W, PAGE_H, PAGE_W, ROWS, Label, label_sheets

SVG = "{http://www.w3.org/2000/svg}"
BASE = "https://fieldpulse.example"


def _labels(n: int) -> list[Label]:
    return [Label(f"tok{i:03d}secret", f"SN-{i:05d}", "AquaPure RO-500 <&>") for i in range(n)]


def test_labels_fill_a4_pages_of_three_by_eight() -> None:
    pages = label_sheets(_labels(30), BASE)
    assert len(pages) == 2
    counts = []
    for page in pages:
        root = ET.fromstring(page)
        assert (root.get("width"), root.get("height")) == (f"{PAGE_W}mm", f"{PAGE_H}mm")
        groups = root.findall(f"{SVG}g")
        counts.append(len(groups))
        for g in groups:
            rect = g.find(f"{SVG}rect")
            x, y = float(rect.get("x")), float(rect.get("y"))
            assert x >= 0 and x + LABEL_W <= PAGE_W + 1e-6
            assert y >= 0 and y + LABEL_H <= PAGE_H + 1e-6
    assert counts == [COLUMNS * ROWS, 30 - COLUMNS * ROWS]
    assert label_sheets([], BASE) == []


def test_each_label_encodes_its_own_device_page_and_names_the_device() -> None:
    labels = _labels(3)
    root = ET.fromstring(label_sheets(labels, BASE)[0])
    for label, g in zip(labels, root.findall(f"{SVG}g"), strict=True):
        texts = [t.text for t in g.findall(f"{SVG}text")]
        assert texts[:2] == [label.serial, label.model]  # escaped in the file, intact here
        path = g.find(f"{SVG}svg/{SVG}path").get("d")
        expected = segno.make(customer_url(BASE, label.token), error="m").svg_inline(
            scale=1, border=0)
        assert f'd="{path}"' in expected
