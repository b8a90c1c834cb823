"""`fieldpulse`: the one console script that assembles the components.

The gateway's commands load only what the edge agent needs; the cloud side's
commands (`fieldpulse.cloud_cli`) are added when its packages are installed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edge_agent.bench import bench_edge
from edge_agent.cli import edge
from fieldpulse.broker_accounts import provision_app
from firmware_contracts.cli import app as contracts_app

# Third-party packages only the cloud side needs: without them (a gateway's
# install) the cloud commands are left out instead of failing at start.
CLOUD_ONLY = {"numpy", "sqlalchemy", "sqlmodel", "alembic", "fastapi", "uvicorn", "ortools",
              "jinja2", "segno", "multipart", "psutil", "httpx", "psycopg", "influxdb_client",
              "prometheus_client"}

app = typer.Typer(help="FieldPulse: IoT telemetry, alerts and field-service dispatch.",
                  no_args_is_help=True)
app.add_typer(contracts_app, name="contracts", help="Check payloads against the wire contract.")
app.command("edge")(edge)
app.add_typer(provision_app, name="provision",
              help="Broker accounts: gateway passwords and the ACL Mosquitto enforces.")
bench_app = typer.Typer(help="Benchmarks: measured figures, side by side with a baseline.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")
bench_app.command("edge")(bench_edge)

console = Console()
DataDir = Annotated[Path, typer.Option(help="Where the database, broker data and logs go.")]


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def _add_cloud_commands() -> None:
    try:
        import fieldpulse.cloud_cli  # noqa: F401  (registers its commands on `app`)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in CLOUD_ONLY:
            raise


_add_cloud_commands()
