"""Progress bars only on a terminal; a light start-up (lazy imports, warm-run caches)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import pytest

from tests.smallcase import write_case

REPO = Path(__file__).resolve().parents[1]
#: Modules that a bare ``geoplan`` / ``geoplan <cmd> --help`` must not import.
HEAVY = ("osmnx", "sklearn", "geopandas", "matplotlib", "folium", "numba", "highspy",
         "scipy", "mapclassify", "pandas", "shapely", "networkx", "openpyxl", "tqdm")
ESC = "\x1b["


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEOPLAN_PROGRESS", "TERM")}
    return {**env, "PYTHONPATH": str(REPO), "TERM": "xterm", **extra}


@pytest.mark.parametrize("argv", [[], ["--help"], ["run", "--help"], ["site", "--help"],
                                  ["standards", "--help"], ["report", "--help"]])
def test_cli_and_help_import_no_heavy_module(argv: list[str]) -> None:
    code = textwrap.dedent(f"""
        import sys
        from geoplan.cli import main
        if {argv!r}:
            try:
                main({argv!r})
            except SystemExit:
                pass
        print("HEAVY:" + " ".join(m for m in {HEAVY!r} if m in sys.modules))
    """)
    r = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                       text=True, timeout=120, check=True)
    assert r.stdout.splitlines()[-1] == "HEAVY:", r.stdout[-500:]


def _in_pty(code: str, env: dict[str, str], timeout: float = 60.0) -> str:
    """Run ``code`` with its standard error on a pseudo-terminal; return what it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        proc.wait(timeout=30)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


_DRIVER = """
import logging, sys, time
from geoplan import progress
if DELAY is not None:
    progress.DELAY_S = DELAY
log = logging.getLogger("geoplan")
log.addHandler(logging.StreamHandler(sys.stderr)); log.setLevel(logging.INFO)
for i in range(1, 4):
    with progress.step(i, 3, f"step-{i}"):
        log.info("working on %d", i)
        time.sleep(0.15)
for _ in progress.track(range(4), "thresholds", unit="threshold"):
    time.sleep(0.1)
print("enabled", progress.enabled(), file=sys.stderr)
"""


def _redraws(out: str) -> bool:
    """A carriage return that is not a line end (a pty writes ``\\r\\n`` for ``\\n``)."""
    return re.search(r"\r(?!\n)", out) is not None


def _driver(delay: float | None) -> str:
    return f"DELAY = {delay!r}\n{_DRIVER}"


def test_bar_on_a_terminal() -> None:
    out = _in_pty(_driver(0.0), _env())
    assert "enabled True" in out
    assert "thresholds" in out and "step-3" in out and _redraws(out), out
    assert "threshold/s" in out and "3/3 steps" in out, out
    # log lines are written above the bar, whole
    for i in (1, 2, 3):
        assert f"working on {i}" in out


def test_quick_work_draws_no_bar_on_a_terminal() -> None:
    out = _in_pty(_driver(None), _env())  # default delay: 1 s; everything here is quicker
    assert "enabled True" in out
    assert "thresholds" not in out and "step-1" not in out, out


def test_bars_turned_off_on_a_terminal() -> None:
    for env in (_env(GEOPLAN_PROGRESS="0"), _env(TERM="dumb")):
        out = _in_pty(_driver(0.0), env)
        assert "enabled False" in out
        assert "thresholds" not in out and not _redraws(out) and ESC not in out, out


def test_no_bar_in_a_pipe() -> None:
    r = subprocess.run([sys.executable, "-c", _driver(0.0)], env=_env(), capture_output=True,
                       text=True, timeout=60, check=True)
    assert "enabled False" in r.stderr
    assert "\r" not in r.stderr and ESC not in r.stderr and "thresholds" not in r.stderr
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("working on")] == [
        "working on 1", "working on 2", "working on 3"]


def test_run_in_a_pipe_writes_plain_log_lines_and_warm_run_skips_osm(tmp_path: Path) -> None:
    cfg = write_case(tmp_path)
    code = textwrap.dedent("""
        import sys
        from geoplan.cli import main
        rc = main(["run", sys.argv[1]])
        print("osmnx imported:", "osmnx" in sys.modules, file=sys.stderr)
        print("networkx imported:", "networkx" in sys.modules, file=sys.stderr)
        sys.exit(rc)
    """)
    runs = [subprocess.run([sys.executable, "-c", code, str(cfg)], env=_env(), cwd=tmp_path,
                           capture_output=True, text=True, timeout=600, check=False)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-3000:]
        assert "\r" not in r.stderr and ESC not in r.stderr, r.stderr[-2000:]
        assert "INFO    [1/" in r.stderr and "done in" in r.stderr
    assert "osmnx imported: True" in runs[0].stderr
    # warm: network and OSM features come from the cache, osmnx is not even imported
    assert "osmnx imported: False" in runs[1].stderr
    assert "networkx imported: False" in runs[1].stderr
    assert list((tmp_path / "out" / "cache").glob("osmfeatures-*.pkl"))


def test_mapclassify_kernel_is_cached_and_unchanged() -> None:
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from geoplan.outputs.classbreaks import mapclassify
        mc = mapclassify()
        from numba.core.dispatcher import Dispatcher
        from numba.core.caching import NullCache
        k = sys.modules["mapclassify.classifiers"]._fisher_jenks_means
        assert isinstance(k, Dispatcher) and not isinstance(k._cache, NullCache), k
        v = np.sort(np.random.default_rng(3).gamma(2.0, 3.0, 300))
        assert np.array_equal(k(v, 5), k.py_func(v, 5))
        b = mc.FisherJenks(v, k=5).bins
        assert np.array_equal(b, k.py_func(v, 5)), b
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-3000:]


def test_cli_run_on_a_terminal_shows_the_steps_bar_unless_quiet(tmp_path: Path) -> None:
    cfg = write_case(tmp_path)
    code = "import sys\nfrom geoplan.cli import main\nsys.exit(main(sys.argv[1:]))"
    loud = _in_pty(f"import sys; sys.argv[1:] = ['run', {str(cfg)!r}]\n{code}", _env(),
                   timeout=600)
    assert "INFO    [1/" in loud and _redraws(loud) and " steps [" in loud, loud[-3000:]
    quiet = _in_pty(f"import sys; sys.argv[1:] = ['run', '-q', {str(cfg)!r}]\n{code}",
                    _env(), timeout=600)
    assert "INFO" not in quiet and not _redraws(quiet) and " steps [" not in quiet, quiet
