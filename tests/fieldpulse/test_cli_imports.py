"""What each `fieldpulse` command loads: a gateway's commands nothing of the cloud side,
the benchmarks only under `fieldpulse bench`, and only from a source checkout."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fieldpulse.bench_cli
from fieldpulse.cli import CLOUD_ONLY, app

# Runs `python -m fieldpulse ARGS...` in this process, then prints the modules it loaded.
RUN_THEN_LIST_MODULES = """
import json, runpy, sys
sys.argv = ["fieldpulse", *sys.argv[1:]]
try:
    runpy.run_module("fieldpulse", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""
CLOUD = {"asset_registry", "ingest", "rules", "notifications", "service", "dispatch", "sales",
         "integrations", "portal", "sqlalchemy", "sqlmodel", "fastapi", "numpy", "ortools"}
NOT_PRODUCT = {"benchmarks", "testing_support", "simulators"}
BENCH_COMMANDS = ("edge", "ingest", "rules", "detect", "forecast", "dispatch", "portal")


def modules_loaded_by(*args: str) -> tuple[str, set[str]]:
    done = subprocess.run([sys.executable, "-c", RUN_THEN_LIST_MODULES, *args],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "COLUMNS": "200"})
    output, _, modules = done.stdout.rstrip("\n").rpartition("\n")
    return output, set(json.loads(modules))


def test_the_gateway_command_loads_nothing_of_the_cloud_benchmarks_or_simulators() -> None:
    output, modules = modules_loaded_by("edge", "--help")
    assert "--config" in output  # the edge command's own help was shown
    top_level = {name.split(".")[0] for name in modules}
    assert top_level & (CLOUD | NOT_PRODUCT) == set()
    assert "foundations.database" not in modules


def test_the_root_help_lists_every_command_with_its_help() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for command, help_text in (("edge", "Run the edge agent"), ("contracts", "wire contract"),
                               ("provision", "Broker accounts"), ("bench", "Benchmarks"),
                               ("demo", "simulated fleet"), ("run", "Run the cloud side"),
                               ("simulate", "Simulated gateways"), ("user", "Portal users"),
                               ("anomaly", "streaming detector"), ("db", "database schema")):
        assert any(command in line and help_text in line for line in result.output.splitlines()
                   ), command


def test_a_gateway_install_lists_only_the_gateway_commands(
        monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec

    def without_cloud_packages(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name.split(".")[0] in CLOUD_ONLY else find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", without_cloud_packages)
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    listed = {line.split()[1] for line in result.output.splitlines()
              if line.startswith("│ ") and len(line.split()) > 2}
    assert {"edge", "contracts", "provision", "bench"} <= listed
    assert listed.isdisjoint({"demo", "run", "simulate", "user", "anomaly", "db"})


def test_bench_help_lists_every_benchmark() -> None:
    result = CliRunner().invoke(app, ["bench", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    listed = {line.split()[1] for line in result.output.splitlines()
              if line.startswith("│ ") and len(line.split()) > 2}
    assert set(BENCH_COMMANDS) <= listed
    dispatch = CliRunner().invoke(app, ["bench", "dispatch", "--help"], env={"COLUMNS": "200"})
    assert {"solomon", "solomon-all", "solomon-baseline", "field"} <= {
        line.split()[1] for line in dispatch.output.splitlines()
        if line.startswith("│ ") and len(line.split()) > 2}


def test_bench_outside_a_source_checkout_says_so_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fieldpulse.bench_cli, "CHECKOUT", tmp_path)  # no benchmarks/ there
    for args in (["bench", "edge", "--help"], ["bench", "--help"], ["bench", "rules"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, args
        assert len(result.output.strip().splitlines()) == 1, result.output
        assert "benchmarks run from a source checkout" in result.output
