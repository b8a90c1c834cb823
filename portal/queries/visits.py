"""One visit as its customer follows it (`/v/{token}`): where it stands, who is coming
(first name only) and the current plan's ETA. Once the job is done, nothing but that."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from asset_registry.catalog import DeviceModel
from asset_registry.tables import Device, Site
from service.tables import Engineer, VisitLink, WorkOrder

# A work order's status in the customer's words, by phase.
PHASES = {"new": "rescheduling", "assigned": "planned", "accepted": "planned",
          "en_route": "on_the_way", "on_site": "arrived", "done": "done"}


@dataclass(frozen=True, slots=True)
class VisitView:
    phase: str  # planned | on_the_way | arrived | rescheduling | done
    engineer: str | None  # first name
    eta: int | None  # ms epoch, the plan's arrival (planned, on the way)
    device: str  # "AquaPure RO-500 (serial …)"
    site: str

    def public(self) -> dict[str, object]:
        """What the page and its live stream may show: once done, only that."""
        if self.phase == "done":
            return {"phase": "done"}
        return {"phase": self.phase, "engineer": self.engineer, "eta": self.eta,
                "device": self.device, "site": self.site}


def first_name(name: str) -> str:
    return name.split()[0] if name.split() else "Your engineer"


def visit_by_token(session: Session, token: str, models: Mapping[str, DeviceModel] | None = None
                   ) -> VisitView | None:
    row = session.exec(
        select(WorkOrder, Device, Site)
        .join(VisitLink, col(VisitLink.work_order_id) == WorkOrder.id)
        .join(Device, col(Device.id) == WorkOrder.device_id)
        .join(Site, col(Site.id) == Device.site_id)
        .where(VisitLink.token == token)).first()
    if row is None:
        return None
    order, device, site = row
    phase = PHASES.get(order.status, "planned")
    engineer = session.get(Engineer, order.engineer_id) if order.engineer_id else None
    named = phase != "rescheduling" and engineer is not None
    model = models.get(device.model_id) if models else None
    return VisitView(
        phase=phase, engineer=first_name(engineer.name) if named and engineer else None,
        eta=order.eta if phase in ("planned", "on_the_way") and named else None,
        device=f"{model.name if model else device.model_id} (serial {device.serial})",
        site=site.name)
