#!/usr/bin/env bash
# Installs what FieldPulse needs on a fresh Debian machine with Python 3.11:
# Debian packages (Mosquitto; for the tests also Chromium, PostgreSQL,
# VictoriaMetrics and openssl) and a virtualenv in .venv with the project and
# its test tools. Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=${FIELDPULSE_WITH_BROWSER:-0}
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
if [ "$want_browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
# Chinese pages in the browser tests and their screenshots need a CJK font on the machine,
# as a phone has one (the pages download none; portal/README.md, "Languages").
if [ "$want_browser" = 1 ] && ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then missing+=(fonts-noto-cjk); fi
# The tests start their own PostgreSQL and VictoriaMetrics servers.
if [ "${FIELDPULSE_WITH_TESTS:-0}" = 1 ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v victoria-metrics >/dev/null 2>&1 || [ -x /usr/bin/victoria-metrics ] || missing+=(victoria-metrics)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  # The cluster tests start their own 3-node NATS JetStream cluster (tests/cluster).
  command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
  # The portal benchmark's test loads the server with Debian's compiled wrk.
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
fi
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PY" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian starts a system-wide Mosquitto on 1883 when it installs the package;
# FieldPulse starts its own broker on a free port and never needs that one.

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
extras="cloud"; [ "${FIELDPULSE_WITH_TESTS:-0}" = 1 ] && extras="cloud,test"
.venv/bin/python -m pip install -q -e ".[${extras}]"
