"""QR codes for device labels: each encodes the device's customer page URL.

A code is its device's key (whoever holds it opens the customer's page), so the
files are the owner's alone: 0600, in a directory of mode 0700.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import segno

from portal.uploads import private_dir, write_private


def customer_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/q/{token}"


def write_qr_codes(devices: Iterable[tuple[str, str]], base_url: str, out_dir: Path) -> int:
    """Write `<device id>.svg` and `.png` per (device id, token); returns how many devices."""
    private_dir(out_dir)
    count = 0
    for device_id, token in devices:
        qr = segno.make(customer_url(base_url, token), error="m")
        for kind, scale in (("svg", 4), ("png", 6)):
            out = io.BytesIO()
            qr.save(out, kind=kind, scale=scale, border=2)
            write_private(out_dir / f"{device_id}.{kind}", out.getvalue(), replace=True)
        count += 1
    return count
