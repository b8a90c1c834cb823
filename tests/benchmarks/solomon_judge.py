"""Solomon plans judged by the shared independent checker (imported as `solomon_judge`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.shared_data import solomon_checker

CHECKER = solomon_checker()


def check_solomon(instance_path: Path, routes: list[list[int]], tmp_path: Path) -> dict:
    """The checker's report on ``routes`` (feasible, violations, distance, gap_pct)."""
    out = tmp_path / "plan.json"
    out.write_text(json.dumps({"routes": routes}))
    done = subprocess.run([sys.executable, str(CHECKER), str(instance_path), str(out)],
                          capture_output=True, text=True, check=False)
    return json.loads(done.stdout)
