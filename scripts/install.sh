#!/usr/bin/env bash
# Install geoplan into ./.venv from requirements.lock: the exact versions (checked against
# their sha256 hashes) that CI tested, for the runtime and the tests. Needs only Python >= 3.10
# with venv and pip (Debian/Ubuntu: apt-get install python3-venv). About a minute.
#   PYTHON=python3.12 bash scripts/install.sh    # another interpreter
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "install: geoplan needs Python >= 3.10 ($PY is $("$PY" -V 2>&1 || echo missing))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv; then
    rm -rf .venv
    echo "install: '$PY -m venv' failed: install the venv module (apt-get install python3-venv)" >&2
    exit 1
  fi
fi
# Every package pinned with hashes; pip refuses anything else (--require-hashes).
.venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
  -r requirements.lock
# geoplan itself, with the locked build backend and no further download.
PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
  --no-build-isolation -e .
.venv/bin/python -m pip check --disable-pip-version-check >/dev/null
echo "geoplan installed in $(pwd)/.venv from requirements.lock: run .venv/bin/geoplan --help"
