"""End to end on the simulator: purifiers consume their filters, their readings are
stored, the sales worker summarises the days and raises filter opportunities for
the ones about to run out."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, select

from asset_registry.catalog import load_models
from foundations.clock import DAY_MS
from ingest.checks import AcceptedReading
from ingest.telemetry_store import SqlTelemetryStore, StoredBatch
from notifications.delivery import NotificationDelivery
from notifications.tables import Notification
from sales.opportunities import AUDIENCE
from sales.tables import ConsumableDay, Opportunity
from sales.worker import SalesWorker
from simulators.fleet import Fleet
from simulators.signals import DeviceSimulator

MODEL = "aquapure-ro500"
NOW = int(datetime(2026, 11, 27, 8, 0, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)
DAYS = 75
STEP_MS = 15 * 60_000


class Recording:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)


def simulate_and_store(engine: Engine, fleet: Fleet) -> dict[str, list[int]]:
    """Readings of every purifier for DAYS days before NOW; their true replacements."""
    model = load_models()[MODEL]
    water = {s.id: s.feed_tds_ppm for s in fleet.sites}
    start = NOW - NOW % DAY_MS - DAYS * DAY_MS
    store = SqlTelemetryStore(engine)
    truth: dict[str, list[int]] = {}
    for device in (d for d in fleet.devices if d.model_id == MODEL):
        sim = DeviceSimulator(device.id, model, seed=7, origin_ms=start,
                              feed_tds_ppm=water[device.site_id])
        batches = [StoredBatch(device.gateway_id, [
            AcceptedReading(device.id, MODEL, ts, sim.sample(ts))
            for ts in range(day, day + DAY_MS, STEP_MS)])
            for day in range(start, start + DAYS * DAY_MS, DAY_MS)]
        with engine.begin() as conn:
            store.write(conn, batches)
        wear = sim.filter_wear()
        assert wear is not None
        truth[device.id] = wear.replacements(NOW + 120 * DAY_MS)
    return truth


def test_simulated_purifiers_raise_filter_opportunities_near_their_true_replacement(
        engine, fleet):
    truth = simulate_and_store(engine, fleet)
    sender = Recording()
    worker = SalesWorker(engine, SqlTelemetryStore(engine), lookback_days=DAYS,
                         clock=lambda: NOW)
    worker.run_once()
    assert worker.run_once().days == 0  # incremental: nothing new to summarise
    NotificationDelivery(engine, sender, clock=lambda: NOW).run_once()

    with Session(engine) as session:
        with_data = session.exec(select(ConsumableDay).where(ConsumableDay.samples > 0)).all()
        assert len(with_data) == DAYS * len(truth)  # every purifier, every day
        opps = session.exec(select(Opportunity).where(Opportunity.kind == "consumable")).all()
        assert session.exec(select(ConsumableDay).where(ConsumableDay.reset_at.is_not(None))
                            ).first() is not None  # replacements seen in the readings
    assert opps, "no purifier's filter was forecast to run out within its lead window"
    errors = []
    for opp in opps:
        upcoming = [t for t in truth[opp.device_id] if t > NOW - 2 * DAY_MS]
        assert upcoming, f"{opp.device_id}: no replacement ahead, yet an opportunity"
        errors.append(abs(opp.predicted_date - upcoming[0]) / DAY_MS)
        assert opp.owner.endswith("@sales.example.com")
    assert max(errors) < 10 and sum(errors) / len(errors) < 6, errors
    # Every purifier truly due within a week has its opportunity.
    due = {d for d, ts in truth.items() if any(NOW < t <= NOW + 7 * DAY_MS for t in ts)}
    assert due <= {o.device_id for o in opps}
    # Each went to its owner once.
    mailed = [n for n in sender.sent if n.audience == AUDIENCE and "filter kit" in n.message]
    assert len(mailed) == len(opps)
