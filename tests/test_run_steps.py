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
