"""`fieldpulse user`: the first accounts of an installation, and recovering one."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from fieldpulse.cli import app
from foundations.database import make_engine
from portal.auth.accounts import authenticate, principal_for_token
from portal.auth.tables import AuditEvent


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


def test_a_locked_out_installation_is_recovered_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["user", *args, "--data-dir", str(tmp_path)],
                               env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.output

    run("add", "ops", "--role", "admin")
    run("add", "dora", "--role", "dispatcher")
    token = run("token", "dora").strip()
    engine = make_engine(f"sqlite:///{tmp_path / 'fieldpulse.db'}")

    run("disable", "dora")
    with Session(engine) as session:
        assert principal_for_token(session, token) is None  # refused at once
    run("enable", "dora")
    run("role", "dora", "admin")
    password = re.search(r"password: (\S+)", run("password", "dora"))
    assert password is not None
    with Session(engine) as session:
        user = authenticate(session, "dora", password.group(1))
        assert user is not None and user.role == "admin"
        assert principal_for_token(session, token) is not None
        actions = [e.action for e in session.exec(select(AuditEvent).where(
            AuditEvent.actor == "cli").order_by(AuditEvent.id))]
    assert actions[-4:] == ["user.disable", "user.enable", "user.role", "user.password_reset"]

    # The last admin cannot lock the installation out.
    run("role", "dora", "dispatcher")
    refused = runner.invoke(app, ["user", "disable", "ops", "--data-dir", str(tmp_path)])
    assert refused.exit_code == 1 and "last active admin" in refused.output
    unknown = runner.invoke(app, ["user", "disable", "nobody", "--data-dir", str(tmp_path)])
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output
