"""Start-up benchmark: `geoplan --help`, a warm `geoplan run`, and what the run imports.

    .venv/bin/python scripts/bench_startup.py                 # the Yangpu demo
    .venv/bin/python scripts/bench_startup.py --config my.toml --repeat 5

Targets (issue 16): ``geoplan --help`` under 0.3 s, a warm demo run under 3 s. Every figure
is the median of ``--repeat`` runs (default 3) in fresh processes; the warm run comes after
one untimed run that fills the caches (prepared network, OSM features, numba kernels).
Beside each wall time: the child's CPU seconds (user + system), which depend far less on
what else the machine is doing, and the 1-minute load average (``/proc/loadavg``) when the
runs started, since a shared 2-core machine at load 6 stretches wall times two- to
three-fold. ``import_s`` is the time the warm run spends importing modules (``python -X
importtime``, summed over its top-level imports), with the packages that cost most (their
modules' own import times, summed per top-level package). Outputs go to a temporary
folder. The last line is machine-readable::

    help_s=0.071 warm_run_s=2.734 help_cpu_s=0.060 warm_run_cpu_s=2.512 import_s=1.502 load=0.42
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "yangpu-wujiaochang.toml"
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def load_average() -> float:
    """The machine's 1-minute load average (NaN where ``/proc/loadavg`` is missing)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


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


def _median(cmd: list[str], cwd: Path, repeat: int) -> tuple[float, float, float]:
    """Median wall and CPU seconds of ``repeat`` runs, and the load when they started."""
    load = load_average()
    runs = [_timed(cmd, cwd)[:2] for _ in range(repeat)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            load)


def import_costs(stderr: str) -> tuple[float, list[tuple[float, str]]]:
    """Seconds of top-level imports in ``-X importtime`` output, and the costliest packages.

    Returns
    -------
    float
        Sum of the cumulative times of the top-level imports.
    list of (float, str)
        The ten top-level packages whose modules' own (self) times add up the most.
    """
    total = 0.0
    per_package: collections.Counter[str] = collections.Counter()
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if not m:
            continue
        if m.group(3) == "":
            total += int(m.group(2)) / 1e6
        per_package[m.group(4).split(".")[0]] += int(m.group(1)) / 1e6
    return total, [(t, name) for name, t in per_package.most_common(10)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=DEMO, help="study config (default: demo)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per figure (median)")
    args = ap.parse_args()
    repeat = max(args.repeat, 1)
    geoplan = [sys.executable, "-m", "geoplan"]
    config = str(args.config.resolve())
    with tempfile.TemporaryDirectory(prefix="geoplan-bench-") as tmp:
        cwd = Path(tmp)
        help_s, help_cpu, load = _median([*geoplan, "--help"], cwd, repeat)
        print(f"geoplan --help        {help_s:6.3f} s wall {help_cpu:6.3f} s CPU  "
              f"load {load:4.2f}  (target < 0.3 s)")
        _timed([*geoplan, "run", config], cwd)  # fill the caches
        run_s, run_cpu, run_load = _median([*geoplan, "run", config], cwd, repeat)
        print(f"geoplan run (warm)    {run_s:6.3f} s wall {run_cpu:6.3f} s CPU  "
              f"load {run_load:4.2f}  (target < 3 s)")
        _, _, err = _timed([sys.executable, "-X", "importtime", "-m", "geoplan", "run",
                            config], cwd)
        import_s, largest = import_costs(err)
        print(f"imports of that run   {import_s:6.3f} s; costliest packages (own import time):")
        for t, name in largest:
            print(f"    {t:6.3f} s  {name}")
    print(f"help_s={help_s:.3f} warm_run_s={run_s:.3f} help_cpu_s={help_cpu:.3f} "
          f"warm_run_cpu_s={run_cpu:.3f} import_s={import_s:.3f} load={run_load:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
