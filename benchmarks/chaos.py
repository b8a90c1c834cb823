"""`fieldpulse bench chaos`: issue 16's fault scenarios, larger and longer than the tests.

The same scenarios as `tests/chaos` (`testing_support.chaos_scenarios`) on real
processes: Mosquitto, the ingest worker, edge agents whose drivers keep ledgers.
Prints per scenario what the drivers produced and what the cloud stored: `lost` and
`duplicated` must be 0, `evicted` must equal `evictions_counted`. `--previous` runs
each scenario again with the gateways deleting on the broker's PUBACK (the behaviour
before end-to-end acks), side by side.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer


def bench_chaos(
    json_output: Annotated[bool, typer.Option("--json", help="One JSON line.")] = False,
    gateways: Annotated[int, typer.Option(help="Edge agents (own processes).")] = 6,
    stream_s: Annotated[float, typer.Option(help="Seconds each phase lets them produce.")] = 6.0,
    rounds: Annotated[int, typer.Option(help="kill -9 cloud-then-broker rounds.")] = 4,
    scenario: Annotated[list[str] | None, typer.Option(
        help="Scenarios to run (repeatable); all by default.")] = None,
    previous: Annotated[bool, typer.Option(
        "--previous", help="Also run each scenario with PUBACK deleting (no cloud acks).")
    ] = False,
) -> None:
    """Chaos scenarios with a produced-vs-stored ledger: lost, duplicated, evicted."""
    from testing_support.chaos_scenarios import SCENARIOS, Scale

    names = scenario or list(SCENARIOS)
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise typer.BadParameter(f"unknown scenario(s) {sorted(unknown)}; "
                                 f"choose from {', '.join(SCENARIOS)}")
    result: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="fp-bench-chaos-"))
    try:
        for name in names:
            for acks in (True, False) if previous else (True,):
                key = name if acks else f"{name}_previous"
                if not json_output:
                    typer.echo(f"running {key} ...", err=True)
                scale = Scale(gateways=gateways, stream_s=stream_s, rounds=rounds,
                              cloud_acks=acks, drain_timeout_s=300)
                result[key] = SCENARIOS[name](work / key, scale).as_dict()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if json_output:
        typer.echo(json.dumps(result))
        return
    from rich.console import Console
    from rich.table import Table

    columns = ("produced", "stored", "lost", "duplicated", "evicted", "evictions_counted")
    table = Table("scenario", *columns, title="chaos: produced vs stored, per reading")
    for key, figures in result.items():
        table.add_row(key, *(f"{figures[c]:,}" for c in columns))
    Console().print(table)
