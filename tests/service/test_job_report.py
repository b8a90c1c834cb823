"""The engineer's side of a job: accept, give back, parts, notes, photos, sign-off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.tables import Customer, Device, Gateway, Site
from dispatch.dispatcher import urgent_unplanned
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from service.cases import open_case
from service.job_reports import ReportError, add_parts, add_photo, as_dict, set_notes, sign_off
from service.tables import Case, Engineer, JobReport, WorkOrder, WorkOrderEvent
from service.work_orders import StatusError, give_back, set_status

T = 1_800_000_000_000


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    with session_scope(engine) as s:
        s.add(Customer(id="c", name="C"))
        s.flush()
        s.add(Site(id="s", customer_id="c", name="S", lat=48.1, lon=11.5))
        s.flush()
        s.add(Gateway(id="gw", site_id="s"))
        s.flush()
        s.add(Device(id="dev", serial="SN1", model_id="m", site_id="s", gateway_id="gw",
                     qr_token="tok"))
        s.add(Engineer(id="eve", name="Eve", skills="hvac", home_lat=48.1, home_lon=11.5,
                       shift_start="08:00", shift_end="17:00"))
    yield engine
    engine.dispose()


def _job(engine: Engine, priority: int = 3) -> int:
    with session_scope(engine) as s:
        _, order = open_case(s, device_id="dev", source="alert", title="t", skill="hvac",
                             duration_min=30, priority=priority)
        order.engineer_id, order.status = "eve", "assigned"
        s.add(order)
        s.flush()
        return order.id


def test_accepting_pins_the_job_to_its_engineer(engine: Engine) -> None:
    order_id = _job(engine)
    with session_scope(engine) as s:
        set_status(s, s.get(WorkOrder, order_id), "accepted")
    with Session(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert order.status == "accepted" and order.pinned_engineer_id == "eve"


def test_a_job_given_back_returns_to_the_dispatcher_with_its_reason(engine: Engine) -> None:
    order_id = _job(engine, priority=5)
    with session_scope(engine) as s:
        order = s.get(WorkOrder, order_id)
        set_status(s, order, "on_site")
        with pytest.raises(StatusError, match="say why"):
            give_back(s, order, "  ")
        give_back(s, order, "needs a part I do not carry")
    with Session(engine) as s:
        order = s.get(WorkOrder, order_id)
        assert (order.status, order.engineer_id, order.eta) == ("new", None, None)
        events = s.exec(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order_id)
                        .order_by(WorkOrderEvent.id)).all()
        assert events[-1].status == "cannot_complete"
        assert "needs a part" in events[-1].note
        assert s.get(Case, order.case_id).status == "open"
    assert urgent_unplanned(engine) == [order_id]  # urgent: placed again at once


def test_the_report_collects_parts_notes_photos_until_signed_off(engine: Engine) -> None:
    order_id = _job(engine)
    with session_scope(engine) as s:
        order = s.get(WorkOrder, order_id)
        add_parts(s, order, [{"part": "RO membrane", "qty": 1}], T)
        add_parts(s, order, [{"part": "O-ring", "qty": 4}], T + 1)
        with pytest.raises(ReportError, match=r"parts\[0\]\.qty"):
            add_parts(s, order, [{"part": "valve", "qty": 0}], T + 2)
        set_notes(s, order, "Membrane scaled; replaced.", T + 3)
        add_photo(s, order, "1-a.jpg", T + 4)
        with pytest.raises(ReportError, match="on site"):
            sign_off(s, order, "Ms Customer", "1-sig.png", T + 5)
        set_status(s, order, "on_site")
        sign_off(s, order, "Ms Customer", "1-sig.png", T + 6)
        with pytest.raises(ReportError, match="signed off"):
            set_notes(s, order, "changed afterwards", T + 7)
    with Session(engine) as s:
        report = as_dict(s.get(JobReport, order_id))
    assert report == {"parts": [{"part": "RO membrane", "qty": 1}, {"part": "O-ring", "qty": 4}],
                      "notes": "Membrane scaled; replaced.", "photos": ["1-a.jpg"],
                      "signed_by": "Ms Customer", "signed_at": T + 6, "rating": None,
                      "rating_comment": ""}
