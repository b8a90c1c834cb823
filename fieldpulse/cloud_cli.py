"""The cloud side's commands: the demo, the one-machine run, the database, benchmarks.

Kept apart from `fieldpulse.cli` so a gateway installs only what the edge agent
needs (`pip install fieldpulse`); these arrive with `pip install fieldpulse[cloud]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dispatch.bench import app as dispatch_bench_app
from fieldpulse.cli import DataDir, _logging, app, bench_app, console
from fieldpulse.users_cli import app as users_app
from ingest.bench import bench_ingest
from rules.anomaly.cli import app as anomaly_app
from rules.bench import bench_rules
from rules.detect_bench import bench_detect
from sales.bench import bench_forecast

TileUrl = Annotated[str, typer.Option(
    help="Leaflet tile URL template, e.g. https://tile.example/{z}/{x}/{y}.png "
         "(empty: the map works without background tiles).")]
Port = Annotated[int, typer.Option(help="HTTP port of the portal.")]

simulate_app = typer.Typer(help="Simulated gateways and fleets (demo, load and accuracy tests).",
                           no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")
app.add_typer(users_app, name="user")
bench_app.command("rules")(bench_rules)
bench_app.command("detect")(bench_detect)
bench_app.command("ingest")(bench_ingest)
bench_app.command("forecast")(bench_forecast)
bench_app.add_typer(dispatch_bench_app, name="dispatch")
app.add_typer(anomaly_app, name="anomaly", help="Score CSV files with the streaming detector.")


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
    smtp: Annotated[str | None, typer.Option(
        help="HOST:PORT of the SMTP server notifications go out through "
             "(default: they are written to the log). Password: $FIELDPULSE_SMTP_PASSWORD."
    )] = None,
    smtp_from: Annotated[str, typer.Option(help="Sender address of notifications.")
                         ] = "fieldpulse@localhost",
    smtp_user: Annotated[str | None, typer.Option(help="SMTP login name.")] = None,
    smtp_starttls: Annotated[bool, typer.Option(help="Upgrade the SMTP connection to TLS.")
                             ] = False,
    supervisor_email: Annotated[str, typer.Option(
        help="Where the service supervisor's notifications go.")] = "",
    review_plans: Annotated[bool, typer.Option(
        help="Periodic re-plans wait for a dispatcher to accept them in the console "
             "(emergencies still go in at once).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the cloud side (ingest, rules, dispatch, portal) on one machine."""
    from fieldpulse.runner import run_cloud

    _logging(verbose)
    mail = {}
    if smtp:
        host, _, smtp_port = smtp.rpartition(":")
        if not host or not smtp_port.isdigit():
            raise typer.BadParameter(f"expected HOST:PORT, got '{smtp}'", param_hint="--smtp")
        mail = {"smtp_host": host, "smtp_port": int(smtp_port)}
    run_cloud(data_dir=data_dir, port=port, broker=broker, tile_url=tile_url, console=console,
              smtp_from=smtp_from, smtp_user=smtp_user, smtp_starttls=smtp_starttls,
              supervisor_email=supervisor_email, dispatch_review=review_plans, **mail)


db_app = typer.Typer(help="The database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
DatabaseUrl = Annotated[str | None, typer.Option(
    help="SQLAlchemy URL (default: the SQLite file in --data-dir).")]


def _engine(data_dir: Path, database_url: str | None):
    from fieldpulse.settings import Settings
    from foundations.database import make_engine

    data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(Settings(data_dir=data_dir.resolve(), database_url=database_url).db_url)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None) -> None:
    """Bring the database to the newest schema (every start does this too)."""
    from fieldpulse.schema import upgrade

    upgrade(_engine(data_dir, database_url))
    console.print("database schema is up to date")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What changed.")],
    data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None,
) -> None:
    """Write the next migration from the difference between the database and the tables."""
    from fieldpulse.schema import new_revision, upgrade

    engine = _engine(data_dir, database_url)
    upgrade(engine)
    new_revision(engine, message)


@simulate_app.command("gateway")
def simulate_gateway(
    config: Annotated[Path, typer.Argument(help="Gateway config JSON written by the demo.")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run one edge agent whose driver is the device simulator."""
    from simulators.gateway_process import run_gateway

    _logging(verbose)
    run_gateway(config)
