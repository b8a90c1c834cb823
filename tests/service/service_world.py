"""A small world for the service-cloud tests: customers on each contract level, one
device each (all close together), an engineer per skill, every time fixed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from asset_registry.tables import Customer, Device, Gateway, Site
from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from service.tables import Engineer

TZ = ZoneInfo("Europe/Berlin")
AT_MS = int(datetime(2026, 3, 3, 9, 0, tzinfo=TZ).timestamp() * 1000)  # a Tuesday, 09:00
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
LAT, LON = 48.1374, 11.5755


def service_world(tmp_path: Path, model_id: str = "aquapure-ro500") -> Engine:
    """Devices `dev-basic`, `dev-standard`, `dev-premium` (customers `cus-<level>`)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        for i, level in enumerate(("basic", "standard", "premium")):
            s.add(Customer(id=f"cus-{level}", name=f"{level.title()} GmbH",
                           contact_email=f"facilities@{level}.example", contract_level=level))
            s.flush()  # no ORM relationships: parents before children by hand
            s.add(Site(id=f"site-{level}", customer_id=f"cus-{level}", name=f"{level} site",
                       lat=LAT + i * 0.002, lon=LON + i * 0.002))
            s.flush()
            s.add(Gateway(id=f"gw-{level}", site_id=f"site-{level}"))
            s.flush()
            s.add(Device(id=f"dev-{level}", serial=f"SN-{level}", model_id=model_id,
                         site_id=f"site-{level}", gateway_id=f"gw-{level}",
                         qr_token=f"tok-{level}"))
        s.add(Engineer(id="eve", name="Eve Example", skills="water-treatment,refrigeration",
                       home_lat=LAT, home_lon=LON, shift_start="08:00", shift_end="17:00"))
    return engine
