#!/usr/bin/env bash
# Sets up and runs the demo: the whole system on embedded defaults with a
# simulated fleet around Munich. Extra arguments go to `fieldpulse demo`
# (e.g. --port 8080). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/fieldpulse demo "$@"
