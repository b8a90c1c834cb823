"""The database holds plaintext QR tokens and webhook secrets: its directory and files
are the owner's alone."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from fieldpulse.parts import open_database
from fieldpulse.settings import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_and_the_sqlite_files_are_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = open_database(Settings(data_dir=data))
    with engine.begin() as conn:  # a write, so the WAL file exists
        conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        conn.execute(text("INSERT INTO probe VALUES (1)"))
    files = sorted(data.glob("fieldpulse.db*"))
    assert {f.name for f in files} >= {"fieldpulse.db", "fieldpulse.db-wal"}
    assert _mode(data) == 0o700
    assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    engine.dispose()


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "fieldpulse.db").touch(mode=0o644)
    open_database(Settings(data_dir=data)).dispose()
    assert _mode(data) == 0o700 and _mode(data / "fieldpulse.db") == 0o600
