"""`python -m portal.bench [--json] ...`: the old name of `fieldpulse bench portal`.

Scripts outside the repository still call the portal benchmark by this name. The
benchmark itself lives in `benchmarks/portal.py`, which is not shipped and which no
product module may import (`.importlinter`): this runs it by name from the source
checkout (as `fieldpulse bench` does), or says in one line that it needs one.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def main() -> None:
    if not (CHECKOUT / "benchmarks" / "portal.py").is_file():
        sys.exit("python -m portal.bench: the benchmarks run from a source checkout of "
                 "FieldPulse (`fieldpulse bench portal` there)")
    if str(CHECKOUT) not in sys.path:
        sys.path.insert(0, str(CHECKOUT))
    sys.argv[0] = "python -m portal.bench"
    runpy.run_module("benchmarks.portal", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
