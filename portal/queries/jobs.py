"""The engineer's job app as it reads: the day's route with navigation links, and one
job with its device's readings, alerts, service history and report."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from asset_registry.catalog import DeviceModel
from asset_registry.tables import Customer, Device, Site
from portal.queries.alerts import device_alerts
from portal.queries.articles import for_job
from portal.queries.devices import latest_values
from portal.queries.engineers import engineer_jobs
from portal.queries.work_orders import case_attachments, device_work_orders_with_events
from rules.tables import Alert
from service.customer_reports import category_of
from service.job_reports import as_dict
from service.tables import Case, JobReport, WorkOrder


def nav_link(lat: float, lon: float) -> str:
    # A geo: URI opens the phone's own maps app; nothing is fetched from here.
    return f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}"


def route_of(session: Session, engineer_id: str) -> list[dict[str, Any]]:
    """The engineer's jobs in route order, with ETAs and a navigation link."""
    return [{
        "work_order_id": order.id, "status": order.status, "eta": order.eta,
        "route_seq": order.route_seq, "duration_min": order.duration_min, "title": case.title,
        "customer": customer.name, "site": site.name, "address": site.address,
        "lat": site.lat, "lon": site.lon, "navigation": nav_link(site.lat, site.lon),
        "device_id": device.id, "serial": device.serial, "model_id": device.model_id,
    } for order, case, device, site, customer in engineer_jobs(session, engineer_id)]


def job_detail(session: Session, order: WorkOrder, models: Mapping[str, DeviceModel]
               ) -> dict[str, Any]:
    """A job with its device's latest readings, alerts, service history and report."""
    case = session.get(Case, order.case_id)
    device = session.get(Device, order.device_id)
    assert case is not None and device is not None
    site = session.get(Site, device.site_id)
    customer = session.get(Customer, site.customer_id) if site else None
    history = [
        {"work_order_id": wo.id, "status": wo.status, "title": past.title,
         "events": [{"status": e.status, "at": e.at, "note": e.note} for e in events]}
        for wo, past, events in device_work_orders_with_events(session, device.id)
        if wo.id != order.id
    ]
    return {
        "work_order_id": order.id, "status": order.status, "eta": order.eta,
        "title": case.title, "description": case.description,
        "customer": customer.name if customer else None, "contact": case.contact,
        "site": site.name if site else None, "address": site.address if site else None,
        "navigation": nav_link(site.lat, site.lon) if site else None,
        "device": {"id": device.id, "serial": device.serial, "model_id": device.model_id,
                   "online": device.online, "last_seen": device.last_seen},
        "latest": [v.model_dump() for v in latest_values(session, device, models)],
        "alerts": [{"id": a.id, "severity": a.severity, "state": a.state, "message": a.message,
                    "raised_at": a.raised_at} for a in device_alerts(session, device.id)],
        "history": history,
        "report": as_dict(session.get(JobReport, order.id)),
        "parts_needed": json.loads(order.parts_needed), "plan_note": order.plan_note,
        # The case's files are also its service reports (PDF): the photos only here.
        "customer_photos": [a.file_name for a in case_attachments(session, order.case_id)
                            if a.content_type.startswith("image/")],
        # The procedures for the job's alert and the device's model, in the job's data
        # so the service worker keeps them for the phone without signal.
        "articles": for_job(session, device.model_id, _rule_of(session, case),
                            category_of(case)),
    }


def _rule_of(session: Session, case: Case) -> str | None:
    alert = session.get(Alert, case.alert_id) if case.alert_id is not None else None
    return alert.rule_id if alert is not None else None
