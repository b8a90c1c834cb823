"""`fieldpulse user`: portal accounts and API tokens from the command line.

The first admin of a real installation is made here (the demo makes its own);
after that, admins can add users through the API (POST /api/users).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import Engine
from sqlmodel import select

from fieldpulse.cli import DataDir, console

app = typer.Typer(help="Portal users and their API tokens.", no_args_is_help=True)
DatabaseUrl = Annotated[str | None, typer.Option(
    help="SQLAlchemy URL (default: the SQLite file in --data-dir).")]


def _engine(data_dir: Path, database_url: str | None) -> Engine:
    from asset_registry.database import make_engine
    from fieldpulse.schema import upgrade
    from fieldpulse.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(Settings(data_dir=data_dir.resolve(), database_url=database_url).db_url)
    upgrade(engine)
    return engine


@app.command("add")
def add_user(
    username: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[str, typer.Option(help="admin, dispatcher or engineer.")],
    engineer: Annotated[str | None, typer.Option(
        help="For an engineer account: the engineer's id, whose jobs it sees.")] = None,
    data_dir: DataDir = Path("var"), database_url: DatabaseUrl = None,
) -> None:
    """Add a user with a generated password, printed once."""
    from asset_registry.database import session_scope
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
    from asset_registry.database import session_scope
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
