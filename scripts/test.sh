#!/usr/bin/env bash
# Sets up and runs the checks: ruff, the layer order (import-linter), the types
# (mypy), then the whole test suite (real Mosquitto, PostgreSQL, VictoriaMetrics
# and headless Chromium started by the tests themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
FIELDPULSE_WITH_TESTS=1 FIELDPULSE_WITH_BROWSER=1 bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/lint-imports
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
