"""The benchmarks' old command names still run the moved benchmarks."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(("old", "listed"), [
    ("dispatch.bench", ["solomon", "solomon-all", "field"]),
    ("portal.bench", ["--json"]),
])
def test_an_old_benchmark_name_runs_the_benchmark(old: str, listed: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", old, "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in listed), done.stdout
