#!/usr/bin/env bash
# README command 1 (fresh Debian/Ubuntu machine with Python >= 3.10, nothing else): install
# geoplan into ./.venv from requirements.lock (the versions CI tested; the print map's
# Chinese font comes with it) and run the main job on the real Yangpu demo data in
# ../shared/data/yangpu-demo (GEOPLAN_DATA=/other/folder to use another copy).
# Extra arguments go to `geoplan run`, e.g. `bash scripts/demo.sh --lang en`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/geoplan run examples/yangpu-wujiaochang.toml "$@"
