"""Study boundaries and area polygons in any datum, and edge effects across the boundary."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from geoplan.cli import main
from geoplan.errors import InputDataError
from geoplan.sources.boundary import (
    polygons_to_wgs84,
    read_polygons_wgs84,
    study_boundary_from_file,
)
from geoplan.sources.crs import to_wgs84, wgs84_to_gcj02
from tests.test_cli_errors import make_config, run_bad

# Tongji–Siping box (WGS84) and a polygon covering its western half
WEST_HALF = shapely.box(121.4915, 31.2809, 121.4970, 31.2895)


def _geojson(path: Path, polys: list[shapely.Geometry], props: list[dict]) -> Path:
    feats = [{"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(g)}
             for g, p in zip(polys, props, strict=True)]
    # like cnmaps' files: GeoJSON without any CRS member
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}),
                    encoding="utf-8")
    return path


def _to_gcj(poly: shapely.Geometry) -> shapely.Geometry:
    def conv(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
    return shapely.transform(poly, conv)


def test_gcj02_polygon_is_converted_vertex_by_vertex() -> None:
    poly = shapely.Polygon([(121.50, 31.28), (121.52, 31.28), (121.52, 31.30), (121.50, 31.30)])
    out = polygons_to_wgs84(np.array([poly]), "gcj02")[0]
    xy = shapely.get_coordinates(poly)
    lon, lat = to_wgs84(xy[:, 0], xy[:, 1], "gcj02")
    assert np.allclose(shapely.get_coordinates(out), np.column_stack([lon, lat]), atol=1e-12)
    # the shift in Shanghai is several hundred metres, not zero
    assert shapely.hausdorff_distance(poly, out) > 0.002


def test_boundary_picked_by_code_or_name_and_converted(tmp_path: Path) -> None:
    a = _to_gcj(shapely.box(121.49, 31.28, 121.50, 31.29))
    b = _to_gcj(shapely.box(121.51, 31.28, 121.52, 31.29))
    f = _geojson(tmp_path / "d.geojson", [a, b], [{"adcode": 310110, "name": "杨浦区"},
                                                  {"adcode": 310115, "name": "浦东新区"}])
    by_code = study_boundary_from_file(f, "gcj02", code="310110")
    by_name = study_boundary_from_file(f, "gcj02", name="杨浦区")
    assert by_code.equals(by_name)
    assert shapely.hausdorff_distance(by_code, shapely.box(121.49, 31.28, 121.50, 31.29)) < 1e-5
    as_wgs = study_boundary_from_file(f, None, code="310110")  # read as the file says
    assert shapely.hausdorff_distance(as_wgs, by_code) > 0.002
    with pytest.raises(InputDataError, match=r"no polygon with adcode = '999999'.*310110"):
        study_boundary_from_file(f, "gcj02", code="999999")
    with pytest.raises(InputDataError, match="column 'code' not found"):
        study_boundary_from_file(f, "gcj02", code="310110", code_column="code")


@pytest.mark.parametrize("codes", [(None, "B2"), (None, 310115), ("B1", None)])
def test_blank_codes_or_names_in_the_boundary_file(tmp_path: Path, codes: tuple) -> None:
    """A feature with no value in the code (or name) column is never picked and never
    breaks the one-line message when nothing matches."""
    a, b = shapely.box(121.49, 31.28, 121.50, 31.29), shapely.box(121.51, 31.28, 121.52, 31.29)
    f = _geojson(tmp_path / "d.geojson", [a, b],
                 [{"code": codes[0], "name": codes[1]}, {"code": codes[1], "name": codes[0]}])
    with pytest.raises(InputDataError, match=r"no polygon with code = 'X9'.*\(blank\)"):
        study_boundary_from_file(f, "wgs84", code="X9", code_column="code")
    with pytest.raises(InputDataError, match=r"no polygon with name = 'X9'.*\(blank\)"):
        study_boundary_from_file(f, "wgs84", name="X9")
    given = codes[1] if codes[1] is not None else codes[0]  # the one code present
    picked = study_boundary_from_file(f, "wgs84", code=str(given), code_column="code")
    assert picked.equals(b if codes[1] is not None else a)
    # geoplan init finds the column by the same rule the run matches with
    from geoplan.workflows.init import inspect_boundary

    assert inspect_boundary(f, code=str(given)).code_column in ("code", "name")
    with pytest.raises(InputDataError, match="no polygon has code 'X9'"):
        inspect_boundary(f, code="X9")


def test_projected_file_declared_as_degrees_is_refused(tmp_path: Path) -> None:
    g = gpd.GeoDataFrame({"name": ["x"]}, geometry=[shapely.box(0, 0, 100, 100)],
                         crs="EPSG:32651")
    p = tmp_path / "p.gpkg"
    g.to_file(p)
    with pytest.raises(InputDataError, match="projected CRS"):
        read_polygons_wgs84(p, "gcj02", "areas.path")
    out = read_polygons_wgs84(p, None, "areas.path")
    assert out.crs.to_epsg() == 4326


def _boundary_config(tmp_path: Path, demo_dir: Path, boundary: Path, crs: str,
                     extra: str = "") -> Path:
    cfg = make_config(tmp_path, demo_dir)
    text = cfg.read_text(encoding="utf-8").replace(
        'name = "bad-input"',
        f'name = "bad-input"\nboundary = "{boundary}"\nboundary_crs = "{crs}"\n{extra}')
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_edge_effects_facilities_outside_serve_residents_inside(tmp_path: Path,
                                                                demo_dir: Path) -> None:
    """A GCJ-02 boundary over half the Tongji box: residents outside are not scored, and
    canteens outside the boundary but within walking reach still count."""
    f = _geojson(tmp_path / "b.geojson", [_to_gcj(WEST_HALF)], [{"name": "西半"}])
    cfg = _boundary_config(tmp_path, demo_dir, f, "gcj02")
    assert main(["run", str(cfg), "-q"]) == 0
    gpkg = next((tmp_path / "out" / "data").rglob("*-coverage.gpkg"))
    dem = gpd.read_file(gpkg, layer="demand_points").to_crs(4326)
    inside = shapely.covers(WEST_HALF.buffer(1e-6), dem.geometry.to_numpy())
    assert inside.all()
    fac = gpd.read_file(gpkg, layer="facilities")
    assert fac["outside_boundary"].astype(bool).any()
    outside = fac[fac["outside_boundary"].astype(bool)]
    assert (outside["serves_inside_60"] > 0).any()
    dem_nearest = set(dem["canteen_nearest"].astype(str))
    assert set(outside.loc[outside["serves_inside_60"] > 0, "fid"].astype(str)) <= dem_nearest


def test_boundary_off_the_network_names_both_extents(tmp_path: Path, demo_dir: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    f = _geojson(tmp_path / "far.geojson", [shapely.box(120.0, 30.0, 120.1, 30.1)],
                 [{"name": "far"}])
    cfg = _boundary_config(tmp_path, demo_dir, f, "wgs84")
    line = run_bad(cfg, capsys, "does not overlap the OSM files")
    assert "120.0000" in line and "121.4915" in line


def test_unknown_boundary_crs_is_a_config_error(tmp_path: Path, demo_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    f = _geojson(tmp_path / "b.geojson", [WEST_HALF], [{"name": "x"}])
    cfg = _boundary_config(tmp_path, demo_dir, f, "mars")
    run_bad(cfg, capsys, "study_area.boundary_crs = 'mars'")


def test_areas_file_in_gcj02(tmp_path: Path, demo_dir: Path) -> None:
    """Committee polygons drawn on an Amap base map (GCJ-02) land on the OSM network."""
    cells = [shapely.box(121.4920 + i * 0.004, 31.2815, 121.4960 + i * 0.004, 31.2890)
             for i in range(2)]
    f = _geojson(tmp_path / "areas.geojson", [_to_gcj(c) for c in cells],
                 [{"code": "310110001001", "name": "甲", "e60": 500, "e80": 80},
                  {"code": "310110001002", "name": "乙", "e60": 400, "e80": 60}])
    extra = ('path = "' + str(f) + '"\ncode_column = "code"\nname_column = "name"\n'
             'elderly60_column = "e60"\nelderly80_column = "e80"\ncrs = "gcj02"')
    cfg = make_config(tmp_path, demo_dir, AREAS="file", AREAS_EXTRA=extra)
    assert main(["run", str(cfg), "-q"]) == 0
    gpkg = next((tmp_path / "out" / "data").rglob("*-coverage.gpkg"))
    areas = gpd.read_file(gpkg, layer="areas").to_crs(4326)
    for got, want in zip(areas.sort_values("code").geometry, cells, strict=True):
        assert shapely.hausdorff_distance(got, want) < 2e-5  # back on WGS84, ~2 m
    assert "areas" in {n for n, _ in pyogrio.list_layers(gpkg)}
