"""The Alembic migrations build exactly the schema the tables declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from fieldpulse.schema import include_name, target_metadata, upgrade
from foundations.database import make_engine


def test_migrations_match_the_tables_and_upgrade_is_idempotent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
    upgrade(engine)
    upgrade(engine)  # a second start changes nothing
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(
            conn, opts={"include_name": include_name}), target_metadata())
    assert diff == [], f"tables and migrations differ; run `fieldpulse db revision`: {diff}"
    # The one-open-alert guarantee lives in the database, so it must survive migration.
    index = next(ix for ix in inspect(engine).get_indexes("alert")
                 if ix["name"] == "ux_alert_one_open")
    assert index["unique"]
    assert "acknowledged" in str(index["dialect_options"]["sqlite_where"])


def test_notifications_waiting_as_recorded_are_pending_after_the_upgrade(tmp_path: Path) -> None:
    """Before one delivery worker sent every notifier's notifications, an alert's waited as
    "recorded": they must not be stranded by the upgrade."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "a8e0c0010003")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO notification (audience, recipient, message, created_at, "
                          "status) VALUES ('owner', 'a@b.example', 'm', 1, 'recorded'), "
                          "('owner', 'a@b.example', 'm', 1, 'sent')"))
    upgrade(engine)
    with engine.connect() as conn:
        statuses = sorted(conn.execute(text("SELECT status FROM notification")).scalars())
    assert statuses == ["pending", "sent"]
