"""A gateway's install (no cloud extras) runs the edge agent and its CLI."""

from __future__ import annotations

import subprocess
import sys

from fieldpulse.cli import CLOUD_ONLY

PROBE = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))

class WithoutCloudPackages(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, WithoutCloudPackages())
import edge_agent.agent, edge_agent.modbus, edge_agent.outbox, edge_agent.cli
from typer.main import get_command
from fieldpulse.cli import app
print(" ".join(sorted(get_command(app).commands)))
"""


def test_cli_and_agent_load_without_the_cloud_packages() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, ",".join(sorted(CLOUD_ONLY))],
                         capture_output=True, text=True, check=True).stdout.split()
    assert {"edge", "contracts", "provision", "bench"} <= set(out)
    assert "demo" not in out and "run" not in out
