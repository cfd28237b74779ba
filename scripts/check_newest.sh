#!/usr/bin/env bash
# The newest allowed versions: install geoplan[dev] WITHOUT the lock (pip's newest releases
# within pyproject.toml's bounds) into a separate venv, list what is newer than
# requirements.lock, and run the siting (exact models), reach and accessibility tests, so
# that the next solver or numpy release is caught before a user meets it. Run by .ci/run
# after the locked suite. A failure here means: fix the code (or bound the dependency in
# pyproject.toml), then re-lock (bash scripts/lock.sh --upgrade-package NAME).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "check_newest: $*" >&2; exit 1; }
PY=${PYTHON:-python3}
VENV=${GEOPLAN_NEWEST_VENV:-.venv-newest}
rm -rf "$VENV"
"$PY" -m venv "$VENV" || fail "'$PY -m venv' failed (apt-get install python3-venv)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  --upgrade --upgrade-strategy eager -e ".[dev]"
"$VENV/bin/python" - <<'PY'
"""Print the installed versions that differ from requirements.lock (build tools aside)."""
import re
from importlib.metadata import distributions

from packaging.markers import Marker

locked = {}
for line in open("requirements.lock", encoding="utf-8"):
    m = re.match(r"([A-Za-z0-9_.-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$", line)
    if m and (m.group(3) is None or Marker(m.group(3)).evaluate()):
        locked[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
newer = []
for d in distributions():
    name = re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
    if name in locked and d.version != locked[name] and name not in ("pip", "setuptools", "wheel"):
        newer.append(f"{name} {d.version} (lock {locked[name]})")
print("check_newest: versions other than the lock's: " + (", ".join(sorted(newer)) or "none"))
PY
shopt -s nullglob
tests=(tests/test_siting*.py tests/test_pmedian.py tests/test_reach.py tests/test_accessibility.py
       tests/test_exact*.py tests/test_verify*.py tests/test_equity*.py)
[ "${#tests[@]}" -gt 0 ] || fail "no test files found"
rc=0
"$VENV/bin/python" -m pytest -q "${tests[@]}" "$@" || rc=$?
if [ "$rc" -eq 5 ]; then fail "pytest collected no test"; fi
[ "$rc" -eq 0 ] || fail "tests failed on the newest allowed versions (exit $rc)"
# every exact model against its independent reference, on these versions
"$VENV/bin/python" scripts/check_exact.py || fail "check_exact found mismatches on the newest versions"
