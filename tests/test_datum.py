"""The datum check compares how each reading (WGS84, GCJ-02, BD-09) fits the streets.

The network here is dense (80 m blocks): every point, wherever it lands, lies within a
few tens of metres of some way, and most within 15 m, so an absolute distance test cannot
tell a GCJ-02 layer declared WGS84 from a right one; the comparison can.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS
from geoplan.network.walkgraph import WalkNetwork, build_walk_network
from geoplan.sources.crs import wgs84_to_bd09, wgs84_to_gcj02
from geoplan.sources.datum import compare_readings, polygon_vertices, way_distance
from geoplan.sources.osm import graph_from_osm_files
from tests.osmxml import DLAT, DLON, LAT0, LON0, write_osm

_RNG = np.random.default_rng(11)
#: Irregular street spacing (50-100 m, 80 m blocks on average) over about 1.5 km.
XS = np.concatenate([[0.0], np.cumsum(_RNG.uniform(50, 100, 20))])
YS = np.concatenate([[0.0], np.cumsum(_RNG.uniform(50, 100, 20))])
N = len(XS)


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> WalkNetwork:
    nodes = {i * N + j + 1: (XS[i], YS[j]) for i in range(N) for j in range(N)}
    ways = []
    for k in range(N):
        ways.append((2 * k + 1, [k * N + j + 1 for j in range(N)], {"highway": "residential"}))
        ways.append((2 * k + 2, [i * N + k + 1 for i in range(N)], {"highway": "footway"}))
    path = write_osm(tmp_path_factory.mktemp("dense") / "dense.osm", nodes, ways)
    return build_walk_network(graph_from_osm_files((path,)), 1.0, 2.0,
                              DEFAULT_WALKABLE_HIGHWAYS)


def _true_points(n: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Facilities 3 m off a street, spread over the middle of the grid (WGS84)."""
    rng = np.random.default_rng(7)
    along = rng.uniform(400, 1100, n)
    pick = rng.integers(6, 14, n)
    vertical = rng.random(n) < 0.5
    e = np.where(vertical, XS[pick] + 3.0, along)
    north = np.where(vertical, along, YS[pick] + 3.0)
    return LON0 + e * DLON, LAT0 + north * DLAT


def test_gcj02_declared_wgs84_is_found_on_a_dense_network(dense: WalkNetwork) -> None:
    lon, lat = wgs84_to_gcj02(*_true_points())
    # the old absolute check (median distance under 15 m) would accept these points
    assert np.median(way_distance(lon, lat, dense)) < 15.0
    fit = compare_readings(lon, lat, "wgs84", dense)
    assert fit.better == "gcj02"
    msg = fit.message("facility layer 'x' (x.csv)")
    assert msg is not None and 'set crs = "gcj02"' in msg and "x.csv" in msg
    zh = fit.message_zh("设施图层“x”（x.csv）")  # the same warning in the zh report
    assert zh is not None and 'crs = "gcj02"' in zh and "x.csv" in zh and "高德" in zh
    from tests.langcheck import english_runs

    assert english_runs(zh) == [] and english_runs(msg) != []


def test_bd09_declared_wgs84_is_found(dense: WalkNetwork) -> None:
    lon, lat = wgs84_to_bd09(*_true_points())
    assert compare_readings(lon, lat, "wgs84", dense).better == "bd09"


def test_right_declarations_pass(dense: WalkNetwork) -> None:
    lon, lat = _true_points()
    assert compare_readings(lon, lat, "wgs84", dense).better is None
    # GCJ-02 data declared gcj02: the loader converted it, the check gets WGS84 points
    assert compare_readings(lon, lat, "gcj02", dense).better is None
    assert compare_readings(lon, lat, "bd09", dense).message("layer") is None


def test_too_few_points_are_not_judged(dense: WalkNetwork) -> None:
    lon, lat = wgs84_to_gcj02(*_true_points(3))
    assert compare_readings(lon, lat, "wgs84", dense).better is None


def test_committee_polygons_in_gcj02(dense: WalkNetwork) -> None:
    # committee boundaries follow the streets: blocks of 2 x 2 street cells
    boxes = []
    for i in range(5, 15, 2):
        for j in range(5, 15, 2):
            boxes.append(shapely.box(LON0 + XS[i] * DLON, LAT0 + YS[j] * DLAT,
                                     LON0 + XS[i + 2] * DLON, LAT0 + YS[j + 2] * DLAT))
    boxes = np.array(boxes, dtype=object)
    lon, lat = polygon_vertices(boxes)
    assert compare_readings(lon, lat, "wgs84", dense).better is None
    shifted = shapely.transform(boxes, lambda xy: np.column_stack(
        wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    lon, lat = polygon_vertices(shifted)
    assert compare_readings(lon, lat, "wgs84", dense).better == "gcj02"


def test_datum_warning_names_the_layer(dense: WalkNetwork, tmp_path: Path,
                                       caplog: pytest.LogCaptureFixture) -> None:
    """The pipeline's check reads the layer as loaded and warns naming it and the fix."""
    from types import SimpleNamespace

    from geoplan.config import FacilityLayer
    from geoplan.sources.facilities import load_facilities
    from geoplan.workflows.coverage import _check_datum

    lon, lat = wgs84_to_gcj02(*_true_points())
    csv = tmp_path / "amap.csv"
    csv.write_text("name,lon,lat\n" + "".join(
        f"f{i},{a:.8f},{b:.8f}\n" for i, (a, b) in enumerate(zip(lon, lat, strict=True))),
        encoding="utf-8")
    wrong = FacilityLayer(path=csv, type="canteen", label="meals", crs="wgs84")
    right = FacilityLayer(path=csv, type="canteen", label="meals", crs="gcj02")
    notes = _check_datum(load_facilities([wrong]), dense, SimpleNamespace(facilities=[wrong]))
    assert len(notes) == 1 and "'meals' (amap.csv)" in notes[0]
    assert 'set crs = "gcj02"' in caplog.text
    assert _check_datum(load_facilities([right]), dense,
                        SimpleNamespace(facilities=[right])) == []
