"""A small world for the rules service's tests: a fleet, one purifier, readings of it,
and a rules service on its own SQLite database (built by the migrations)."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from asset_registry.catalog import load_models
from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine
from ingest.checks import AcceptedReading
from notifications.alert_notices import record_alert_notice
from rules.actions import WorkOrderRequest
from rules.service import RulesService
from service.cases import open_case
from simulators.fleet import generate_fleet

MODELS = load_models()
FLEET = generate_fleet(seed=7, sites=3)
PURIFIER = next(d for d in FLEET.devices if d.model_id == "aquapure-ro500")
NORMAL = {"flow_lpm": 12.0, "tds_ppm": 25.0, "inlet_pressure_bar": 3.2, "filter_hours": 1000.0}
T0 = 1_800_000_000_000


def _open_work_order(session: Session, req: WorkOrderRequest) -> int:
    case, _ = open_case(session, device_id=req.device_id, source="alert", alert_id=req.alert_id,
                        title=req.title, skill=req.skill, duration_min=req.duration_min,
                        priority=req.priority)
    return case.id


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def make_service(path: Path, fresh: bool = True) -> tuple[RulesService, Clock]:
    engine = make_engine(f"sqlite:///{path}")
    if fresh:
        upgrade(engine)
        import_fleet(engine, FLEET)
    clock = Clock()
    return RulesService(engine, MODELS, _open_work_order,
                        record_notice=record_alert_notice, clock=clock), clock


def readings(*values: dict, start: int = T0, step: int = 1000) -> list[AcceptedReading]:
    return [AcceptedReading(PURIFIER.id, PURIFIER.model_id, start + i * step, {**NORMAL, **v})
            for i, v in enumerate(values)]


