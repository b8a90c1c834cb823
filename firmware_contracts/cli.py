"""`fieldpulse contracts check FILE.json ...`: the checker firmware teams run on their payloads.

Exit status: 0 all valid, 1 some payload invalid, 2 a kind unknown or not detectable.
"""

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from firmware_contracts.errors import ContractError
from firmware_contracts.kinds import KINDS, Kind
from firmware_contracts.validate import decode, detect_kind, validate

EXIT_INVALID = 1
EXIT_USAGE = 2

app = typer.Typer(
    help="FieldPulse device wire contract v1: check payloads against the schemas.",
    no_args_is_help=True,
)


@app.callback()
def contracts() -> None:
    """FieldPulse device wire contract v1 (topics fp/v1/gw/{gateway_id}/...)."""
    # A callback keeps `check` a named sub-command even while it is the only one.


@app.command()
def check(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Payload files, one JSON document each.",
            metavar="FILE.json...",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", "-k", help=f"One of {', '.join(KINDS)}; detected from the fields if left out."
        ),
    ] = None,
) -> None:
    """Validate payload files against contract v1 and name the first offending field."""
    if kind is not None and kind not in KINDS:
        raise typer.BadParameter(
            f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}", param_hint="--kind"
        )
    # soft_wrap: a long field path must stay on one line for grep and for tests.
    console = Console(highlight=False, soft_wrap=True)
    worst = 0
    for path in files:
        worst = max(worst, _check_file(console, path, kind))
    raise typer.Exit(worst)


def _check_file(console: Console, path: Path, kind: str | None) -> int:
    try:
        doc = decode(kind or "payload", path.read_bytes())
        detected = kind or detect_kind(doc)
        if detected is None:
            console.print(
                Text.assemble(
                    ("UNKNOWN", "bold yellow"),
                    f" cannot tell the kind from the fields; pass --kind ({', '.join(KINDS)})",
                    (f"  {path}", "dim"),
                )
            )
            return EXIT_USAGE
        validate(detected, doc)
    except ContractError as err:
        console.print(Text.assemble(("INVALID", "bold red"), f" {err}", (f"  {path}", "dim")))
        return EXIT_INVALID
    summary = _summary(detected, doc)
    console.print(
        Text.assemble(("OK", "bold green"), f" {detected} ({summary})", (f"  {path}", "dim"))
    )
    return 0


def _summary(kind: Kind | str, doc: dict[str, Any]) -> str:
    if kind == "telemetry":
        count = len(doc["readings"])
        epoch = f", epoch {doc['epoch']}" if "epoch" in doc else ""
        return (f"{count} reading{'' if count == 1 else 's'}, gw {doc['gw']}{epoch}, "
                f"seq {doc['seq']}")
    if kind == "status":
        if doc["state"] == "online":
            return f"gw {doc['gw']} online, fw {doc['fw']}, {len(doc['devices'])} devices"
        return f"gw {doc['gw']} offline"
    if kind == "config":
        return f"version {doc['version']}"
    if kind == "cmd":
        return f"{doc['cmd']}, id {doc['id']}"
    if kind == "ack":
        return f"gw {doc['gw']}, {len(doc['acks'])} batches acknowledged"
    return f"{'ok' if doc['ok'] else 'failed'}, id {doc['id']}"
