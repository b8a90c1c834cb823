"""Stored telemetry -> one `ConsumableDay` per device and UTC day, incrementally.

Only whole days before `now` are summarised, each once: the next pass starts
after the newest stored day, so the forecasts never rescan raw readings. A day
without readings is stored too (`samples = 0`, ignored by the forecasts), so
the cursor moves over a gateway's outage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from asset_registry.tables import Device
from foundations.clock import DAY_MS
from foundations.database import session_scope
from ingest.telemetry_store import TelemetryStore
from sales.catalogue import SalesSpec
from sales.forecast import summarise_day
from sales.tables import ConsumableDay

PASS_DAYS = 31  # days read per device and pass (bounds memory on a first catch-up)


@dataclass(frozen=True, slots=True)
class Roles:
    """Which metric plays which part for a model's consumables (None: not measured)."""

    flow: str | None = None
    counter: str | None = None
    pressure: str | None = None
    running: str | None = None
    running_above: float = 0.0


def roles_of(spec: SalesSpec) -> Roles:
    def first(attr: str) -> str | None:
        return next((getattr(c, attr) for c in spec.consumables if getattr(c, attr)), None)

    wear = next((c for c in spec.consumables if c.running_metric), None)
    return Roles(first("flow_metric"), first("counter_metric"), first("pressure_metric"),
                 wear.running_metric if wear else None, wear.running_above if wear else 0.0)


def _split(points: list[tuple[int, float]], first_day: int, n_days: int
           ) -> list[list[tuple[int, float]]]:
    if not points:
        return [[] for _ in range(n_days)]
    ts = np.fromiter((p[0] for p in points), dtype=np.int64, count=len(points))
    edges = np.searchsorted(ts, first_day + DAY_MS * np.arange(n_days + 1))
    return [points[edges[i]:edges[i + 1]] for i in range(n_days)]


def update_days(engine: Engine, store: TelemetryStore, catalogue: Mapping[str, SalesSpec],
                now_ms: int, lookback_days: int = 120) -> int:
    """Summarise every complete day not yet stored; returns how many days were added."""
    today = now_ms - now_ms % DAY_MS
    with Session(engine) as session:
        devices = session.exec(select(Device.id, Device.model_id).where(
            col(Device.model_id).in_([m for m, s in catalogue.items() if s.consumables]))
        ).all()
        newest = dict(session.exec(select(ConsumableDay.device_id, func.max(ConsumableDay.day))
                                   .group_by(col(ConsumableDay.device_id))).all())
    added = 0
    for device_id, model_id in devices:
        roles = roles_of(catalogue[model_id])
        first = newest[device_id] + DAY_MS if device_id in newest \
            else today - lookback_days * DAY_MS
        while first < today:
            n_days = min(PASS_DAYS, (today - first) // DAY_MS)
            end = first + n_days * DAY_MS
            series: dict[str, list[list[tuple[int, float]]]] = {
                role: _split(store.points(device_id, metric, first, end), first, n_days)
                if metric else [[] for _ in range(n_days)]
                for role, metric in (("flow", roles.flow), ("counter", roles.counter),
                                     ("pressure", roles.pressure), ("running", roles.running))}
            with session_scope(engine) as session:
                previous = session.exec(
                    select(ConsumableDay.counter_last)
                    .where(ConsumableDay.device_id == device_id,
                           col(ConsumableDay.counter_last).is_not(None))
                    .order_by(col(ConsumableDay.day).desc())).first()
                for i in range(n_days):
                    day = summarise_day(first + i * DAY_MS, flow=series["flow"][i],
                                        counter=series["counter"][i],
                                        pressure=series["pressure"][i],
                                        running=series["running"][i],
                                        running_above=roles.running_above,
                                        previous_counter=previous)
                    if day.counter_last is not None:
                        previous = day.counter_last
                    session.add(ConsumableDay(
                        device_id=device_id, day=day.day, samples=day.samples,
                        litres=day.litres, run_hours=day.run_hours, pressure=day.pressure,
                        reset_at=day.reset_at, litres_after_reset=day.litres_after_reset,
                        counter_last=day.counter_last))
            added += n_days
            first = end
    return added
