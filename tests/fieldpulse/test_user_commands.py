"""`fieldpulse user add` and `fieldpulse user token`: the first accounts of an installation."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import Session
from typer.testing import CliRunner

from asset_registry.database import make_engine
from fieldpulse.cli import app
from fieldpulse.cloud_cli import users_app  # noqa: F401  (registers `fieldpulse user`)
from portal.auth.accounts import authenticate, principal_for_token


def test_user_add_prints_a_password_that_logs_in_and_token_one_that_authenticates(
        tmp_path: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(app, ["user", "add", "ops", "--role", "admin",
                                "--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert added.exit_code == 0, added.output
    password = re.search(r"password: (\S+)", added.output)
    assert password is not None
    issued = runner.invoke(app, ["user", "token", "ops", "--name", "prometheus",
                                 "--data-dir", str(tmp_path)])
    assert issued.exit_code == 0, issued.output
    engine = make_engine(f"sqlite:///{tmp_path / 'fieldpulse.db'}")
    with Session(engine) as session:
        user = authenticate(session, "ops", password.group(1))
        assert user is not None and user.role == "admin"
        principal = principal_for_token(session, issued.output.strip())
        assert principal is not None and principal.username == "ops"

    again = runner.invoke(app, ["user", "add", "ops", "--role", "admin",
                                "--data-dir", str(tmp_path)])
    assert again.exit_code == 1 and "exists already" in again.output
    wrong = runner.invoke(app, ["user", "add", "eve", "--role", "root",
                                "--data-dir", str(tmp_path)])
    assert wrong.exit_code == 1 and "role must be one of" in wrong.output
