"""Dispatcher benchmarks (not tests): Solomon VRPTW and a synthetic city day.

    fieldpulse bench dispatch solomon INSTANCE.txt --time-limit 30
    fieldpulse bench dispatch solomon-all --time-limit 30 --out DIR
    fieldpulse bench dispatch solomon-baseline R101 RC101 --time-limit 30
    fieldpulse bench dispatch field --jobs 1000 --engineers 100 --time-limit 60

or the same with `python -m benchmarks.dispatch` from the repository root. The
Solomon instances and their checker come from the shared benchmark data
(`--shared-data DIR`, else $FIELDPULSE_BENCH_DATA; see `benchmarks.shared_data`).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from benchmarks.dispatch.parts import compare
from benchmarks.dispatch.solomon import Tuning, read_instance, solve_instance
from benchmarks.dispatch.solomon_naive import solve_naive
from benchmarks.shared_data import ENV, solomon_checker, solomon_dir
from dispatch.heuristics.emergency import insert_emergency
from dispatch.heuristics.greedy import greedy_plan
from dispatch.plan_stats import plan_stats
from dispatch.problem import Job, Location
from dispatch.solver import solve
from dispatch.travel import points_of, travel_matrix
from testing_support.city_days import SKILLS, city_day

app = typer.Typer(help="Dispatcher benchmarks: Solomon VRPTW, field-scale city day.",
                  no_args_is_help=True)


@app.callback()
def dispatch_benchmarks(
    ctx: typer.Context,
    shared_data: Annotated[Path | None, typer.Option(
        help=f"The shared benchmark data (solomon/, homberger/, ...; checkers in tools/ "
             f"beside it). Default: ${ENV}, else <repository>/../shared/data.",
        show_default=False)] = None,
) -> None:
    """Dispatcher benchmarks: Solomon VRPTW, field-scale city day."""
    ctx.obj = shared_data


TimeLimit = Annotated[float, typer.Option("--time-limit", help="Seconds per solve.")]
TuningJson = Annotated[str, typer.Option(help='Tuning fields as JSON, e.g. \'{"spare": 3}\'.')]
SolomonData = Annotated[Path | None, typer.Option(
    help="Folder of Solomon .txt files (default: solomon/ in the shared data).",
    show_default=False)]


@app.command("solomon")
def solomon(instance: Path, time_limit: TimeLimit = 30.0, tuning: TuningJson = "{}") -> None:
    """Solve one Solomon instance; print {routes, vehicles, distance} as JSON."""
    inst = read_instance(instance)
    solution = solve_instance(inst, time_limit, Tuning(**json.loads(tuning)))
    print(json.dumps({"instance": inst.name, "routes": solution.routes,
                      "vehicles": solution.vehicles, "distance": round(solution.distance, 2)}))


@app.command("solomon-all")
def solomon_all(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Where solutions and the table go.")],
    time_limit: TimeLimit = 30.0,
    data: SolomonData = None,
    checker: Annotated[Path | None, typer.Option(
        help="The independent checker (default: tools/solomon_check.py beside the shared "
             "data).", show_default=False)] = None,
    only: Annotated[str, typer.Option(help="Comma-separated instance names.")] = "",
    tuning: TuningJson = "{}",
) -> None:
    """Every instance in turn, each checked by solomon_check.py; prints the table."""
    data = data or solomon_dir(ctx.obj)
    checker = checker or solomon_checker(ctx.obj)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(p.stem for p in data.glob("*.txt"))
    if only:
        names = [n for n in names if n.upper() in {o.upper() for o in only.split(",")}]
    rows = []
    header = f"{'instance':8} {'feasible':8} {'veh':>4} {'bks veh':>7} " \
             f"{'distance':>9} {'bks dist':>9} {'gap %':>7} {'secs':>6} {'cpu s':>6}"
    print(header, flush=True)
    for name in names:
        started, cpu_started = time.monotonic(), _cpu_seconds()
        inst = read_instance(data / f"{name}.txt")
        solution = solve_instance(inst, time_limit, Tuning(**json.loads(tuning)))
        secs = time.monotonic() - started
        # CPU seconds the solve got (with its portfolio's worker processes): on a
        # shared box fewer than ``secs`` per process.
        cpu = _cpu_seconds() - cpu_started
        path = out / f"{name}.json"
        path.write_text(json.dumps({"routes": solution.routes, "vehicles": solution.vehicles,
                                    "distance": round(solution.distance, 2)}))
        done = subprocess.run([sys.executable, str(checker), str(data / f"{name}.txt"),
                               str(path)], capture_output=True, text=True, check=False)
        report = json.loads(done.stdout)
        report["seconds"], report["cpu_seconds"] = round(secs, 1), round(cpu, 1)
        rows.append(report)
        print(f"{name:8} {report['feasible']!s:8} {report['vehicles']:>4} "
              f"{report.get('bks_vehicles', ''):>7} {report['distance']:>9.2f} "
              f"{report.get('bks_distance_only', 0):>9.2f} {report.get('gap_pct', 0):>7.3f} "
              f"{secs:>6.1f} {cpu:>6.1f}", flush=True)
    gaps = [r["gap_pct"] for r in rows if "gap_pct" in r]
    summary = {
        "instances": len(rows),
        "feasible": sum(r["feasible"] for r in rows),
        "mean_gap_pct": round(statistics.fmean(gaps), 3) if gaps else None,
        "vehicles": sum(r["vehicles"] for r in rows),
        "bks_vehicles_distance_only": _bks_vehicles(data, names),
        "time_limit_s": time_limit,
        "mean_cpu_s": round(statistics.fmean(r["cpu_seconds"] for r in rows), 1) if rows else None,
    }
    (out / "table.json").write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    print(json.dumps(summary), flush=True)


@app.command("solomon-baseline")
def solomon_baseline(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(help="Instance names, e.g. R101 RC101.")],
    time_limit: TimeLimit = 30.0,
    data: SolomonData = None,
) -> None:
    """The naive set-up (callbacks, path-cheapest-arc, every visit mandatory)
    against the benchmark's model, same instance and budget, one JSON line each."""
    data = data or solomon_dir(ctx.obj)
    bks = _bks_rows(data)
    for name in names:
        inst = read_instance(data / f"{name.upper()}.txt")
        best = float(bks[inst.name.upper()]["distance_only_distance"]) \
            if inst.name.upper() in bks else None
        row: dict[str, object] = {"instance": inst.name, "time_limit_s": time_limit}
        for label, solver in (("naive", solve_naive), ("ours", solve_instance)):
            started = time.monotonic()
            solution = solver(inst, time_limit)
            result: dict[str, object] = {
                "found": solution is not None, "seconds": round(time.monotonic() - started, 1)}
            if solution is not None:
                result |= {
                    "vehicles": solution.vehicles, "distance": round(solution.distance, 2),
                    "gap_pct": round(100 * (solution.distance / best - 1), 3) if best else None}
            row[label] = result
        print(json.dumps(row), flush=True)


def _cpu_seconds() -> float:
    """This process's CPU time plus that of its ended children (the solve's
    workers; read before the checker runs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _bks_rows(data: Path) -> dict[str, dict[str, str]]:
    """The best-known table's rows by upper-case instance name."""
    import csv

    with open(data / "bks.csv") as f:
        return {r["instance"].upper(): r for r in csv.DictReader(f)}


def _bks_vehicles(data: Path, names: list[str]) -> int:
    rows = _bks_rows(data)
    return sum(int(rows[n.upper()]["distance_only_vehicles"]) for n in names if n.upper() in rows)


@app.command("field")
def field(
    jobs: Annotated[int, typer.Option(help="Work orders in the day.")] = 1000,
    engineers: Annotated[int, typer.Option(help="Engineers on shift.")] = 100,
    time_limit: TimeLimit = 60.0,
    emergencies: Annotated[int, typer.Option(help="Emergency insertions to time.")] = 50,
    seed: int = 7,
    lunch: Annotated[bool, typer.Option(help="Engineers take a 30-min lunch.")] = True,
    parts: Annotated[bool, typer.Option(
        help="Some jobs need a spare part, vans carry some: the plan minds them and is "
             "compared with a parts-blind plan of the same day.")] = True,
    warehouses: Annotated[int, typer.Option(
        help="Warehouses in the city holding every part, for pick-ups on the way "
             "(with --parts).")] = 0,
) -> None:
    """Greedy baseline vs first plan vs plan after TIME_LIMIT, then emergency latency;
    with parts, second visits avoided against the parts-blind plan, and their travel."""
    problem = city_day(jobs, engineers, seed=seed, lunch=lunch, parts=parts,
                       warehouses=warehouses)
    started = time.monotonic()
    times = travel_matrix(points_of(problem))
    matrix_s = time.monotonic() - started

    started = time.monotonic()
    greedy = greedy_plan(problem, times)
    greedy_s = time.monotonic() - started

    started = time.monotonic()
    first = solve(problem, time_limit, deterministic=False, times=times, first_only=True)
    first_s = time.monotonic() - started

    started = time.monotonic()
    plan = solve(problem, time_limit, deterministic=False, times=times)
    full_s = time.monotonic() - started

    latencies = []
    rng = np.random.default_rng(seed)
    placed = 0
    for k in range(emergencies):
        job = Job(f"emergency-{k}", Location(48.05 + rng.random() * 0.18,
                                             11.40 + rng.random() * 0.30),
                  SKILLS[k % len(SKILLS)], 3600, 5, sla_due=4 * 3600)
        started = time.perf_counter()
        result = insert_emergency(problem, times, plan, job)
        latencies.append(time.perf_counter() - started)
        placed += result.engineer_id is not None
    report: dict[str, object] = {
        "jobs": jobs, "engineers": engineers, "seed": seed, "lunch": lunch,
        "warehouses": warehouses if parts else 0,
        "matrix_s": round(matrix_s, 2),
        "greedy": {"seconds": round(greedy_s, 2), **plan_stats(problem, greedy, times)},
        "first_plan": {"seconds": round(first_s, 2), **plan_stats(problem, first, times)},
        "solver": {"seconds": round(full_s, 1), "time_limit_s": time_limit,
                   **plan_stats(problem, plan, times)},
        "emergency_insertion_ms": {
            "n": emergencies, "placed": placed,
            "median": round(1000 * statistics.median(latencies), 1),
            "worst": round(1000 * max(latencies), 1),
        },
    }
    if parts:  # the same day planned parts-blind, in the same run
        report["parts"] = compare(problem, times, time_limit, aware=plan)
    print(json.dumps(report, indent=1), flush=True)
