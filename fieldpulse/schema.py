"""The database schema: every component's tables, created and upgraded by Alembic.

Migrations live in `fieldpulse/migrations/versions/`. After changing a table,
generate the next migration with `fieldpulse db revision -m "what changed"`
and review it; `fieldpulse db upgrade` (and every start of the system) brings a
database to the newest schema.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData
from sqlmodel import SQLModel

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


# Every component's tables, lowest layer first.
TABLE_MODULES = ("asset_registry.tables", "asset_registry.part_catalogue", "ingest.tables",
                 "rules.tables", "notifications.tables", "service.tables", "service.stock_tables",
                 "dispatch.tables", "sales.tables",
                 "integrations.domain_events.tables", "integrations.webhooks.tables",
                 "integrations.idempotency", "commands.tables", "portal.auth.tables")


def target_metadata() -> MetaData:
    # Table modules register themselves on SQLModel's metadata when imported.
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return SQLModel.metadata


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to the newest schema (or to `revision`)."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def new_revision(engine: Engine, message: str) -> None:
    """Write the migration from the current database to the current tables."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
