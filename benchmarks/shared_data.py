"""Where the shared benchmark data is: outside the repository, so never a fixed path.

The folder holds `solomon/`, `homberger/`, `nab/`, `tep/` ...; its checkers
(e.g. `solomon_check.py`) are in the `tools/` folder next to it. Taken from, in
order: an option (`fieldpulse bench dispatch --shared-data DIR`), the environment
variable FIELDPULSE_BENCH_DATA, or where this layout keeps it beside the
checkout, `<repository>/../shared/data`.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks import REPO_ROOT

ENV = "FIELDPULSE_BENCH_DATA"
BESIDE_THE_CHECKOUT = REPO_ROOT.parent / "shared" / "data"


def data_dir(option: Path | None = None) -> Path:
    """The shared data folder: the option if given, else $FIELDPULSE_BENCH_DATA, else
    `<repository>/../shared/data`."""
    if option is not None:
        return option
    named = os.environ.get(ENV)
    return Path(named) if named else BESIDE_THE_CHECKOUT


def solomon_dir(option: Path | None = None) -> Path:
    """The Solomon VRPTW instances (`R101.txt` ..., and `bks.csv`, the best known)."""
    return data_dir(option) / "solomon"


def solomon_checker(option: Path | None = None) -> Path:
    """The independent checker of Solomon plans, in `tools/` beside the data."""
    return data_dir(option).parent / "tools" / "solomon_check.py"
