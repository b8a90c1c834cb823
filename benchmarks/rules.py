"""`fieldpulse bench rules`: readings per second per core through rule evaluation.

The fleet's models get a threshold rule and a duration rule on every metric;
simulated readings are evaluated in batches by the engine, and, in the same
run, by a plain reading-by-reading Python loop as the naive baseline. Then the
anomaly conditions on every continuous metric, against their own baseline
(`benchmarks.anomaly_cost`). CPU time (not wall time) is measured, so the figure is
per core.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from asset_registry.catalog import DeviceModel, load_models
from asset_registry.rule_spec import parse_rules
from rules.engine import Reading, RuleEngine


def bench_models(models: dict[str, DeviceModel], by_model: dict[str, list[Reading]]
                 ) -> dict[str, DeviceModel]:
    """Each model with a threshold and a 60-s duration rule on every metric.

    Thresholds sit at the 90th percentile of the simulated values (clearing at
    the median), so alerts really rise and clear and both evaluators can be
    compared on what they raise, not only on speed.
    """
    out = {}
    for model_id, rows in by_model.items():
        model = models[model_id]
        specs = []
        for key in model.attributes:
            values = np.array([m[key] for _, _, m in rows])
            hi, clear = float(np.percentile(values, 90)), float(np.percentile(values, 50))
            base = {"metric": key, "condition": "above", "threshold": hi, "clear": clear,
                    "severity": "high", "message": f"{key} high"}
            specs += [{**base, "id": f"{key}-high"},
                      {**base, "id": f"{key}-held", "for_s": 60}]
        out[model_id] = replace(model, rules=parse_rules(specs, "bench", model.attributes))
    return out


START_MS = 1_800_000_000_000


def simulated_readings(devices: int, samples: int, seed: int, start: int = START_MS,
                       step_ms: int = 1000) -> dict[str, list[Reading]]:
    from simulators.driver import SimulatedDriver  # benchmarks may use the simulators
    from simulators.fleet import generate_fleet

    fleet = generate_fleet(seed=seed, sites=max(1, devices // 2))
    chosen = fleet.devices[:devices]
    driver = SimulatedDriver(chosen, load_models(), seed=seed)
    model_of = {d.id: d.model_id for d in chosen}
    by_model: dict[str, list[Reading]] = {}
    for step in range(samples):
        for r in driver.read(start + step * step_ms):
            by_model.setdefault(model_of[r.dev], []).append((r.dev, r.ts, r.m))
    return by_model


def warm_up_data(devices: int, seed: int) -> tuple[dict[str, list[Reading]], dict[str, np.ndarray]]:
    """Readings from the 30 hours before the bench, every five minutes (to fit the model
    detectors: a first fit spans a day) and,
    per model, a long series of one device's minute values (to fill a detector's memory)."""
    from benchmarks.anomaly_cost import WARM_WINDOWS, continuous

    models = load_models()
    before = simulated_readings(devices, 360, seed, START_MS - 30 * 3_600_000, 300_000)
    long = simulated_readings(len(models) * 2, WARM_WINDOWS, seed + 1,
                              START_MS - WARM_WINDOWS * 60_000, 60_000)
    history = {}
    for model_id, rows in long.items():
        first = rows[0][0]
        mine = [m for d, _, m in rows if d == first]
        keys = continuous(models[model_id], rows)
        history[model_id] = np.array([[m[k] for k in keys] for m in mine])
    return before, history


def naive(models: dict[str, DeviceModel], by_model: dict[str, list[Reading]]) -> int:
    """The baseline: every rule checked on every reading in a Python loop."""
    active: dict[tuple[str, str], bool] = {}
    since: dict[tuple[str, str], int] = {}
    raised = 0
    for model_id, rows in by_model.items():
        rules = models[model_id].rules
        for device, ts, metrics in rows:
            for rule in rules:
                key = (device, rule.id)
                value = metrics[rule.metric]
                if value > rule.threshold:
                    start = since.setdefault(key, ts)
                    if not active.get(key) and ts - start >= rule.for_s * 1000:
                        active[key] = True
                        raised += 1
                else:
                    since.pop(key, None)
                    if value <= rule.clear:
                        active[key] = False
    return raised


def batched(models: dict[str, DeviceModel], by_model: dict[str, list[Reading]],
            batch: int) -> int:
    engine = RuleEngine(models)
    raised = 0
    for model_id, rows in by_model.items():
        for i in range(0, len(rows), batch):
            raised += sum(t.kind == "raise" for t in engine.evaluate(model_id, rows[i:i + batch]))
    return raised


def _cpu(fn) -> tuple[float, int]:
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def bench_rules(
    devices: Annotated[int, typer.Option(help="Simulated devices.")] = 200,
    samples: Annotated[int, typer.Option(help="Samples per device (1 Hz).")] = 600,
    batch: Annotated[int, typer.Option(help="Readings per evaluation batch.")] = 5000,
    anomaly: Annotated[bool, typer.Option(help="Also measure the anomaly conditions.")] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Readings per second per core through threshold, duration and anomaly rules."""
    console = Console(stderr=json_output)
    with console.status("simulating readings…"):
        by_model = simulated_readings(devices, samples, seed=11)
    models = bench_models(load_models(), by_model)
    total = sum(len(rows) for rows in by_model.values())
    rules = sum(len(m.rules) for m in models.values()) // len(models)
    naive_s, naive_raised = _cpu(lambda: naive(models, by_model))
    batch_s, batch_raised = _cpu(lambda: batched(models, by_model, batch))
    result = {
        "readings": total,
        "rules_per_model": rules,
        "batched_readings_per_s_per_core": round(total / batch_s),
        "naive_readings_per_s_per_core": round(total / naive_s),
        "speedup": round(naive_s / batch_s, 2),
        "alerts_batched": batch_raised,
        "alerts_naive": naive_raised,
    }
    if anomaly:
        from benchmarks.anomaly_cost import bench_anomaly

        with console.status("warming up anomaly detectors…"):
            before, history = warm_up_data(devices, seed=11)
        result |= bench_anomaly(load_models(), by_model, before, history, batch,
                                baseline_readings=3000, threshold_models=models)
    if json_output:
        print(json.dumps(result))
        return
    table = Table(title=f"{total:,} readings, ~{rules} rules per model, batches of {batch:,}")
    table.add_column("evaluator")
    table.add_column("readings/s per core", justify="right")
    table.add_column("alerts raised", justify="right")
    table.add_row("batched (numpy)", f"{result['batched_readings_per_s_per_core']:,}",
                  str(batch_raised))
    table.add_row("naive per-reading loop", f"{result['naive_readings_per_s_per_core']:,}",
                  str(naive_raised))
    if anomaly:
        table.add_row("on ingest's column blocks: threshold + duration",
                      f"{result['threshold_blocks_readings_per_s_per_core']:,}", "")
        table.add_row("anomaly, every continuous metric (5-min means)",
                      f"{result['anomaly_readings_per_s_per_core']:,}", "")
        table.add_row("model_anomaly over the same metrics",
                      f"{result['model_anomaly_readings_per_s_per_core']:,}", "")
        table.add_row(f"anomaly baseline: every raw reading "
                      f"({result['anomaly_baseline_readings']:,} readings)",
                      f"{result['anomaly_per_reading_baseline_readings_per_s_per_core']:,}", "")
    console.print(table)
    console.print(f"speed-up {result['speedup']}×")
