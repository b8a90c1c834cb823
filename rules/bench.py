"""`fieldpulse bench rules`: readings per second per core through rule evaluation.

The fleet's models get a threshold rule and a duration rule on every metric;
simulated readings are evaluated in batches by the engine, and, in the same
run, by a plain reading-by-reading Python loop as the naive baseline. CPU time
(not wall time) is measured, so the figure is per core.
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


def simulated_readings(devices: int, samples: int, seed: int) -> dict[str, list[Reading]]:
    from simulators.driver import SimulatedDriver  # benchmarks may use the simulators
    from simulators.fleet import generate_fleet

    fleet = generate_fleet(seed=seed, sites=max(1, devices // 2))
    chosen = fleet.devices[:devices]
    driver = SimulatedDriver(chosen, load_models(), seed=seed)
    model_of = {d.id: d.model_id for d in chosen}
    start = 1_800_000_000_000
    by_model: dict[str, list[Reading]] = {}
    for step in range(samples):
        for r in driver.read(start + step * 1000):
            by_model.setdefault(model_of[r.dev], []).append((r.dev, r.ts, r.m))
    return by_model


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
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Readings per second per core through threshold and duration rules on every metric."""
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
    console.print(table)
    console.print(f"speed-up {result['speedup']}×")
