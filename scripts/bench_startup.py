"""Start-up benchmark: `geoplan --help`, the imports of a run, and a warm `geoplan run`.

    .venv/bin/python scripts/bench_startup.py                 # the Yangpu demo
    .venv/bin/python scripts/bench_startup.py --config my.toml --repeat 3

Targets (issue 16): ``geoplan --help`` under 0.3 s, a warm demo run under 3 s. Each figure
is the best (smallest) of ``--repeat`` runs in fresh processes, so other load on the
machine inflates it least; CPU seconds (user + system) are printed beside the wall time.
The warm run is preceded by one untimed run that fills the caches (prepared network, OSM
features, numba kernels). ``import_s`` is the time the warm run spends importing modules
(``python -X importtime``, summed over top-level imports). Outputs are written to a
temporary folder. The last line is machine-readable::

    help_s=0.081 run_warm_s=2.734 import_s=1.502
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "yangpu-wujiaochang.toml"
_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)")


def _timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of one child process, and its standard error."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "GEOPLAN_PROGRESS": "0"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stderr


def _best(cmd: list[str], cwd: Path, repeat: int) -> tuple[float, float]:
    runs = [_timed(cmd, cwd)[:2] for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def import_seconds(stderr: str) -> tuple[float, list[tuple[float, str]]]:
    """Total seconds of top-level imports in ``-X importtime`` output, and the largest."""
    top = []
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m and m.group(2) == "":
            top.append((int(m.group(1)) / 1e6, m.group(3)))
    return sum(t for t, _ in top), sorted(top, reverse=True)[:8]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=DEMO, help="study config (default: demo)")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per figure (best kept)")
    args = ap.parse_args()
    geoplan = [sys.executable, "-m", "geoplan"]
    config = str(args.config.resolve())
    with tempfile.TemporaryDirectory(prefix="geoplan-bench-") as tmp:
        cwd = Path(tmp)
        help_s, help_cpu = _best([*geoplan, "--help"], cwd, max(args.repeat, 3))
        print(f"geoplan --help        {help_s:6.3f} s wall {help_cpu:6.3f} s CPU  (target < 0.3 s)")
        cmd_help_s, _ = _best([*geoplan, "run", "--help"], cwd, max(args.repeat, 3))
        print(f"geoplan run --help    {cmd_help_s:6.3f} s wall")
        _timed([*geoplan, "run", config], cwd)  # fill the caches
        run_s, run_cpu = _best([*geoplan, "run", config], cwd, args.repeat)
        print(f"geoplan run (warm)    {run_s:6.3f} s wall {run_cpu:6.3f} s CPU  (target < 3 s)")
        _, _, err = _timed([sys.executable, "-X", "importtime", "-m", "geoplan", "run", config],
                           cwd)
        import_s, largest = import_seconds(err)
        print(f"imports of that run   {import_s:6.3f} s; largest top-level imports:")
        for t, name in largest:
            print(f"    {t:6.3f} s  {name}")
    print(f"help_s={help_s:.3f} run_warm_s={run_s:.3f} import_s={import_s:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
