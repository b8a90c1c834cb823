"""`fieldpulse bench ...`: the benchmarks, loaded from the source checkout when asked for.

The benchmarks (`benchmarks/` at the repository root) are not in the wheel, and
no product package may import them (`.importlinter`). This group names them by
string and imports them with importlib only when a bench command is run or its
help is shown: import-linter reads import statements, so it does not see these.
The checkout is the folder that holds the `fieldpulse` package; without
`benchmarks/` beside it (an installed wheel) the group says so in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import typer

from fieldpulse.cli_common import CLOUD_ONLY
from fieldpulse.lazy_group import LazyCommand, LazyGroup
from foundations.bench_alias import benchmarks_on_path

CHECKOUT = Path(__file__).resolve().parents[1]


def use_checkout() -> None:
    """Put the checkout on `sys.path` for `import benchmarks`, or exit with one line."""
    if not benchmarks_on_path(CHECKOUT):
        typer.echo(f"fieldpulse bench: the benchmarks run from a source checkout of FieldPulse "
                   f"(there is no benchmarks/ beside {CHECKOUT / 'fieldpulse'})", err=True)
        raise typer.Exit(1)


class BenchGroup(LazyGroup):
    lazy: ClassVar[Mapping[str, LazyCommand]] = {
        "edge": LazyCommand("benchmarks.edge:bench_edge", requires=("psutil",)),
        "ingest": LazyCommand("benchmarks.ingest:bench_ingest", requires=CLOUD_ONLY),
        "chaos": LazyCommand("benchmarks.chaos:bench_chaos", requires=CLOUD_ONLY),
        "cluster": LazyCommand("benchmarks.cluster:bench_cluster", requires=CLOUD_ONLY),
        "rules": LazyCommand("benchmarks.rules:bench_rules", requires=CLOUD_ONLY),
        "detect": LazyCommand("benchmarks.detect:bench_detect", requires=CLOUD_ONLY),
        "forecast": LazyCommand("benchmarks.forecast:bench_forecast", requires=CLOUD_ONLY),
        "dispatch": LazyCommand("benchmarks.dispatch.cli:app", requires=CLOUD_ONLY),
        # httpx (and Playwright, for the first paint) come with the `test` extra.
        "portal": LazyCommand("benchmarks.portal:bench_portal",
                              requires=CLOUD_ONLY | {"httpx"}),
        # The pushed live feed: 1,000 streams for minutes against 10 (issue 24).
        "live": LazyCommand("benchmarks.live_feed:bench_live",
                            requires=CLOUD_ONLY | {"httpx", "psutil"}),
    }

    def before_import(self) -> None:
        use_checkout()


bench_app = typer.Typer(cls=BenchGroup, no_args_is_help=True,
                        help="Benchmarks: measured figures, side by side with a baseline.")
