#!/usr/bin/env bash
# Install geoplan and everything it needs into ./.venv (fresh machine: Python >= 3.10).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
echo "geoplan installed in $(pwd)/.venv: run .venv/bin/geoplan --help"
