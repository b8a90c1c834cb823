"""First-time-fix rate: closed cases fixed in one visit, over those with any visit;
in /metrics through its collector."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from service_world import AT_MS, service_world
from sqlalchemy import Engine
from sqlmodel import Session

from foundations.database import session_scope
from service.cases import open_case
from service.first_time_fix import FirstTimeFixCollector, first_time_fix
from service.work_orders import give_back, set_status


def _case(engine: Engine, steps: list[str]) -> None:
    with session_scope(engine) as s:
        _, order = open_case(s, device_id="dev-standard", source="api", title="t",
                             skill="water-treatment", duration_min=30, priority=3,
                             at=AT_MS)
        order.engineer_id = "eve"
        for step in steps:
            if step == "give_back":
                give_back(s, order, "part missing")
                order.engineer_id = "eve"
            else:
                set_status(s, order, step)


def test_one_visit_counts_a_revisit_does_not(tmp_path: Path) -> None:
    engine = service_world(tmp_path)
    _case(engine, ["assigned", "en_route", "on_site", "done"])  # fixed first time
    _case(engine, ["assigned", "on_site", "give_back", "assigned", "on_site", "done"])
    _case(engine, ["assigned", "done"])  # done, no on-site step recorded: one visit
    _case(engine, ["assigned", "on_site"])  # still open: not counted
    with Session(engine) as s:
        figure = first_time_fix(s, AT_MS + 1000)
        assert (figure.cases, figure.first_time) == (3, 2)
        assert figure.rate == 2 / 3
        assert first_time_fix(s, AT_MS + 200 * 86_400_000).cases == 0  # out of the window
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FirstTimeFixCollector(engine, clock=lambda: AT_MS + 1000))
    text = generate_latest(registry).decode()
    assert "fieldpulse_cases_closed_with_visit 3.0" in text
    assert "fieldpulse_cases_fixed_first_time 2.0" in text
    assert "fieldpulse_first_time_fix_ratio 0.6666" in text
