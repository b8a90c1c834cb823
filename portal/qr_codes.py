"""QR codes for device labels: each encodes the device's customer page URL."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import segno


def customer_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/q/{token}"


def write_qr_codes(devices: Iterable[tuple[str, str]], base_url: str, out_dir: Path) -> int:
    """Write `<device id>.svg` and `.png` per (device id, token); returns how many devices."""
    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for device_id, token in devices:
        qr = segno.make(customer_url(base_url, token), error="m")
        qr.save(str(out_dir / f"{device_id}.svg"), scale=4, border=2)
        qr.save(str(out_dir / f"{device_id}.png"), scale=6, border=2)
        count += 1
    return count
