"""What the `fieldpulse` commands share: the console, common options, logging set-up.

Small and light on purpose: the gateway's commands load it too, so it imports
nothing of the cloud side (`database_engine` imports the database when called).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Third-party packages only the cloud side needs (the `cloud` extra): a gateway's
# install has none of them, and the commands that need them are left out there.
CLOUD_ONLY = frozenset({
    "numpy", "sqlalchemy", "sqlmodel", "alembic", "fastapi", "uvicorn", "ortools", "jinja2",
    "segno", "multipart", "psutil", "psycopg", "influxdb_client", "prometheus_client"})

console = Console()
DataDir = Annotated[Path, typer.Option(help="Where the database, broker data and logs go.")]
DatabaseUrl = Annotated[str | None, typer.Option(
    help="SQLAlchemy URL (default: the SQLite file in --data-dir).")]


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def database_engine(data_dir: Path, database_url: str | None) -> Engine:
    """The engine of `--database-url`, else of the SQLite file in `--data-dir`."""
    from fieldpulse.settings import Settings
    from foundations.database import make_engine

    data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(Settings(data_dir=data_dir.resolve(), database_url=database_url).db_url)
