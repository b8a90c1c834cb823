"""`fieldpulse`: the one console script that assembles the components."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from firmware_contracts.cli import app as contracts_app
from rules.bench import bench_rules

app = typer.Typer(help="FieldPulse: IoT telemetry, alerts and field-service dispatch.",
                  no_args_is_help=True)
app.add_typer(contracts_app, name="contracts", help="Check payloads against the wire contract.")
simulate_app = typer.Typer(help="Simulated gateways and fleets (demo, load and accuracy tests).",
                           no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")
bench_app = typer.Typer(help="Benchmarks: measured figures, side by side with a baseline.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")
bench_app.command("rules")(bench_rules)

console = Console()

DataDir = Annotated[Path, typer.Option(help="Where the database, broker data and logs go.")]
Port = Annotated[int, typer.Option(help="HTTP port of the portal.")]
TileUrl = Annotated[str, typer.Option(
    help="Leaflet tile URL template, e.g. https://tile.example/{z}/{x}/{y}.png "
         "(empty: the map works without background tiles).")]


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


@app.command()
def demo(
    port: Port = 8000,
    data_dir: DataDir = Path("demo-data"),
    qr_dir: Annotated[Path, typer.Option(help="Where device QR codes are written.")] = Path("qr"),
    sites: Annotated[int, typer.Option(help="Customer sites in the simulated fleet.")] = 12,
    tile_url: TileUrl = "",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the whole system with a simulated fleet until stopped (Ctrl-C)."""
    from fieldpulse.demo import run_demo  # simulators are loaded only for the demo

    _logging(verbose)
    run_demo(data_dir=data_dir, qr_dir=qr_dir, port=port, sites=sites, tile_url=tile_url,
             console=console)


@app.command()
def run(
    port: Port = 8000,
    data_dir: DataDir = Path("var"),
    broker: Annotated[str | None, typer.Option(
        help="HOST:PORT of an MQTT broker to use instead of starting one.")] = None,
    tile_url: TileUrl = "",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the cloud side (ingest, rules, dispatch, portal) on one machine."""
    from fieldpulse.runner import run_cloud

    _logging(verbose)
    run_cloud(data_dir=data_dir, port=port, broker=broker, tile_url=tile_url, console=console)


@simulate_app.command("gateway")
def simulate_gateway(
    config: Annotated[Path, typer.Argument(help="Gateway config JSON written by the demo.")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run one edge agent whose driver is the device simulator."""
    from simulators.gateway_process import run_gateway

    _logging(verbose)
    run_gateway(config)


if __name__ == "__main__":
    app()
