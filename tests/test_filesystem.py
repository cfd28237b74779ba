"""File-system trouble: one line naming the path and what to do, no traceback, no output.

Unreadable inputs, output or cache folders that are files or not writable, a full disk,
damaged siting results. Tests run as root in CI, where file permissions do not stop
anything: there the real-permission tests use kernel files and folders that refuse even
root (a write-only /proc/sys setting, sysfs).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import types
from pathlib import Path

import pyogrio
import pytest

import geoplan.hashing
from geoplan.cli import describe_os_error, main
from geoplan.outputs.atomic import check_output_folder
from tests.smallcase import output_files, write_case

REPO = Path(__file__).resolve().parents[1]


def _one_error(code: int, err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("geoplan: error:")]
    assert code == 2, err[-3000:]
    assert len(lines) == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return lines[0]


def _no_output(out: Path) -> None:
    assert output_files(out) == []  # no output, no temporary file (hidden ones included)
    if out.exists():
        assert list(out.rglob(".staging-*")) == []


# -- unreadable input -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["fac.csv", "net.osm"])
def test_unreadable_input_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str], name: str) -> None:
    cfg = write_case(tmp_path)
    denied = tmp_path / name

    def guarded_open(path: str | os.PathLike[str], *args: object, **kw: object):
        if Path(path).resolve() == denied.resolve():
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return open(path, *args, **kw)

    # the hashing for the manifest and the network cache key read the file here
    monkeypatch.setattr(geoplan.hashing, "open", guarded_open, raising=False)
    line = _one_error(main(["run", str(cfg)]), capsys.readouterr().err)
    assert f"cannot read {denied}" in line and "permission" in line, line
    _no_output(tmp_path / "out")


def _unreadable_file(path: Path) -> Path:
    """A file at ``path`` that this process really cannot read.

    As an ordinary user: chmod 000. As root (CI), permissions do not stop reads, so
    ``path`` becomes a link to a write-only kernel setting that not even root may read.
    """
    if os.geteuid() != 0:
        path.write_text("name,lon,lat\n", encoding="utf-8")
        path.chmod(0)
        return path
    target = Path("/proc/sys/vm/drop_caches")  # mode 0200
    try:
        target.open("rb").close()
    except PermissionError:
        path.symlink_to(target)
        return path
    pytest.fail("cannot make an unreadable file as root here (no write-only /proc/sys file)")


def _unwritable_folder(tmp_path: Path) -> Path:
    """An output folder this process cannot create or write to (also as root)."""
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        return folder / "data"
    return Path("/sys") / f"geoplan-test-{os.getpid()}" / "data"  # sysfs refuses mkdir


def test_real_unreadable_input_file(tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_case(tmp_path)
    fac = tmp_path / "fac.csv"
    fac.unlink()
    _unreadable_file(fac)
    line = _one_error(main(["run", str(cfg)]), capsys.readouterr().err)
    assert str(fac) in line and "permission" in line.lower(), line
    _no_output(tmp_path / "out")


def test_real_output_folder_not_writable(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_case(tmp_path)
    out = _unwritable_folder(tmp_path)
    text = cfg.read_text(encoding="utf-8").replace(f'dir = "{(tmp_path / "out").as_posix()}/data"',
                                                   f'dir = "{out.as_posix()}"')
    cfg.write_text(text, encoding="utf-8")
    line = _one_error(main(["run", str(cfg)]), capsys.readouterr().err)
    assert str(out.parent) in line and "output.dir" in line, line
    assert "writable" in line or "permission denied" in line, line
    assert not out.exists()
    _no_output(tmp_path / "out")


# -- output folders that are files ----------------------------------------------------

@pytest.mark.parametrize("setting", ["dir", "maps_dir", "cache_dir"])
@pytest.mark.parametrize("where", ["itself", "parent"])
def test_output_folder_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 setting: str, where: str) -> None:
    cfg = write_case(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    blocker = tmp_path / "blocker"
    blocker.write_text("I am a file\n", encoding="utf-8")
    target = blocker if where == "itself" else blocker / "sub"
    lines = [ln for ln in text.splitlines() if not ln.startswith(f"{setting} =")]
    lines.append(f'{setting} = "{target.as_posix()}"')
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    line = _one_error(main(["run", str(cfg)]), capsys.readouterr().err)
    assert f"output.{setting} = {target}" in line and "is a file" in line, line
    assert "another folder" in line
    assert blocker.read_text(encoding="utf-8") == "I am a file\n"
    _no_output(tmp_path / "out")


def test_check_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from geoplan.errors import GeoplanError

    check_output_folder(tmp_path / "new" / "deeper", "output.dir")  # creatable: fine
    assert not (tmp_path / "new").exists()  # and nothing was created
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != tmp_path)
    with pytest.raises(GeoplanError, match=r"output.dir = .*cannot be created in .*not "
                                           r"writable.*set output.dir to another folder"):
        check_output_folder(tmp_path / "new", "output.dir")


# -- a full disk ------------------------------------------------------------------------

def test_disk_full_while_writing_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_case(tmp_path)
    real = os.fsync

    def full(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", full)
    line = _one_error(main(["run", "--no-cache", str(cfg)]), capsys.readouterr().err)
    assert "disk is full" in line and "free disk space" in line, line
    assert str(tmp_path / "out" / "data") in line and ".staging-" not in line, line
    assert "output.dir" in line
    _no_output(tmp_path / "out")


def test_disk_full_in_geopackage_is_not_a_missing_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # SQLite on a full disk: GDAL reports "no such table" (what the planner saw before)
    cfg = write_case(tmp_path)

    def write(*args: object, **kw: object) -> None:
        raise pyogrio.errors.FeatureError("sqlite3_exec(INSERT INTO gpkg_contents ...) "
                                          "failed: no such table: gpkg_contents")

    monkeypatch.setattr(pyogrio, "write_dataframe", write)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda p: types.SimpleNamespace(total=10**9, used=10**9, free=0))
    line = _one_error(main(["run", "--no-cache", str(cfg)]), capsys.readouterr().err)
    assert "disk is full" in line and "small-coverage.gpkg" in line, line
    assert "no such table" not in line
    _no_output(tmp_path / "out")


_LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
lim = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (lim, lim))
from geoplan.cli import main
sys.exit(main(["run", "--no-cache", sys.argv[2]]))
"""


@pytest.mark.parametrize("limit", [20_000, 120_000])
def test_real_write_limit(tmp_path: Path, limit: int) -> None:
    # A file-size limit makes real writes fail as a full disk does (in GDAL's SQLite too)
    cfg = write_case(tmp_path)
    r = subprocess.run([sys.executable, "-c", _LIMITED, str(limit), str(cfg)], cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                       text=True, timeout=600, check=False)
    line = _one_error(r.returncode, r.stderr)
    assert "free disk space" in line and str(tmp_path / "out" / "data") in line, line
    assert "no such table" not in line and "commit" not in line
    _no_output(tmp_path / "out")


# -- damaged siting results -------------------------------------------------------------

def test_report_skips_damaged_siting_geopackages(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_case(tmp_path)
    siting = tmp_path / "out" / "data" / "siting"
    siting.mkdir(parents=True)
    (siting / "small-site-empty.gpkg").write_bytes(b"")
    (siting / "small-site-junk.gpkg").write_bytes(b"SQLite format 3\x00" + b"\x07" * 500)
    import geopandas as gpd  # a readable result whose scenario name is not its file stem

    good = siting / "small-site-1_N.gpkg"
    gpd.GeoDataFrame({"scenario": ["1+N"], "model": ["mclp"]}, geometry=[None],
                     crs=4326).to_file(good, layer="scenario")
    gpd.GeoDataFrame({"rank": [1]}, geometry=gpd.points_from_xy([121.5], [31.3]),
                     crs=4326).to_file(good, layer="proposed_sites")
    assert main(["report", str(cfg)]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for name, why in (("small-site-empty.gpkg", "empty (0 bytes"),
                      ("small-site-junk.gpkg", "not a readable GeoPackage")):
        warn = [ln for ln in err.splitlines() if name in ln]
        assert len(warn) == 1 and "skipped" in warn[0] and why in warn[0], err[-2000:]
    html = (tmp_path / "out" / "data" / "small-report.html").read_text(encoding="utf-8")
    assert "选址结果small-site-empty.gpkg未纳入" in html  # the report's language (zh)
    manifest = (tmp_path / "out" / "data" / "small-report-manifest.json").read_text(
        encoding="utf-8")
    assert "small-site-junk" not in manifest  # not recorded as an input
    assert "small-site-1_N.gpkg" in manifest  # read, so recorded (named "1+N" inside)


# -- the messages -----------------------------------------------------------------------

@pytest.mark.parametrize(("code", "words"), [
    (errno.EACCES, "cannot write"), (errno.ENOSPC, "disk is full"),
    (errno.EDQUOT, "disk is full"), (errno.EROFS, "read-only"),
    (errno.ENOTDIR, "not a folder"), (errno.EEXIST, "exists as a file"),
    (errno.EISDIR, "is a folder"), (errno.EFBIG, "too large"), (errno.EIO, "check the disk"),
    (errno.ENAMETOOLONG, "check the path")])
def test_os_error_messages(tmp_path: Path, code: int, words: str) -> None:
    import geoplan.cli as cli

    out = tmp_path / "out"
    cli._OUTPUT_FOLDERS[:] = [("output.dir", out)]
    try:
        path = out / ".staging-123-abcdef01" / "t.csv"
        msg = describe_os_error(OSError(code, os.strerror(code), str(path)))
    finally:
        cli._OUTPUT_FOLDERS.clear()
    assert "\n" not in msg and words in msg, msg
    assert str(out / "t.csv") in msg and ".staging" not in msg, msg
    if code not in (errno.EIO, errno.ENAMETOOLONG):
        assert "output.dir" in msg, msg
    read = describe_os_error(PermissionError(errno.EACCES, "Permission denied",
                                             str(tmp_path / "in.csv")))
    assert read.startswith(f"cannot read {tmp_path / 'in.csv'}") and "chmod" in read
