"""The run manifest times every step of ``geoplan run`` the scale benchmark reports."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from geoplan.cli import main
from tests.smallcase import write_case


def test_manifest_times_each_output_step(tmp_path: Path, monkeypatch) -> None:
    cfg = write_case(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(cfg)]) == 0
    man = json.loads((tmp_path / "out" / "data" / "manifest.json").read_text(encoding="utf-8"))
    names = [s["name"] for s in man["steps"]]
    assert names[:6] == ["walking network", "facilities", "areas and demand",
                         "nearest-facility times", "isochrones", "coverage and gaps"]
    assert names[-4:] == ["reproject outputs", "write GeoPackage", "write tables", "write map"]
    assert all(s["status"] == "ok" and s["seconds"] >= 0 for s in man["steps"])


def test_hull_of_vertices_equals_hull_of_union() -> None:
    rng = np.random.default_rng(3)
    lines = shapely.linestrings(rng.uniform(0, 1000, (200, 4, 2)))
    via_union = shapely.convex_hull(shapely.union_all(lines))
    via_points = shapely.convex_hull(shapely.multipoints(shapely.get_coordinates(lines)))
    assert shapely.equals(via_union.normalize(), via_points.normalize())
    assert gpd.GeoSeries([via_points]).area.iloc[0] > 0


def test_compounds_cut_only_where_they_cross_the_boundary() -> None:
    from geoplan.sources.areas import compound_areas

    rng = np.random.default_rng(8)
    x, y = rng.uniform(0, 2000, 300), rng.uniform(0, 2000, 300)
    geoms = shapely.box(x, y, x + rng.uniform(30, 150, 300), y + rng.uniform(30, 150, 300))
    feats = gpd.GeoDataFrame({"landuse": np.where(np.arange(300) % 7 == 0, "retail",
                                                  "residential"),
                              "osm_id": np.arange(300)[::-1], "name": [f"c{i}" for i in
                                                                       range(300)]},
                             geometry=geoms, crs=32651)
    boundary = shapely.Polygon([(200, 100), (1900, 300), (1700, 1800), (150, 1500)])
    got = compound_areas(feats, boundary, 2000.0)
    lu = feats[feats["landuse"] == "residential"]
    ref = shapely.intersection(lu.geometry.to_numpy(), boundary)
    keep = shapely.area(ref) >= 2000.0
    ref_ids = lu["osm_id"].to_numpy()[keep]
    order = np.argsort(ref_ids, kind="stable")
    assert got["code"].tolist() == ref_ids[order].tolist()
    assert shapely.equals(got.geometry.to_numpy(), ref[keep][order]).all()
    assert 0 < (~shapely.within(lu.geometry.to_numpy(), boundary)).sum() < len(lu)
