#!/usr/bin/env bash
# Install geoplan into ./.venv from requirements.lock: the exact versions, checked against
# their sha256 hashes, that CI tested, for the main job and the tests. Needs only Python
# >= 3.10 with pip (Debian/Ubuntu: python3 and python3-pip; python3-venv is used when there,
# not needed). About a minute on a fresh machine, seconds when up to date.
#   PYTHON=python3.12 bash scripts/install.sh    # another interpreter
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "install: $*" >&2; exit 1; }
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null \
  || fail "geoplan needs Python >= 3.10 ($PY is $("$PY" -V 2>&1 || echo "not found"))"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  rm -rf .venv
  if ! "$PY" -m venv .venv >/dev/null 2>&1; then
    # Debian/Ubuntu without python3-venv (no ensurepip): a venv without pip, into which the
    # system's pip (pure Python, run by the venv's interpreter) installs the locked pip.
    rm -rf .venv
    "$PY" -m venv --without-pip .venv || fail "'$PY -m venv' failed"
    pipdir=$("$PY" -c 'import os, pip; print(os.path.dirname(os.path.dirname(pip.__file__)))' \
             2>/dev/null) || { rm -rf .venv; fail "needs pip: apt-get install python3-pip"; }
    awk '/^pip==/ {p = 1; print; next} p && /^ +--hash/ {print; next} {p = 0}' \
      requirements.lock > .venv/pip.lock
    PIPDIR=$pipdir .venv/bin/python -c 'import os, sys
sys.path.insert(0, os.environ["PIPDIR"])
from pip._internal.cli.main import main
sys.exit(main())' install --quiet --disable-pip-version-check --require-hashes --no-deps \
      -r .venv/pip.lock || { rm -rf .venv; fail "could not put pip into .venv"; }
    rm -f .venv/pip.lock
  fi
fi
# Every package pinned with its hashes; pip refuses anything else (--require-hashes).
.venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
  -r requirements.lock
# geoplan itself (editable), with the locked build backend: nothing more is downloaded.
PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet --disable-pip-version-check \
  --no-deps --no-build-isolation -e .
.venv/bin/python -m pip check --disable-pip-version-check >/dev/null \
  || fail "inconsistent environment: $(.venv/bin/python -m pip check | head -1)"
echo "geoplan installed in $(pwd)/.venv from requirements.lock: run .venv/bin/geoplan --help"
