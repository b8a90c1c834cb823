"""Data gaps a gateway reports in its status (`evicted`, `lost`), kept per gateway.

The counts in a status are cumulative since the gateway's outbox was made; each status
whose count grew adds a `GatewayGap` row with the difference and the time range since
the previous status. A count below the last one is a new outbox (a reinstall): the whole
new count is a gap.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select
from sqlmodel import col

from foundations.database import table_of
from ingest.checks import Json
from ingest.tables import GatewayGap

GAP_KINDS = ("evicted", "lost")


def record_gaps(conn: Connection, gateway_id: str, doc: Json, received: int) -> None:
    for kind in GAP_KINDS:
        reported = doc.get(kind)
        if not isinstance(reported, int) or reported <= 0:
            continue
        last = conn.execute(
            select(col(GatewayGap.total), col(GatewayGap.until_ts))
            .where(col(GatewayGap.gateway_id) == gateway_id, col(GatewayGap.kind) == kind)
            .order_by(col(GatewayGap.id).desc()).limit(1)).first()
        since = last[1] if last is not None else None
        delta = reported - last[0] if last is not None and reported >= last[0] else reported
        if delta == 0:
            continue
        conn.execute(insert(table_of(GatewayGap)).values(
            gateway_id=gateway_id, kind=kind, readings=delta, total=reported,
            since_ts=since, until_ts=doc["ts"], received_at=received))


def gap_totals(conn: Connection) -> dict[tuple[str, str], int]:
    """(gateway, kind) -> readings reported dropped, over every gap recorded."""
    totals: dict[tuple[str, str], int] = {}
    for gateway_id, kind, readings in conn.execute(
            select(col(GatewayGap.gateway_id), col(GatewayGap.kind), col(GatewayGap.readings))):
        totals[(gateway_id, kind)] = totals.get((gateway_id, kind), 0) + readings
    return totals
