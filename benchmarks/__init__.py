"""FieldPulse's benchmarks: measured figures next to a baseline measured in the same run.

Not part of the product: not in the wheel, and no product package imports this
one (`.importlinter`). They run from a source checkout, as `fieldpulse bench ...`
or `python -m benchmarks....` from the repository root; see README.md here.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def checkout_env() -> dict[str, str]:
    """The environment for a child `python -m benchmarks....`: this checkout on its
    path, whatever folder the benchmark was started from."""
    paths = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
