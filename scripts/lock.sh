#!/usr/bin/env bash
# Regenerate requirements.lock, the one lock file of the project (maintainers only: users
# install from it with plain pip, see scripts/install.sh).
#
# The lock holds exact versions and sha256 hashes of every dependency of geoplan, of its
# test extra [dev] (not the benchmark extra [bench]: pandana is a reference for
# scripts/bench_reach.py only, and users should not install it), plus the build backend (setuptools, wheel), for every platform and for
# Python 3.10 to 3.13+ ("universal": where a newest release dropped Python 3.10, the lock
# carries an older one under a `python_full_version < '3.11'` marker). It is made with
# uv (`uv pip compile --universal`; pip-tools cannot lock for other Pythons than the one
# it runs on), which is installed here into a throw-away venv.
#
#   bash scripts/lock.sh                          # re-lock, keeping the locked versions
#   bash scripts/lock.sh --upgrade                # newest allowed versions of everything
#   bash scripts/lock.sh --upgrade-package highspy
#
# Then run the tests (bash scripts/test.sh) before committing the new lock.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
UV_VERSION=0.13.9
TOOL=${GEOPLAN_UV_VENV:-${TMPDIR:-/tmp}/geoplan-uv-$UV_VERSION}
if [ ! -x "$TOOL/bin/uv" ]; then
  "$PY" -m venv "$TOOL"
  "$TOOL/bin/python" -m pip install --quiet "uv==$UV_VERSION"
fi
printf 'pip\nsetuptools\nwheel\n' > "$TOOL/build-requirements.in"
UV_PYTHON_DOWNLOADS=never UV_CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh" \
  "$TOOL/bin/uv" pip compile pyproject.toml "$TOOL/build-requirements.in" \
  --extra dev --universal --python-version 3.10 --generate-hashes --no-header --quiet \
  -o requirements.lock "$@"
sed -i "s#-r $TOOL/build-requirements.in#build backend (scripts/lock.sh)#" requirements.lock
{ echo "# geoplan's lock: exact versions and hashes of every dependency (runtime, the [dev] test"
  echo "# extra, pip and the build backend) for Python >= 3.10 on any platform."
  echo "# Made by: bash scripts/lock.sh (uv pip compile --universal). Install: bash scripts/install.sh"
  cat requirements.lock; } > requirements.lock.tmp
mv requirements.lock.tmp requirements.lock
echo "requirements.lock: $(grep -c '^[A-Za-z0-9]' requirements.lock) pinned packages"
