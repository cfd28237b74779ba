"""Bad input: one clear line on stderr, non-zero exit, no traceback, no partial output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geoplan.cli import main
from tests.osmxml import write_osm

GOOD = """
[study_area]
name = "bad-input"
[paths]
data_root = "@ROOT@"
[network]
osm_files = [@OSM@]
[[facilities]]
type = "@TYPE@"
path = "@FAC@"
x = "@X@"
y = "@Y@"
crs = "@CRS@"
[areas]
source = "@AREAS@"
@AREAS_EXTRA@
[population]
census_file = "@CENSUS@"
district_code = "310110"
[output]
dir = "@OUT@/data"
maps_dir = "@OUT@/maps"
cache_dir = "@OUT@/cache"
"""


def make_config(tmp_path: Path, demo_dir: Path, **kw: str) -> Path:
    values = {"ROOT": str(demo_dir), "OSM": '"osm/tongji-siping.osm"', "TYPE": "canteen",
              "FAC": "facilities/yangpu_elder_canteens_2024_gcj02.csv", "X": "lon_gcj02",
              "Y": "lat_gcj02", "CRS": "gcj02", "AREAS": "compounds+grid", "AREAS_EXTRA": "",
              "CENSUS": "census/district_elderly_2020.csv", "OUT": str(tmp_path / "out")}
    values.update(kw)
    text = GOOD
    for k, v in values.items():
        text = text.replace(f"@{k}@", v)
    p = tmp_path / "c.toml"
    p.write_text(text, encoding="utf-8")
    return p


def run_bad(cfg: Path, capsys: pytest.CaptureFixture[str], match: str) -> str:
    code = main(["run", str(cfg)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "geoplan: error:" in ln]
    assert code != 0
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert match in lines[0], lines[0]
    out = cfg.parent / "out"
    written = [p for p in out.rglob("*") if p.is_file() and "cache" not in p.parts] \
        if out.exists() else []
    assert written == [], written
    return lines[0]


def _csv(tmp_path: Path, text: str, name: str = "f.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    return p


def test_missing_file(tmp_path: Path, demo_dir: Path, capsys: pytest.CaptureFixture[str]):
    cfg = make_config(tmp_path, demo_dir, FAC="facilities/nope.csv")
    run_bad(cfg, capsys, "file not found")


def test_wrong_column(tmp_path: Path, demo_dir: Path, capsys: pytest.CaptureFixture[str]):
    cfg = make_config(tmp_path, demo_dir, X="lng")
    run_bad(cfg, capsys, "'lng'")


def test_non_numeric_coordinates(tmp_path: Path, demo_dir: Path,
                                 capsys: pytest.CaptureFixture[str]):
    f = _csv(tmp_path, "name,lon,lat\nA,东经121.5,31.28\nB,东经121.49,31.28\n")
    cfg = make_config(tmp_path, demo_dir, FAC=str(f), X="lon", Y="lat", CRS="wgs84")
    run_bad(cfg, capsys, "not numeric")


def test_swapped_coordinates(tmp_path: Path, demo_dir: Path,
                             capsys: pytest.CaptureFixture[str]):
    f = _csv(tmp_path, "name,lon,lat\nA,31.2850,121.4950\nB,31.2860,121.4990\n")
    cfg = make_config(tmp_path, demo_dir, FAC=str(f), X="lon", Y="lat", CRS="wgs84")
    run_bad(cfg, capsys, "swapped")


def test_all_outside(tmp_path: Path, demo_dir: Path, capsys: pytest.CaptureFixture[str]):
    f = _csv(tmp_path, "name,lon,lat\nA,121.20,31.00\nB,121.21,31.01\n")
    cfg = make_config(tmp_path, demo_dir, FAC=str(f), X="lon", Y="lat", CRS="wgs84")
    run_bad(cfg, capsys, "outside the study area")


def test_not_osm(tmp_path: Path, demo_dir: Path, capsys: pytest.CaptureFixture[str]):
    f = _csv(tmp_path, "this is not xml\n", name="x.osm")
    cfg = make_config(tmp_path, demo_dir, OSM=f'"{f}"')
    run_bad(cfg, capsys, "not an OpenStreetMap XML file")


def test_empty_network(tmp_path: Path, demo_dir: Path, capsys: pytest.CaptureFixture[str]):
    p = write_osm(tmp_path / "empty.osm", {1: (0, 0), 2: (100, 0)},
                  [(1, [1, 2], {"building": "yes"})])
    cfg = make_config(tmp_path, demo_dir, OSM=f'"{p}"')
    run_bad(cfg, capsys, "no walkable way")


def test_disconnected_network(tmp_path: Path, demo_dir: Path,
                              capsys: pytest.CaptureFixture[str]):
    nodes = {1: (0, 0), 2: (100, 0), 3: (5000, 0), 4: (5100, 0), 5: (10000, 0), 6: (10100, 0)}
    ways = [(1, [1, 2], {"highway": "footway"}), (2, [3, 4], {"highway": "footway"}),
            (3, [5, 6], {"highway": "footway"})]
    p = write_osm(tmp_path / "parts.osm", nodes, ways)
    cfg = make_config(tmp_path, demo_dir, OSM=f'"{p}"')
    run_bad(cfg, capsys, "disconnected")


def test_unknown_facility_type(tmp_path: Path, demo_dir: Path,
                               capsys: pytest.CaptureFixture[str]):
    cfg = make_config(tmp_path, demo_dir, TYPE="soup_kitchen")
    run_bad(cfg, capsys, "not a known facility type")


def _areas_file(tmp_path: Path, crs: int | None, codes: list[str],
                e60: list[float]) -> Path:
    # two committee-like polygons over the Tongji-Siping extract (test-only geometry)
    polys = [shapely.box(121.4915, 31.2809, 121.4974, 31.2895),
             shapely.box(121.4974, 31.2809, 121.5033, 31.2895)]
    gdf = gpd.GeoDataFrame({"code": codes, "name": ["甲居委会", "乙居委会"],
                            "street": ["310110012", "310110012"], "e60": e60},
                           geometry=polys, crs=4326)
    p = tmp_path / "committees.geojson"
    gdf.to_file(p, driver="GeoJSON")
    if crs is None:  # strip the CRS member
        data = json.loads(p.read_text(encoding="utf-8"))
        data.pop("crs", None)
        p.write_text(json.dumps(data), encoding="utf-8")
        shutil.copy(p, p.with_suffix(".json"))
    return p


AREA_COLUMNS = ('path = "@P@"\ncode_column = "code"\nname_column = "name"\n'
                'street_code_column = "street"\nelderly60_column = "e60"')


def test_area_file_without_crs(tmp_path: Path, demo_dir: Path,
                               capsys: pytest.CaptureFixture[str]):
    import pyogrio

    p = _areas_file(tmp_path, None, ["310110012001", "310110012002"], [900, 800])
    if pyogrio.read_info(p)["crs"] is not None:  # GeoJSON defaults to WGS84 in GDAL
        p = tmp_path / "committees.gpkg"
        gdf = gpd.read_file(tmp_path / "committees.geojson").set_crs(None, allow_override=True)
        gdf.to_file(p, driver="GPKG")
    cfg = make_config(tmp_path, demo_dir, AREAS="file",
                      AREAS_EXTRA=AREA_COLUMNS.replace("@P@", str(p)))
    run_bad(cfg, capsys, "CRS")


def test_duplicate_area_codes(tmp_path: Path, demo_dir: Path,
                              capsys: pytest.CaptureFixture[str]):
    p = _areas_file(tmp_path, 4326, ["310110012001", "310110012001"], [900, 800])
    cfg = make_config(tmp_path, demo_dir, AREAS="file",
                      AREAS_EXTRA=AREA_COLUMNS.replace("@P@", str(p)))
    run_bad(cfg, capsys, "duplicate area code")


def test_zero_population_area_is_scored(tmp_path: Path, demo_dir: Path,
                                        capsys: pytest.CaptureFixture[str]):
    p = _areas_file(tmp_path, 4326, ["310110012001", "310110012002"], [1200, 0])
    cfg = make_config(tmp_path, demo_dir, AREAS="file",
                      AREAS_EXTRA=AREA_COLUMNS.replace("@P@", str(p)))
    assert main(["run", str(cfg)]) == 0
    gpkg = next((tmp_path / "out" / "data").glob("*.gpkg"))
    areas = gpd.read_file(gpkg, layer="areas").set_index("code")
    assert areas.loc["310110012001", "elderly_60"] == pytest.approx(1200)
    assert areas.loc["310110012002", "elderly_60"] == 0
    assert areas["circle_share"].isna().tolist() == [False, True]
    assert areas.loc["310110012001", "gap_rank"] == 1


def test_wgs84_declared_gcj02_warns(tmp_path: Path, demo_dir: Path,
                                    capsys: pytest.CaptureFixture[str]):
    # Twelve real network nodes of the extract, written in GCJ-02 but declared WGS84.
    from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS
    from geoplan.network.walkgraph import build_walk_network
    from geoplan.sources.crs import wgs84_to_gcj02
    from geoplan.sources.osm import graph_from_osm_files

    net = build_walk_network(graph_from_osm_files((demo_dir / "osm" / "tongji-siping.osm",)),
                             1.0, 2.0, DEFAULT_WALKABLE_HIGHWAYS)
    nodes = net.nodes.to_crs(4326).iloc[:: max(1, len(net.nodes) // 12)].head(12)
    glon, glat = wgs84_to_gcj02(nodes.geometry.x.to_numpy(), nodes.geometry.y.to_numpy())
    rows = "".join(f"P{i},{x:.7f},{y:.7f}\n"
                   for i, (x, y) in enumerate(zip(glon, glat, strict=True)))
    f = _csv(tmp_path, "name,lon,lat\n" + rows)
    cfg = make_config(tmp_path, demo_dir, FAC=str(f), X="lon", Y="lat", CRS="wgs84")
    code = main(["run", str(cfg)])
    err = capsys.readouterr().err
    assert code == 0
    assert "probably GCJ-02" in err
