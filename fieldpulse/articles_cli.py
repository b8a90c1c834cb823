"""`fieldpulse articles import DIR` and `export DIR`: troubleshooting articles as
Markdown files with front matter, so a manufacturer keeps them in git."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fieldpulse.cli_common import DatabaseUrl, DataDir, console, database_engine

app = typer.Typer(help="Troubleshooting articles as Markdown files (knowledge/README.md).",
                  no_args_is_help=True)
Folder = Annotated[Path, typer.Argument(help="A folder of <slug>.md files.")]


@app.command("import")
def import_articles(folder: Folder, data_dir: DataDir = Path("var"),
                    database_url: DatabaseUrl = None) -> None:
    """Create or update an article from every *.md file; a changed one gets a new
    version, an unchanged one is left alone. A bad file changes nothing."""
    from fieldpulse.schema import upgrade
    from foundations.clock import now_ms
    from foundations.database import session_scope
    from knowledge.front_matter import ArticleFormatError
    from knowledge.store import import_dir

    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder")
    engine = database_engine(data_dir, database_url)
    upgrade(engine)
    try:
        with session_scope(engine) as session:
            results = import_dir(session, folder, by="cli", at=now_ms())
    except (ArticleFormatError, UnicodeDecodeError) as err:
        console.print(f"[red]not imported:[/red] {err}")
        raise typer.Exit(1) from None
    changed = [slug for slug, did in results if did]
    console.print(f"{len(results)} article(s) read, {len(changed)} new or changed"
                  + (f": {', '.join(changed)}" if changed else ""))


@app.command("export")
def export_articles(folder: Folder, data_dir: DataDir = Path("var"),
                    database_url: DatabaseUrl = None) -> None:
    """Write every article's current version to <folder>/<slug>.md."""
    from fieldpulse.schema import upgrade
    from foundations.database import session_scope
    from knowledge.store import export_dir

    engine = database_engine(data_dir, database_url)
    upgrade(engine)
    with session_scope(engine) as session:
        written = export_dir(session, folder)
    console.print(f"{len(written)} article(s) written to {folder}")
