"""`fieldpulse bench forecast`: how far off the filter forecast's dates are.

The simulated fleet's purifiers run for months with filter consumption on
(simulators/consumables.py: usage that changes, capacity by the site's feed
water, cartridges that vary, replaced when exhausted). Their readings are
reduced to days exactly as the sales worker does (`summarise_day`), in process,
without a broker or a database. At 30, 14 and 7 days before every true
replacement the forecast, from the days before that moment only, predicts the
replacement date; the error is predicted minus true, in days. In the same run
and at the same moments:

* `calendar`: the last replacement plus the fleet's mean filter life (measured
  on this very run, so generous);
* `capacity / fleet usage`: the last replacement plus the kit's rating over the
  fleet's mean litres per day (what a fixed "every N litres" plan assumes);
* `forecast, no water quality`: ours with the rating not scaled by feed water.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from asset_registry.catalog import load_models
from foundations.clock import DAY_MS, HOUR_MS
from sales.catalogue import Consumable, load_sales_catalogue
from sales.forecast import DayUsage, forecast_filter, summarise_day

MODEL = "aquapure-ro500"
HORIZONS = (30, 14, 7)
START_MS = int(datetime(2026, 1, 5, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)
WARMUP_DAYS = 28  # no forecast before four weeks of usage are known


@dataclass(frozen=True, slots=True)
class PurifierRun:
    device_id: str
    feed_tds_ppm: float
    days: list[DayUsage]
    replacements: list[int]  # ms, the truth


def simulate(seed: int, sites: int, n_days: int, step_min: int) -> list[PurifierRun]:
    """Every purifier of the fleet, `n_days` from START_MS, reduced to days."""
    from simulators.fleet import generate_fleet  # the CLI loads simulators only when run
    from simulators.signals import DeviceSimulator

    fleet = generate_fleet(seed=seed, sites=sites)
    model = load_models()[MODEL]
    water = {s.id: s.feed_tds_ppm for s in fleet.sites}
    runs = []
    step = step_min * 60_000
    for device in (d for d in fleet.devices if d.model_id == MODEL):
        sim = DeviceSimulator(device.id, model, seed, tz=fleet.city.tz, origin_ms=START_MS,
                              feed_tds_ppm=water[device.site_id])
        days: list[DayUsage] = []
        counter_before = None
        for n in range(n_days):
            day = START_MS + n * DAY_MS
            samples = [(ts, sim.sample(ts)) for ts in range(day, day + DAY_MS, step)]
            summary = summarise_day(
                day, flow=[(ts, v["flow_lpm"]) for ts, v in samples],
                counter=[(ts, v["filter_hours"]) for ts, v in samples],
                pressure=[(ts, v["inlet_pressure_bar"]) for ts, v in samples],
                previous_counter=counter_before)
            counter_before = summary.counter_last
            days.append(summary)
        wear = sim.filter_wear()
        assert wear is not None
        truth = [t for t in wear.replacements(START_MS + n_days * DAY_MS) if t >= START_MS]
        runs.append(PurifierRun(device.id, water[device.site_id], days, truth))
    return runs


def _since(days: list[DayUsage]) -> int:
    """When the cartridge in at the end of `days` went in, as its counter says."""
    last = days[-1]
    assert last.counter_last is not None
    return last.day + DAY_MS - int(last.counter_last * HOUR_MS)


def evaluate(runs: list[PurifierRun], kit: Consumable
             ) -> tuple[dict[str, dict[str, list[float]]], list[bool]]:
    """Errors in days (predicted - true) per method and horizon; and, for the forecast,
    whether each true date fell inside its 10-90 % interval."""
    lives = [np.diff(r.replacements) / DAY_MS for r in runs if len(r.replacements) > 1]
    mean_life = float(np.concatenate(lives).mean()) if lives else 90.0
    fleet_per_day = float(np.mean([d.litres for r in runs for d in r.days]))
    methods = ("forecast", "forecast, litres only", "forecast, no water quality", "calendar",
               "capacity / fleet usage")
    errors: dict[str, dict[str, list[float]]] = {m: {str(h): [] for h in HORIZONS}
                                                 for m in methods}
    inside: list[bool] = []
    for run in runs:
        previous = [START_MS, *run.replacements]
        for truth, before in zip(run.replacements, previous, strict=False):
            for h in HORIZONS:
                at = truth - h * DAY_MS
                at -= at % DAY_MS  # forecasts run on whole days
                if at < START_MS + WARMUP_DAYS * DAY_MS or at <= before:
                    continue  # too little history, or the previous cartridge is still in
                seen = run.days[:(at - START_MS) // DAY_MS]
                since = _since(seen)
                rated = kit.capacity_at(run.feed_tds_ppm)
                predicted = {
                    "forecast": forecast_filter(seen, at, rated),
                    "forecast, litres only": forecast_filter(seen, at, rated, False),
                    "forecast, no water quality": forecast_filter(
                        seen, at, kit.capacity_litres, False),
                }
                dates = {m: f.predicted for m, f in predicted.items() if f is not None}
                if (f := predicted["forecast"]) is not None:
                    inside.append(f.early <= truth <= f.late)
                dates["calendar"] = since + int(mean_life * DAY_MS)
                dates["capacity / fleet usage"] = since + int(
                    kit.capacity_litres / fleet_per_day * DAY_MS)
                for method, date in dates.items():
                    errors[method][str(h)].append((date - truth) / DAY_MS)
    return errors, inside


def figures(errs: list[float]) -> dict[str, float | int | None]:
    if not errs:
        return {"n": 0, "mae_days": None, "median_abs_days": None, "p90_abs_days": None,
                "within_3_days": None, "bias_days": None}
    e = np.asarray(errs)
    a = np.abs(e)
    return {"n": int(e.size), "mae_days": round(float(a.mean()), 2),
            "median_abs_days": round(float(np.median(a)), 2),
            "p90_abs_days": round(float(np.percentile(a, 90)), 2),
            "within_3_days": round(float((a <= 3).mean()), 3),
            "bias_days": round(float(e.mean()), 2)}


def bench_forecast(
    days: Annotated[int, typer.Option(help="Simulated days.")] = 540,
    sites: Annotated[int, typer.Option(help="Sites in the simulated fleet.")] = 12,
    seed: Annotated[int, typer.Option(help="Fleet seed.")] = 7,
    step_min: Annotated[int, typer.Option(help="Minutes between simulated readings.")] = 15,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Filter-replacement date error of the forecast against naive baselines."""
    console = Console(stderr=json_output)
    started = time.perf_counter()
    kit = next(c for c in load_sales_catalogue()[MODEL].consumables if c.basis == "litres")
    runs = simulate(seed, sites, days, step_min)
    errors, inside = evaluate(runs, kit)
    result = {
        "purifiers": len(runs), "days": days,
        "replacements": sum(len(r.replacements) for r in runs),
        "seconds": round(time.perf_counter() - started, 1),
        # Share of true dates inside the forecast's 10-90 % interval (0.8 if calibrated).
        "interval_coverage": round(sum(inside) / len(inside), 3) if inside else None,
        "methods": {m: {"all": figures([e for es in by_h.values() for e in es]),
                        **{f"{h}d": figures(by_h[str(h)]) for h in HORIZONS}}
                    for m, by_h in errors.items()},
    }
    if json_output:
        print(json.dumps(result))
        return
    table = Table(title=f"{result['purifiers']} purifiers, {days} days, "
                        f"{result['replacements']} filter replacements; forecast's "
                        f"10-90 % interval holds {result['interval_coverage']} of the true "
                        f"dates ({result['seconds']} s)")
    for column in ("method", "horizon", "n", "MAE d", "median |e| d", "p90 |e| d",
                   "within ±3 d", "bias d"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method, by_h in result["methods"].items():
        for horizon, f in by_h.items():
            table.add_row(method, horizon, *(str(f[k]) for k in (
                "n", "mae_days", "median_abs_days", "p90_abs_days", "within_3_days",
                "bias_days")))
    console.print(table)
