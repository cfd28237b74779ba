"""The OSM files must cover the study boundary ([network] min_boundary_coverage), and the
study extent without a boundary is the union of every file's own extent."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import osmium
import pytest
import shapely

from geoplan.cli import main
from geoplan.config import NetworkSource
from geoplan.errors import InputDataError
from geoplan.sources import osm
from geoplan.sources.osm_read import header_bounds
from geoplan.workflows.coverage import _boundary_coverage
from tests.osmxml import DLAT, DLON, LAT0, LON0, write_osm
from tests.test_boundary import _boundary_config, _geojson
from tests.test_cli_errors import run_bad

# Tongji–Siping box (WGS84) of the demo extract tongji-siping.osm
TONGJI = shapely.box(121.4915, 31.2809, 121.5025, 31.2895)


def test_coverage_share_below_threshold_stops() -> None:
    poly = shapely.box(121.50, 31.30, 121.52, 31.32)
    extent = shapely.box(121.50, 31.30, 121.51, 31.32)  # the western half
    with pytest.raises(InputDataError) as exc:
        _boundary_coverage(poly, extent, "b.geojson", 0.95)
    msg = str(exc.value)
    assert "\n" not in msg
    assert "km²" in msg and "(50.0 %)" in msg and "min_boundary_coverage = 0.95" in msg
    assert "b.geojson" in msg


def test_coverage_share_between_threshold_and_full_warns(
        caplog: pytest.LogCaptureFixture) -> None:
    poly = shapely.box(121.50, 31.30, 121.52, 31.32)
    extent = shapely.box(121.50, 31.30, 121.519, 31.32)
    with caplog.at_level(logging.WARNING):
        share = _boundary_coverage(poly, extent, "b.geojson", 0.9)
    assert share == pytest.approx(0.95, abs=0.002)
    assert any("(95.0 %)" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert _boundary_coverage(poly, poly.buffer(0.01), "b.geojson", 0.9) == 1.0
    assert not caplog.records


def test_cli_boundary_barely_covered(tmp_path: Path, demo_dir: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A district-sized boundary over a small extract: one line with both areas."""
    big = shapely.box(121.47, 31.26, 121.54, 31.33)
    f = _geojson(tmp_path / "big.geojson", [big], [{"name": "big"}])
    cfg = _boundary_config(tmp_path, demo_dir, f, "wgs84")
    line = run_bad(cfg, capsys, "min_boundary_coverage")
    assert "km²" in line and "%" in line and "big.geojson" in line


def test_cli_boundary_partly_covered_warns_and_records(tmp_path: Path,
                                                       demo_dir: Path) -> None:
    """Lowering the setting runs, warns and records the share in the manifest."""
    part = shapely.box(121.4915, 31.2809, 121.5060, 31.2895)  # ~76 % inside the extract
    f = _geojson(tmp_path / "part.geojson", [part], [{"name": "part"}])
    cfg = _boundary_config(tmp_path, demo_dir, f, "wgs84")
    text = cfg.read_text(encoding="utf-8").replace(
        "[network]\n", "[network]\nmin_boundary_coverage = 0.5\n")
    cfg.write_text(text, encoding="utf-8")
    assert main(["run", str(cfg), "-q"]) == 0
    man = json.loads(next((tmp_path / "out").rglob("manifest.json")).read_text("utf-8"))
    share = man["counts"]["osm_boundary_coverage"]
    assert 0.6 < share < 0.9


def _xml_with_bounds(path: Path, e0: float) -> Path:
    nodes = {1: (e0, 0.0), 2: (e0 + 200.0, 0.0), 3: (e0 + 200.0, 150.0)}
    return write_osm(path, nodes, [(10, [1, 2, 3], {"highway": "footway"})], bounds=True)


def _pbf_without_header(tmp_path: Path, e0: float) -> Path:
    src = write_osm(tmp_path / "b.osm", {11: (e0, 0.0), 12: (e0 + 300.0, 400.0)},
                    [(20, [11, 12], {"highway": "footway"})], bounds=False)
    dst = tmp_path / "b.osm.pbf"
    with osmium.SimpleWriter(osmium.io.File(str(dst), "pbf")) as w:
        for obj in osmium.FileProcessor(str(src)):
            w.add(obj)
    assert header_bounds(dst) is None
    return dst


@pytest.mark.parametrize("order", [0, 1])
def test_study_extent_is_union_of_every_file(tmp_path: Path, order: int,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """One XML with <bounds> and one PBF without a header box: both extents count."""
    a = _xml_with_bounds(tmp_path / "a.osm", 0.0)
    b = _pbf_without_header(tmp_path, 3000.0)
    files = (a, b) if order == 0 else (b, a)
    with caplog.at_level(logging.WARNING):
        ext = osm.study_boundary(NetworkSource(osm_files=files))
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "b.osm.pbf: no bounds in its header" in said[0]
    # the header box of a, and the nodes of b (3000-3300 m east, 0-400 m north)
    assert ext.covers(header_bounds(a))
    far = shapely.box(LON0 + 3000 * DLON, LAT0, LON0 + 3300 * DLON, LAT0 + 400 * DLAT)
    assert ext.buffer(1e-7).covers(far)
    assert ext.area < (header_bounds(a).area + far.area) * 1.01
