"""``geoplan batch``: study areas as Dask tasks (issue 15, parts 4 and 5).

Three adjacent districts over the small synthetic grid of :mod:`tests.smallcase`, each
with one residents' committee. A LocalCluster of 2 worker processes runs them; the results
must equal running the three area configs one by one with ``geoplan run``, also when a
worker is killed in the middle of a task; a broken area fails alone.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import dask
import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geoplan import cli
from geoplan.batch import BatchLock, area_tasks, run_batch
from tests.osmxml import DLAT, DLON, LAT0, LON0
from tests.smallcase import write_network

distributed = pytest.importorskip("distributed")

BASE = """
[study_area]
name = "city"
boundary = "districts.geojson"
boundary_crs = "wgs84"
@AREA@
[network]
osm_files = ["net.osm"]
[[facilities]]
type = "canteen"
path = "fac.csv"
x = "lon"
y = "lat"
crs = "wgs84"
[areas]
source = "file"
path = "committees.geojson"
elderly60_column = "e60"
elderly80_column = "e80"
[output]
dir = "@OUT@/data"
maps_dir = "@OUT@/maps"
cache_dir = "@CACHE@"
static_map = false
"""

#: West–east extent (metres) of the three districts; cuts fall between building rows.
CUTS = [(-10.0, 295.0), (295.0, 595.0), (595.0, 1000.0)]
CODES = ["310101", "310102", "310103"]


def _box(e0: float, n0: float, e1: float, n1: float) -> shapely.Geometry:
    return shapely.box(LON0 + e0 * DLON, LAT0 + n0 * DLAT, LON0 + e1 * DLON, LAT0 + n1 * DLAT)


def write_city(folder: Path, *, extra: list[tuple[str, str, shapely.Geometry]] = (),
               code_column: str = "adcode") -> Path:
    """Network, facilities, committees and the districts file; return the base config."""
    folder.mkdir(parents=True, exist_ok=True)
    write_network(folder / "net.osm")
    dist = [(c, f"第{i + 1}区", _box(e0, -10, e1, 760)) for i, (c, (e0, e1))
            in enumerate(zip(CODES, CUTS, strict=True))]
    dist += list(extra)
    gpd.GeoDataFrame({code_column: [d[0] for d in dist], "name": [d[1] for d in dist]},
                     geometry=[d[2] for d in dist], crs=4326).to_file(
        folder / "districts.geojson", driver="GeoJSON")
    gpd.GeoDataFrame({"code": [f"{c}001" for c in CODES], "name": ["甲", "乙", "丙"],
                      "e60": [900, 800, 700], "e80": [100, 90, 80]},
                     geometry=[_box(e0 + 2, -8, e1 - 2, 758) for e0, e1 in CUTS],
                     crs=4326).to_file(folder / "committees.geojson", driver="GeoJSON")
    (lon1, lat1), (lon2, lat2) = ((LON0 + 160 * DLON, LAT0 + 160 * DLAT),
                                  (LON0 + 600 * DLON, LAT0 + 460 * DLAT))
    (folder / "fac.csv").write_text(f"name,lon,lat\nA,{lon1},{lat1}\nB,{lon2},{lat2}\n",
                                    encoding="utf-8")
    cfg = folder / "base.toml"
    cfg.write_text(_config("", folder / "out", folder / "cache"), encoding="utf-8")
    return cfg


def _config(area: str, out: Path, cache: Path) -> str:
    return (BASE.replace("@AREA@", area).replace("@OUT@", out.as_posix())
            .replace("@CACHE@", cache.as_posix()))


def _files(folder: Path) -> dict[str, bytes]:
    """Every output file under ``folder`` by relative path, except the manifest (it holds
    times and the config file's path)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "manifest.json"}


@pytest.fixture(scope="module")
def client():
    """Two worker processes, one thread each, quiet, small memory."""
    with dask.config.set({"distributed.logging.distributed": "error",
                          "distributed.admin.system-monitor.gil.enabled": False}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", memory_limit="2GiB",
                                           silence_logs=50)
        cl = distributed.Client(cluster, set_as_default=False)
        yield cl
        cl.close()
        cluster.close()


@pytest.fixture(scope="module")
def one_by_one(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """The three areas run one by one with ``geoplan run`` (the reference)."""
    folder = tmp_path_factory.mktemp("ref")
    write_city(folder)
    ref = {}
    for code in CODES:
        out = folder / "runs" / code
        cfg = folder / f"{code}.toml"
        text = _config(f'boundary_code = "{code}"', out, folder / "cache")
        cfg.write_text(text.replace('name = "city"', f'name = "city-{code}"'), encoding="utf-8")
        assert cli.main(["run", str(cfg), "-q"]) == 0
        ref[code] = _files(out)
    return ref


def _check_identical(out: Path, ref: dict[str, dict[str, bytes]]) -> None:
    for code in CODES:
        got = _files(out / "areas" / code)
        assert sorted(got) == sorted(ref[code])
        for name, data in ref[code].items():
            assert got[name] == data, f"{code}/{name} differs from geoplan run"


def test_batch_equals_one_by_one_and_rerun_skips(tmp_path, client, one_by_one):
    cfg = write_city(tmp_path)
    out = tmp_path / "batch"
    tasks, polys = area_tasks(cfg, out)
    assert [t.id for t in tasks] == CODES
    lines: list[str] = []
    res = run_batch(tasks, out, polygons=polys, client=client, title="city",
                    progress=lines.append)
    assert list(res.rows["status"]) == ["done"] * 3
    _check_identical(out, one_by_one)
    assert sum(f"[{k}/3]" in " ".join(lines) for k in (1, 2, 3)) == 3
    # the city summary: one row per area, totals equal to the areas' own summaries
    table = pd.read_csv(res.paths["csv"], encoding="utf-8-sig")
    assert list(table["区域代码"].astype(str)) == CODES
    assert list(table["60岁以上老人"]) == [900, 800, 700]
    merged = gpd.read_file(res.paths["gpkg"], layer="districts")
    assert len(merged) == 3 and merged.geometry.notna().all()
    committees = gpd.read_file(res.paths["gpkg"], layer="areas")
    assert sorted(committees["batch_area"].astype(str)) == CODES
    assert list(committees["elderly_60"]) == [900, 800, 700]
    assert res.paths["xlsx"].is_file() and res.paths["map"].is_file()
    assert not (out / ".geoplan-batch.lock").exists()
    # a rerun with nothing changed skips every area, and leaves the outputs as they were
    before = _files(out / "areas")
    res2 = run_batch(*area_tasks(cfg, out)[:1], out, polygons=polys, client=client,
                     title="city", progress=lines.append)
    assert list(res2.rows["status"]) == ["skipped"] * 3
    assert _files(out / "areas") == before
    assert list(pd.read_csv(res2.paths["csv"], encoding="utf-8-sig")["60岁以上老人"]) == \
        [900, 800, 700]
    # a changed input file runs the areas again
    fac = tmp_path / "fac.csv"
    fac.write_text(fac.read_text(encoding="utf-8") + "C,121.5001,31.3001\n", encoding="utf-8")
    res3 = run_batch(area_tasks(cfg, out)[0], out, polygons=polys, client=client,
                     title="city", progress=lines.append)
    assert list(res3.rows["status"]) == ["done"] * 3


def test_killed_worker_gives_identical_results(tmp_path, client, one_by_one):
    cfg = write_city(tmp_path)
    out = tmp_path / "batch"
    tasks, polys = area_tasks(cfg, out)
    pids = client.run(os.getpid)
    killed: list[int] = []

    def kill_first_busy() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            busy = [w for w, keys in client.processing().items()
                    if any("geoplan-area" in str(k) for k in keys)]
            if busy and busy[0] in pids:
                time.sleep(0.5)  # well inside the task (each takes seconds)
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(pids[busy[0]])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_busy)
    killer.start()
    res = run_batch(tasks, out, polygons=polys, client=client, title="city",
                    progress=lambda _: None)
    killer.join()
    assert killed, "no worker was killed during the batch"
    assert list(res.rows["status"]) == ["done"] * 3
    _check_identical(out, one_by_one)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


def test_broken_area_fails_alone_cli(tmp_path, capsys):
    """A district the OSM file does not cover fails with both extents; the others finish."""
    far = _box(50_000, 50_000, 51_000, 51_000)
    cfg = write_city(tmp_path, extra=[("310199", "远区", far)])
    out = tmp_path / "batch"
    code = cli.main(["batch", str(cfg), "--out", str(out), "--workers", "2", "-q"])
    text = capsys.readouterr().out
    assert code == 1
    failed = [ln for ln in text.splitlines() if "310199" in ln and "failed" in ln]
    assert len(failed) == 1 and "study boundary" in failed[0] and "E" in failed[0]
    assert "Traceback" not in text
    for c in CODES:
        assert (out / "areas" / c / "data" / f"city-{c}-coverage.gpkg").is_file()
    assert not (out / "areas" / "310199" / "data").exists()
    table = pd.read_csv(out / "city-summary.csv", encoding="utf-8-sig", dtype={"区域代码": str})
    assert list(table["状态"]) == ["done", "done", "done", "failed"]


def _error_line(capsys, argv: list[str]) -> tuple[int, str]:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return code, err


def test_areas_file_without_code_column(tmp_path, capsys):
    cfg = write_city(tmp_path, code_column="code6")
    code, err = _error_line(capsys, ["batch", str(cfg), "--out", str(tmp_path / "o")])
    assert code == 2 and "column 'adcode' not found" in err and "code6" in err
    assert "boundary_code_column" in err


def test_overlapping_areas_are_an_error(tmp_path, capsys):
    over = _box(200, 100, 400, 300)
    cfg = write_city(tmp_path, extra=[("310104", "重叠区", over)])
    code, err = _error_line(capsys, ["batch", str(cfg), "--out", str(tmp_path / "o")])
    assert code == 2 and "overlap" in err and "310104" in err


def test_shared_border_slivers_are_accepted(tmp_path):
    """Neighbours that overlap by a hand-digitised sliver (1 m) are fine."""
    cfg = write_city(tmp_path, extra=[("310104", "北区", _box(-10, 759, 1000, 900))])
    tasks, _ = area_tasks(cfg, tmp_path / "o")
    assert len(tasks) == 4


def test_scheduler_that_does_not_answer(tmp_path, capsys):
    cfg = write_city(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    code, err = _error_line(capsys, ["batch", str(cfg), "--out", str(tmp_path / "o"),
                                     "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert code == 2 and f"127.0.0.1:{port}" in err and "did not answer" in err
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "o" / ".geoplan-batch.lock").exists()
    # the folders the failed batch created are gone; a folder that was there stays
    assert not (tmp_path / "o").exists()
    deep = tmp_path / "new" / "deeper" / "o"
    code, err = _error_line(capsys, ["batch", str(cfg), "--out", str(deep),
                                     "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert code == 2 and not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "mine.txt").write_text("x", encoding="utf-8")
    code, err = _error_line(capsys, ["batch", str(cfg), "--out", str(tmp_path / "kept"),
                                     "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert code == 2 and sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["mine.txt"]


def test_interrupted_batch_counts_the_published_areas(tmp_path, capsys, monkeypatch):
    """Interrupted while summarising: the areas that finished are published (and kept for
    the rerun), so the message counts them instead of saying nothing was published."""
    import geoplan.batch

    cfg = write_city(tmp_path)
    out = tmp_path / "batch"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(geoplan.batch, "write_summary", interrupt)
    code = cli.main(["batch", str(cfg), "--out", str(out), "--workers", "2", "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 130 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "nothing was published" not in err
    assert (f"interrupted (SIGINT); {len(CODES)} of {len(CODES)} areas were published (their "
            "outputs are complete); the other 0 and the batch summary were not") in err
    for c in CODES:
        assert (out / "areas" / c / "data" / f"city-{c}-coverage.gpkg").is_file()
    assert not (out / "city-summary.csv").exists()


def test_interrupt_message_before_any_area(capsys):
    from geoplan import interrupts

    interrupts.reset()
    interrupts.note_batch(0, 4)
    assert cli._interrupted(signal.SIGINT) == 130
    assert capsys.readouterr().err.strip() == (
        "geoplan: interrupted (SIGINT); no area and no batch summary was published")
    interrupts.note_batch(1, 4)
    cli._interrupted(signal.SIGTERM)
    assert "1 of 4 areas were published" in capsys.readouterr().err
    interrupts.reset()
    cli._interrupted(signal.SIGINT)
    assert "nothing was published" in capsys.readouterr().err


def test_output_folder_shared_by_two_batches(tmp_path, capsys):
    cfg = write_city(tmp_path)
    out = tmp_path / "o"
    with BatchLock(out):
        code, err = _error_line(capsys, ["batch", str(cfg), "--out", str(out)])
    assert code == 2 and "another geoplan batch" in err and str(os.getpid()) in err
    assert not (out / "areas").exists()


def test_list_of_configs_needs_distinct_output_folders(tmp_path, capsys):
    cfg = write_city(tmp_path)
    text = cfg.read_text(encoding="utf-8")
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(text.replace('name = "city"', 'name = "a"'), encoding="utf-8")
    b.write_text(text.replace('name = "city"', 'name = "b"'), encoding="utf-8")
    code, err = _error_line(capsys, ["batch", str(a), str(b), "--out", str(tmp_path / "o")])
    assert code == 2 and "output.dir" in err and "a.toml" in err and "b.toml" in err
