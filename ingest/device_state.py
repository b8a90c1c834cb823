"""Device presence beyond the gateway's birth and last will: staleness per device.

A gateway can stay connected while one of its devices goes quiet (a cable, a dead
sensor). A device whose newest reading is older than `stale_after_ms` is shown
offline until it reports again (the pipeline sets it online with each reading).
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, update
from sqlmodel import col

from asset_registry.tables import Device

log = logging.getLogger("fieldpulse.ingest")


def mark_stale_devices(engine: Engine, now_ms: int, stale_after_ms: int) -> int:
    """Set devices offline whose last reading is older than the limit; return how many."""
    cutoff = now_ms - stale_after_ms
    with engine.begin() as conn:
        changed = conn.execute(
            update(Device)
            .where(col(Device.online).is_(True), col(Device.last_seen).is_not(None),
                   col(Device.last_seen) < cutoff)
            .values(online=False)
        ).rowcount
    if changed:
        log.info("event=devices_stale count=%d cutoff_ms=%d", changed, cutoff)
    return changed
