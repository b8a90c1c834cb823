"""What a person does with an opportunity: offer it, and the customer's answer.

Accepting turns it into work for the dispatcher: a case with one work order
(`service.cases.open_case`, source "sales") — a delivery and fitting for a
consumable, an installation for an upgrade — planned like any other job.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session

from asset_registry.catalog import DeviceModel
from asset_registry.tables import Device
from sales.tables import Opportunity
from service.cases import open_case
from service.tables import WorkOrder

# Below corrective work (alerts open at 3-5): a filter can wait for a fault.
SALES_PRIORITY = 2
INSTALL_FACTOR = 4  # an upgrade's installation takes this many usual service visits
MAX_INSTALL_MIN = 480


class OpportunityError(ValueError):
    """The opportunity cannot move that way (the message says why)."""


def _check(opp: Opportunity, allowed: tuple[str, ...], action: str) -> None:
    if opp.status not in allowed:
        raise OpportunityError(f"opportunity {opp.id} is {opp.status}; only "
                               f"{' or '.join(allowed)} ones can be {action}")


def offer(opp: Opportunity, by: str, now_ms: int) -> None:
    _check(opp, ("open",), "offered")
    opp.status, opp.decided_by, opp.updated_at = "offered", by, now_ms


def decline(opp: Opportunity, by: str, now_ms: int, note: str = "") -> None:
    _check(opp, ("open", "offered"), "declined")
    opp.status, opp.decided_by, opp.updated_at = "declined", by, now_ms
    if note:
        opp.reason += f"; declined: {note}"


def accept(session: Session, opp: Opportunity, models: Mapping[str, DeviceModel], by: str,
           now_ms: int, note: str = "") -> WorkOrder:
    """The customer took the offer: one work order, stored on the opportunity."""
    _check(opp, ("open", "offered"), "accepted")
    device = session.get(Device, opp.device_id)
    model = models.get(device.model_id) if device else None
    if model is None:
        raise OpportunityError(f"device '{opp.device_id}' has no known model; cannot tell "
                               "which skill the job needs")
    if opp.kind == "consumable":
        title = f"Deliver and fit {opp.quantity} x {opp.product}"
        duration = model.service_minutes
    else:
        title = f"Install {opp.product} (replaces {device.serial if device else opp.device_id})"
        duration = min(MAX_INSTALL_MIN, INSTALL_FACTOR * model.service_minutes)
    _, order = open_case(session, device_id=opp.device_id, source="sales", title=title,
                         description=f"Opportunity {opp.id}: {opp.reason}. {note}".strip(),
                         skill=model.service_skill, duration_min=duration,
                         priority=SALES_PRIORITY, at=now_ms)
    opp.status, opp.decided_by, opp.updated_at = "accepted", by, now_ms
    opp.work_order_id = order.id
    session.add(opp)
    return order
