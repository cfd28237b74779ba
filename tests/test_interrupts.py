"""Interrupted runs: exit 130 (SIGINT) / 143 (SIGTERM), no staging left, nothing published.

The end-to-end tests start real ``geoplan run`` processes on a small generated study area
and signal them at chosen points: while the analysis runs, and while outputs are being
written (a driver slows the map writing down so the signal surely lands there).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geoplan import interrupts
from geoplan.outputs.atomic import StagedOutputs, _host_tag, remove_stale_staging
from tests.smallcase import output_files, write_case

REPO = Path(__file__).resolve().parents[1]

#: Runs ``geoplan run`` with the map writer slowed down after it wrote its file, so the
#: tables, GeoPackage and map sit unpublished in staging; "SWALLOW" instead sends SIGINT
#: to itself inside a ctypes callback (as numba/llvmlite call back into Python), where
#: Python can only print the KeyboardInterrupt and carry on.
_DRIVER = """
import sys, time
mode = sys.argv[1]
import geoplan.outputs.webmap as webmap
real_save = webmap.save_map

def save_map(m, path, **kw):
    out = real_save(m, path, **kw)
    if mode == "SLOW":
        print("STAGED", flush=True)
        time.sleep(60)
    elif mode == "SWALLOW":
        import ctypes, os, signal
        libc = ctypes.CDLL(None)
        CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                               ctypes.POINTER(ctypes.c_int))
        def cmp(a, b):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            return a[0] - b[0]
        arr = (ctypes.c_int * 3)(3, 1, 2)
        libc.qsort(arr, 3, ctypes.sizeof(ctypes.c_int), CMP(cmp))
        print("SWALLOWED", flush=True)
    return out

webmap.save_map = save_map
from geoplan.cli import main
sys.exit(main(["run", sys.argv[2]]))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _staging(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob(".staging-*")) if out.exists() else []


def _check_interrupted(proc: subprocess.Popen[str], out: Path, code: int) -> str:
    _stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, (proc.returncode, stderr[-3000:])
    assert "Traceback" not in stderr, stderr[-3000:]
    last = [ln for ln in stderr.splitlines() if ln.startswith("geoplan:")]
    assert len(last) == 1 and "interrupted" in last[0] and "nothing was published" in last[0]
    assert _staging(out) == []
    assert output_files(out) == []  # nothing published, no temporary files either
    return stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130),
                                           (signal.SIGHUP, 129)])
def test_signal_while_writing_outputs(tmp_path: Path, sig: int, code: int) -> None:
    cfg = write_case(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, "SLOW", str(cfg)], env=_env(),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "STAGED", proc.communicate()[1][-3000:]
    staged = _staging(out)
    assert staged  # the run's outputs sit unpublished in staging folders ...
    assert any(p.suffix == ".html" for s in staged for p in s.rglob("*"))
    assert output_files(out) == [p for s in staged for p in sorted(s.rglob("*"))
                                 if p.is_file()]
    proc.send_signal(sig)
    _check_interrupted(proc, out, code)  # ... and none of them is published


def test_sigterm_during_analysis(tmp_path: Path) -> None:
    cfg = write_case(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "geoplan", "run", str(cfg)], env=_env(),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # wait until the analysis is under way
        seen.append(line)
        if "[4/6]" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _stdout, rest = proc.communicate(timeout=120)
    stderr = "".join(seen) + rest
    assert proc.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "interrupted (SIGTERM); nothing was published" in stderr
    assert _staging(out) == [] and output_files(out) == []


def test_interrupt_swallowed_by_a_callback_publishes_nothing(tmp_path: Path) -> None:
    cfg = write_case(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, "SWALLOW", str(cfg)], env=_env(),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    stdout, stderr = proc.communicate(timeout=300)
    assert "SWALLOWED" in stdout  # the callback's KeyboardInterrupt did not propagate ...
    assert proc.returncode == 130, stderr[-3000:]  # ... yet the run stops with 130
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-3000:]
    assert "interrupted (SIGINT); nothing was published" in stderr
    assert _staging(out) == [] and output_files(out) == []


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_staging_of_dead_processes_is_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        data = tmp_path / "data"
        stale = data / f".staging-{dead}-0123abcd"
        (stale / "maps").mkdir(parents=True)
        (stale / "small-areas.csv").write_text("half", encoding="utf-8")
        (stale / "maps" / "m.pdf").write_bytes(b"%PDF-1.4 half")
        stale_tmp = data / f".small-areas.xlsx.tmp-{dead}-k2j4"
        stale_tmp.write_bytes(b"PK")
        busy = data / f".staging-{live.pid}-89abcdef"
        busy.mkdir()
        (busy / "x.csv").write_text("in progress", encoding="utf-8")
        mine = data / f".staging-{os.getpid()}-00000000"
        mine.mkdir()
        host = _host_tag()
        stale_here = data / f".staging-{dead}-{host}-4567cdef"
        stale_here.mkdir()
        other = "0" * 8 if host != "0" * 8 else "1" * 8
        elsewhere = data / f".staging-{dead}-{other}-4567cdef"  # a run on another machine
        elsewhere.mkdir()
        keep = [data / ".staging-notes", data / "report.csv"]  # not staging names
        keep[0].mkdir()
        keep[1].write_text("a,b\n", encoding="utf-8")
        with StagedOutputs({"data": data}) as staged:
            staged.path("data", "new.csv").write_text("x\n", encoding="utf-8")
        assert not stale.exists() and not stale_tmp.exists() and not stale_here.exists()
        assert elsewhere.is_dir()  # its pid means nothing here
        assert busy.is_dir() and (busy / "x.csv").is_file()  # a live run is left alone
        assert mine.is_dir()
        assert all(p.exists() for p in keep)
        assert (data / "new.csv").read_text(encoding="utf-8") == "x\n"
        assert remove_stale_staging(tmp_path / "missing") == []
    finally:
        live.kill()
        live.wait()


def test_cli_run_removes_stale_staging(tmp_path: Path) -> None:
    cfg = write_case(tmp_path)
    dead = _dead_pid()
    out = tmp_path / "out"
    stale = [out / "data" / f".staging-{dead}-aa00bb11", out / "maps" / f".staging-{dead}-cc22dd33",
             out / "data" / "siting" / f".staging-{dead}-ee44ff55"]  # not written by run
    for s in stale:
        s.mkdir(parents=True)
        (s / "half.pdf").write_bytes(b"%PDF")
    (out / "cache").mkdir()
    stale.append(out / "cache" / f".walknet-small-0.pkl.tmp-{dead}-x1y2")
    stale[-1].write_bytes(b"half a pickle")
    r = subprocess.run([sys.executable, "-m", "geoplan", "run", str(cfg)], env=_env(),
                       cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not any(s.exists() for s in stale)
    assert _staging(tmp_path / "out") == []
    assert (tmp_path / "out" / "data" / "small-areas.xlsx").is_file()


def _roots(tmp_path: Path) -> dict[str, Path]:
    roots = {"data": tmp_path / "data", "maps": tmp_path / "maps"}
    for name, r in roots.items():
        r.mkdir()
        (r / f"{name}.txt").write_text("old", encoding="utf-8")
    return roots


def _contents(roots: dict[str, Path]) -> dict[str, str]:
    return {str(p.relative_to(r.parent)): p.read_text(encoding="utf-8")
            for r in roots.values() for p in sorted(r.rglob("*")) if p.is_file()}


def test_failed_publish_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    roots = _roots(tmp_path)
    before = _contents(roots)
    real = os.replace
    calls = {"n": 0}

    def flaky(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 5:  # the third file, after two were moved
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError), StagedOutputs(roots) as staged:
        for name in roots:
            staged.path(name, f"{name}.txt").write_text("new", encoding="utf-8")
        staged.path("maps", "sub", "extra.txt").write_text("new", encoding="utf-8")
    monkeypatch.undo()
    assert _contents(roots) == before  # old files back, no new file, no new folder
    assert not (roots["maps"] / "sub").exists()
    assert _staging(tmp_path) == []


def test_signal_during_publish_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    roots = _roots(tmp_path)
    before = _contents(roots)
    real = os.replace
    calls = {"n": 0}

    def signalled(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # lands between two files
        real(src, dst)

    with interrupts.handle_signals():
        monkeypatch.setattr(os, "replace", signalled)
        with pytest.raises(interrupts.Terminated), StagedOutputs(roots) as staged:
            for name in roots:
                staged.path(name, f"{name}.txt").write_text("new", encoding="utf-8")
        monkeypatch.undo()
        assert interrupts.pending() == signal.SIGTERM
    assert interrupts.pending() is None  # forgotten once the handlers are restored
    assert _contents(roots) == before
    assert _staging(tmp_path) == []


def test_recorded_interrupt_blocks_publishing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with interrupts.handle_signals():
        with pytest.raises(KeyboardInterrupt), StagedOutputs({"data": data}) as staged:
            staged.path("data", "a.csv").write_text("x", encoding="utf-8")
            try:  # an interrupt that something swallowed
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.5)
            except KeyboardInterrupt:
                pass
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    assert not data.exists()  # the folder created for the run is removed again
    interrupts.check()  # no longer recorded


def test_signal_stops_a_highs_solve_promptly() -> None:
    import threading

    import numpy as np
    import scipy.sparse as sp

    from geoplan.siting.highs import solve_milp

    rng = np.random.default_rng(0)  # a knapsack-like MILP HiGHS does not finish in 30 s
    n, m = 400, 60
    a = sp.csr_matrix(rng.integers(1, 50, size=(m, n)).astype(float))
    c = rng.integers(1, 100, size=n).astype(float)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGTERM))
    t0 = time.perf_counter()
    with interrupts.handle_signals():
        timer.start()
        with pytest.raises(interrupts.Terminated):
            solve_milp(c, a, np.full(m, -np.inf), np.full(m, 500.0), np.zeros(n), np.ones(n),
                       np.ones(n, dtype=bool), maximise=True, time_limit=30)
    assert time.perf_counter() - t0 < 10  # not the time limit


def test_half_closed_llvmlite_objects_after_a_signal_print_no_traceback() -> None:
    """A SIGTERM inside llvmlite's destructor leaves the object half closed; when it is
    collected later its destructor fails again. After an interrupt those errors (only
    those) are debug lines, not a traceback under the one-line message."""
    import types

    from llvmlite.binding import ffi

    def unraisable(obj: object) -> types.SimpleNamespace:
        exc = AttributeError("'GlobalContextRef' object has no attribute '_as_parameter_'")
        return types.SimpleNamespace(exc_type=AttributeError, exc_value=exc,
                                     exc_traceback=None, err_msg="Exception ignored in",
                                     object=obj)

    def other() -> None:
        pass

    shown: list[object] = []
    before = sys.unraisablehook
    sys.unraisablehook = lambda args: shown.append(args.object)  # what Python would print
    try:
        with pytest.raises(interrupts.Terminated), interrupts.handle_signals():
            signal.raise_signal(signal.SIGTERM)
        sys.unraisablehook(unraisable(ffi.ObjectRef.__del__))
        assert shown == []
        sys.unraisablehook(unraisable(other))  # anything else is still shown
        assert shown == [other]
        shown.clear()
        sys.unraisablehook = lambda args: shown.append(args.object)
        with interrupts.handle_signals():  # without an interrupt: shown as usual
            pass
        sys.unraisablehook(unraisable(ffi.ObjectRef.__del__))
        assert shown == [ffi.ObjectRef.__del__]
    finally:
        sys.unraisablehook = before
