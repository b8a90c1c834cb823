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
TABLE_MODULES = ("asset_registry.tables", "asset_registry.part_catalogue", "knowledge.tables",
                 "ingest.tables", "rules.tables", "notifications.tables", "service.tables",
                 "service.stock_tables",
                 "dispatch.tables", "sales.tables",
                 "integrations.domain_events.tables", "integrations.webhooks.tables",
                 "integrations.idempotency", "commands.tables", "portal.auth.tables")


def target_metadata() -> MetaData:
    # Table modules register themselves on SQLModel's metadata when imported.
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return SQLModel.metadata


# The article search index lives beside the tables, made by its migration: SQLite's
# FTS5 table (and the shadow tables FTS5 keeps) or PostgreSQL's expression index.
def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Whether Alembic compares this database object with the tables."""
    from knowledge.tables import FTS_TABLE, PG_INDEX

    return not (name or "").startswith(FTS_TABLE) and name != PG_INDEX


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to the newest schema (or to `revision`); a new install gets
    the troubleshooting articles that ship with FieldPulse (`knowledge/articles/`)."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
    if revision == "head":
        from knowledge.store import seed

        seed(engine)


def new_revision(engine: Engine, message: str) -> None:
    """Write the migration from the current database to the current tables."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
