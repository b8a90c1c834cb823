"""`fieldpulse user`: portal accounts and API tokens from the command line.

The first admin of a real installation is made here (the demo makes its own);
after that, admins manage users on /admin/users or through the API. The commands
here also recover a locked-out installation (a disabled or forgotten admin).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import Engine
from sqlmodel import Session, select

from fieldpulse.cli_common import DatabaseUrl, DataDir, console, database_engine

if TYPE_CHECKING:
    from portal.auth.tables import PortalUser

app = typer.Typer(help="Portal users and their API tokens.", no_args_is_help=True)


def _engine(data_dir: Path, database_url: str | None) -> Engine:
    from fieldpulse.schema import upgrade

    engine = database_engine(data_dir, database_url)
    upgrade(engine)
    return engine


EngineerOption = Annotated[str | None, typer.Option(
    help="For an engineer account: the engineer's id, whose jobs it sees.")]


@app.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[str, typer.Option(help="admin, dispatcher or engineer.")],
    engineer: EngineerOption = None,
    data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None,
) -> None:
    """Add a user with a generated password, printed once."""
    from foundations.database import session_scope
    from portal.auth.accounts import AccountError, create_user
    from portal.auth.audit import record

    try:
        with session_scope(_engine(data_dir, database_url)) as session:
            user, password = create_user(session, username, role, engineer_id=engineer)
            record(session, "cli", "user.create", f"user:{username}", role)
    except AccountError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from None
    console.print(f"user '{user.username}' ({user.role}) password: {password}")


@app.command("token")
def new_token(
    username: Annotated[str, typer.Argument(help="Whose token: it acts with their role.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "",
    data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None,
) -> None:
    """Issue an API token for `Authorization: Bearer`, printed once (only its hash is kept)."""
    from foundations.database import session_scope
    from portal.auth.accounts import issue_api_token
    from portal.auth.audit import record
    from portal.auth.tables import PortalUser

    with session_scope(_engine(data_dir, database_url)) as session:
        user = session.exec(select(PortalUser).where(PortalUser.username == username)).first()
        if user is None:
            console.print(f"[red]no user '{username}'[/red]")
            raise typer.Exit(1)
        token, plain = issue_api_token(session, user, name)
        record(session, "cli", "token.create", f"token:{token.id}", name)
    # Plain print: the token must not be wrapped or styled by the console.
    print(plain)


def _change(data_dir: Path, database_url: str | None, username: str, action: str,
            change: Callable[[Session, PortalUser], str]) -> None:
    """Apply `change` to the user in one transaction, audited as done by "cli"."""
    from foundations.database import session_scope
    from portal.auth.accounts import AccountError, get_user
    from portal.auth.audit import record

    try:
        with session_scope(_engine(data_dir, database_url)) as session:
            user = get_user(session, username)
            if user is None:
                raise AccountError(f"no user '{username}'")
            detail = change(session, user)
            record(session, "cli", action, f"user:{username}", detail)
    except AccountError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from None


@app.command("role")
def set_role(
    username: Annotated[str, typer.Argument(help="Whose role changes.")],
    role: Annotated[str, typer.Argument(help="admin, dispatcher or engineer.")],
    engineer: EngineerOption = None,
    data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None,
) -> None:
    """Give a user another role; it applies from their next request."""
    from portal.auth.accounts import change_role

    def change(session: Session, user: PortalUser) -> str:
        before = user.role
        change_role(session, user, role, engineer)
        return f"{before} -> {role}" + (f" {engineer}" if engineer else "")
    _change(data_dir, database_url, username, "user.role", change)
    console.print(f"user '{username}' is now {role}")


@app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="Who may no longer log in.")],
            data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None) -> None:
    """Lock a user out at once: their sessions end and their API tokens are refused."""
    _set_disabled(data_dir, database_url, username, True)


@app.command("enable")
def enable(username: Annotated[str, typer.Argument(help="Who may log in again.")],
           data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None) -> None:
    """Let a disabled user log in again (their unrevoked API tokens work again)."""
    _set_disabled(data_dir, database_url, username, False)


def _set_disabled(data_dir: Path, database_url: str | None, username: str,
                  disabled: bool) -> None:
    from portal.auth.accounts import set_disabled

    def change(session: Session, user: PortalUser) -> str:
        set_disabled(session, user, disabled)
        return ""
    verb = "disable" if disabled else "enable"
    _change(data_dir, database_url, username, f"user.{verb}", change)
    console.print(f"user '{username}' {verb}d")


@app.command("password")
def new_password(username: Annotated[str, typer.Argument(help="Whose password is reset.")],
                 data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None) -> None:
    """Reset a user's password to a generated one, printed once; their sessions end."""
    from portal.auth.accounts import reset_password

    password: list[str] = []

    def change(session: Session, user: PortalUser) -> str:
        password.append(reset_password(session, user))
        return ""
    _change(data_dir, database_url, username, "user.password_reset", change)
    console.print(f"user '{username}' password: {password[0]}")
