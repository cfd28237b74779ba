#!/usr/bin/env bash
# README command 2: install geoplan and its test extra into ./.venv from requirements.lock,
# chromium (and a CJK font for readable screenshots) for the browser test when missing
# (Debian/Ubuntu packages; through sudo when not root), then ruff and the whole test suite.
# Under CI=true a missing part that cannot be installed fails with a one-line reason;
# elsewhere the tests that need it are skipped. Extra arguments go to pytest
# (`bash scripts/test.sh tests/test_config.py -q`). pytest collecting no test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "test: $*" >&2; exit 1; }
bash scripts/install.sh
.venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || fail "the tests need Python >= 3.11 (their references spopt 0.7 and access 1.1.10 do);" \
          "the main job runs on 3.10: PYTHON=python3.11 bash scripts/test.sh"

have_chromium() {
  local n
  for n in chromium chromium-browser google-chrome; do
    command -v "$n" >/dev/null 2>&1 && return 0
  done
  return 1
}
if ! have_chromium; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
    # No terminal to type a password on (CI): sudo must not wait for one.
    if [ -n "$SUDO" ] && [ "${CI:-}" = "true" ]; then SUDO="sudo -n"; fi
  fi
  log=$(mktemp)
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; } \
     && echo "test: installing chromium and fonts-noto-cjk (Debian packages) for the browser test" \
     && $SUDO apt-get update -qq >"$log" 2>&1 \
     && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
          chromium fonts-noto-cjk >>"$log" 2>&1 \
     && have_chromium; then
    rm -f "$log"
  else
    why=$(grep -E '^(E:|sudo:)' "$log" | tail -1 || true)
    rm -f "$log"
    [ -n "$why" ] || why="needs apt-get and root or sudo"
    msg="chromium missing and not installable ($why): install it (apt-get install chromium)"
    if [ "${CI:-}" = "true" ]; then fail "$msg"; fi
    echo "test: $msg; the browser test is skipped" >&2
  fi
fi

.venv/bin/ruff check .
rc=0
.venv/bin/python -m pytest "$@" || rc=$?
if [ "$rc" -eq 5 ]; then fail "pytest collected no test"; fi
exit "$rc"
