"""A device's data gaps: what its gateway reported dropping (`ingest.gaps` records them
per gateway, as `GatewayGap` rows)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from asset_registry.tables import Device
from ingest.tables import GatewayGap
from portal.schemas.devices import GapPublic

# The panel shows recent gaps; a gateway that evicts for weeks has its own problem.
LIMIT = 50


def device_gaps(session: Session, device_id: str) -> list[GapPublic] | None:
    """The newest gaps of the device's gateway, newest first; None: no such device."""
    device = session.get(Device, device_id)
    if device is None:
        return None
    rows = session.exec(select(GatewayGap).where(GatewayGap.gateway_id == device.gateway_id)
                        .order_by(col(GatewayGap.until_ts).desc(), col(GatewayGap.id).desc())
                        .limit(LIMIT))
    return [GapPublic(gateway_id=g.gateway_id, kind=g.kind, readings=g.readings,
                      since_ts=g.since_ts, until_ts=g.until_ts) for g in rows]
