"""Old benchmark command names (`python -m portal.bench`, `python -m dispatch.bench`)
kept working after the benchmarks moved to `benchmarks/`.

Scripts outside the repository still call them by those names. The benchmarks are not
shipped and no product module may import them (`.importlinter`), so the alias runs the
benchmark module by name from the source checkout, as `fieldpulse bench` does, or
says in one line that it needs one.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def run_benchmark(module: str, old_name: str, new_command: str) -> None:
    """Run `module` (e.g. "benchmarks.portal") as `python -m` would, under `old_name`."""
    if not (CHECKOUT / Path(*module.split("."))).with_suffix(".py").is_file() and not (
            CHECKOUT / Path(*module.split(".")) / "__main__.py").is_file():
        sys.exit(f"{old_name}: the benchmarks run from a source checkout of FieldPulse "
                 f"(`{new_command}` there)")
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    sys.argv[0] = old_name
    runpy.run_module(module, run_name="__main__", alter_sys=True)
