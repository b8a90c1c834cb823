"""Loading a fleet (customers, sites, gateways, devices, engineers) into the registry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from asset_registry.qr_tokens import new_qr_token
from asset_registry.tables import Customer, Device, Gateway, Site
from foundations.database import session_scope
from sales.tables import SiteWater
from service.tables import Engineer


def import_fleet(engine: Engine, fleet: Any) -> dict[str, str]:
    """Store a fleet (as `simulators.fleet.Fleet` shapes it); returns device id -> QR token."""
    tokens = {d.id: new_qr_token() for d in fleet.devices}
    with session_scope(engine) as session:
        session.add_all(Customer(id=c.id, name=c.name, contact_email=c.contact_email,
                                 contract_level=c.contract_level,
                                 sales_owner_email=getattr(c, "sales_owner_email", ""))
                        for c in fleet.customers)
        session.flush()
        session.add_all(Site(id=s.id, customer_id=s.customer_id, name=s.name,
                             address=s.address, lat=s.lat, lon=s.lon) for s in fleet.sites)
        session.flush()
        session.add_all(Gateway(id=g.id, site_id=g.site_id) for g in fleet.gateways)
        # Feed water per site, for the sales cloud's filter forecast (sales/forecast.py).
        session.add_all(SiteWater(site_id=s.id, feed_tds_ppm=s.feed_tds_ppm)
                        for s in fleet.sites if getattr(s, "feed_tds_ppm", 0.0) > 0)
        session.flush()
        session.add_all(Device(id=d.id, serial=d.serial, model_id=d.model_id,
                               site_id=d.site_id, gateway_id=d.gateway_id, qr_token=tokens[d.id])
                        for d in fleet.devices)
        session.add_all(Engineer(id=e.id, name=e.name, skills=",".join(e.skills),
                                 home_lat=e.home_lat, home_lon=e.home_lon,
                                 shift_start=e.shift_start, shift_end=e.shift_end,
                                 lunch_minutes=30,  # between 12:00 and 14:00
                                 email=e.email)
                        for e in fleet.engineers)
    return tokens
