"""The benchmarks, run from the source checkout: `fieldpulse bench ...` and the old
command names (`python -m portal.bench`, `python -m dispatch.bench`) that scripts
outside the repository still call.

The benchmarks (`benchmarks/` beside the packages) are not shipped and no product
module may import them (`.importlinter`): they are put on `sys.path` and run or
imported by name, or the caller says in one line that it needs a checkout.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def benchmarks_on_path(checkout: Path = CHECKOUT) -> bool:
    """Put `checkout` on `sys.path` for `import benchmarks`; False if it has none."""
    if not (checkout / "benchmarks" / "__init__.py").is_file():
        return False
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    return True


def run_benchmark(module: str, old_name: str, new_command: str) -> None:
    """Run `module` (e.g. "benchmarks.portal") as `python -m` would, under `old_name`."""
    if not benchmarks_on_path():
        sys.exit(f"{old_name}: the benchmarks run from a source checkout of FieldPulse "
                 f"(`{new_command}` there)")
    sys.argv[0] = old_name
    runpy.run_module(module, run_name="__main__", alter_sys=True)
