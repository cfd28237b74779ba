"""OSM as users bring it: one-loop networks, streets-only extracts, steps inside a chain.

Every input is built here (tests/osmxml.py); nothing is read from ../shared/cases.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoplan.cli import main
from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS, NetworkSource
from geoplan.errors import NetworkError
from geoplan.network.snapping import snap_points
from geoplan.network.walkgraph import build_walk_network
from geoplan.reach.csr import ReachGraph
from geoplan.reach.engine import node_reach
from geoplan.reach.isochrones import reached_edge_segments
from geoplan.sources.osm import features, graph_from_osm_files
from tests.osmxml import DLAT, DLON, LAT0, LON0, write_osm


def _net(path: Path, speed: float = 1.0, steps: float = 2.0):
    return build_walk_network(graph_from_osm_files((path,)), speed, steps,
                              DEFAULT_WALKABLE_HIGHWAYS)


def _lonlat(e: float, n: float) -> tuple[float, float]:
    return LON0 + e * DLON, LAT0 + n * DLAT


# ---------------------------------------------------------------- one closed loop

RING_NODES = {1: (0, 0), 2: (500, 0), 3: (1000, 0), 4: (0, 30), 5: (500, 30), 6: (1000, 30)}
RING_WAYS = [(1, [1, 2, 3], {"highway": "residential"}), (2, [4, 5, 6], {"highway": "footway"}),
             (3, [1, 4], {"highway": "footway"}), (4, [3, 6], {"highway": "footway"})]


def test_network_that_is_one_loop_is_kept(tmp_path: Path) -> None:
    net = _net(write_osm(tmp_path / "ring.osm", RING_NODES, RING_WAYS))
    assert (net.n_nodes, net.n_edges) == (6, 6)
    assert net.edges["length_m"].sum() == pytest.approx(2064, abs=3)
    assert net.report["other_parts"] == 0  # one part: nothing else to keep or drop


def test_loop_of_one_closed_way_and_a_loop_with_steps(tmp_path: Path) -> None:
    # A footway round a pond, mapped as one closed way.
    pond = _net(write_osm(tmp_path / "pond.osm", {1: (0, 0), 2: (200, 0), 3: (200, 100),
                                                  4: (0, 100)},
                          [(1, [1, 2, 3, 4, 1], {"highway": "footway"})]))
    assert pond.n_edges == 4
    assert pond.edges["length_m"].sum() == pytest.approx(600, abs=2)
    # A loop with a flight of steps: the steps stay an edge of their own.
    ways = [*RING_WAYS[:3], (4, [3, 6], {"highway": "steps"})]
    net = _net(write_osm(tmp_path / "ring-steps.osm", RING_NODES, ways))
    steps = net.edges[net.edges["highway"] == "steps"]
    assert len(steps) == 1
    assert steps["time_s"].iloc[0] == pytest.approx(2 * steps["length_m"].iloc[0])
    assert net.edges["length_m"].sum() == pytest.approx(2064, abs=3)


def test_empty_network_is_one_network_error(tmp_path: Path) -> None:
    only_building = write_osm(tmp_path / "b.osm", {1: (0, 0), 2: (50, 0), 3: (50, 50)},
                              [(1, [1, 2, 3, 1], {"building": "yes"})])
    with pytest.raises(NetworkError, match=r"no ways|no walkable way"):
        _net(only_building)
    only_elevated = write_osm(tmp_path / "e.osm", {1: (0, 0), 2: (500, 0)},
                              [(1, [1, 2], {"highway": "trunk", "bridge": "yes"})])
    with pytest.raises(NetworkError, match="walking policy"):
        _net(only_elevated)


# ---------------------------------------------------------------- end to end runs

CONFIG = """
[study_area]
name = "case"
[network]
osm_files = ["{osm}"]
[walking]
speed_kmh = 3.6
[[facilities]]
type = "canteen"
path = "{fac}"
[areas]
{areas}
[population]
share_60 = 0.3
share_80 = 0.05
[output]
dir = "{out}/data"
maps_dir = "{out}/maps"
cache_dir = "{out}/cache"
basemap = "none"
static_map = false
"""


def _case(tmp_path: Path, osm: Path, fac_at: tuple[float, float], areas: str) -> Path:
    fac = tmp_path / "fac.csv"
    lon, lat = _lonlat(*fac_at)
    fac.write_text(f"name,lon,lat\n食堂A,{lon:.8f},{lat:.8f}\n", encoding="utf-8")
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(osm=osm, fac=fac, out=tmp_path / "out", areas=areas),
                   encoding="utf-8")
    return cfg


def _committee(tmp_path: Path, box_m: tuple[float, float, float, float], e60: float,
               e80: float) -> str:
    (x0, y0), (x1, y1) = _lonlat(*box_m[:2]), _lonlat(*box_m[2:])
    gdf = gpd.GeoDataFrame({"code": ["310110001001"], "name": ["居委A"], "e60": [e60],
                            "e80": [e80]}, geometry=[shapely.box(x0, y0, x1, y1)], crs=4326)
    p = tmp_path / "areas.geojson"
    gdf.to_file(p, driver="GeoJSON")
    return (f'source = "file"\npath = "{p}"\ncode_column = "code"\nname_column = "name"\n'
            'elderly60_column = "e60"\nelderly80_column = "e80"')


def _grid_osm(tmp_path: Path, extra_nodes: dict | None = None,
              extra_ways: list | None = None) -> Path:
    """Streets only: a 3 x 3 grid of 100 m blocks (no building, no landuse)."""
    nodes = {10 * i + j + 1: (100.0 * i, 100.0 * j) for i in range(4) for j in range(4)}
    ways = []
    for i in range(4):
        ways.append((100 + i, [10 * i + j + 1 for j in range(4)], {"highway": "residential"}))
        ways.append((200 + i, [10 * j + i + 1 for j in range(4)], {"highway": "footway"}))
    return write_osm(tmp_path / "grid.osm", nodes | (extra_nodes or {}),
                     ways + (extra_ways or []))


def test_ring_with_committee_counts_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    osm = write_osm(tmp_path / "ring.osm", RING_NODES, RING_WAYS)
    cfg = _case(tmp_path, osm, (500, -5), _committee(tmp_path, (-20, -50, 1020, 80), 300, 50))
    assert main(["run", str(cfg)]) == 0
    warn = [ln for ln in capsys.readouterr().err.splitlines() if "WARNING" in ln]
    assert any("no buildings or residential landuse" in ln for ln in warn), warn
    gpkg = next((tmp_path / "out" / "data").glob("*.gpkg"))
    assert len(gpd.read_file(gpkg, layer="walk_network")) == 6
    demand = gpd.read_file(gpkg, layer="demand_points")
    assert len(demand) > 10 and set(demand["source"]) == {"area"}
    assert demand["elderly_60"].sum() == pytest.approx(300)
    assert demand["elderly_80"].sum() == pytest.approx(50)
    # spread evenly: every point carries the same share
    assert np.ptp(demand["elderly_60"].to_numpy()) == pytest.approx(0, abs=1e-9)


def test_streets_only_osm_spreads_committee_counts(tmp_path: Path) -> None:
    cfg = _case(tmp_path, _grid_osm(tmp_path), (150, 5),
                _committee(tmp_path, (-20, -20, 320, 320), 300, 50))
    assert main(["run", str(cfg)]) == 0
    gpkg = next((tmp_path / "out" / "data").glob("*.gpkg"))
    areas = gpd.read_file(gpkg, layer="areas")
    assert areas["elderly_60"].tolist() == pytest.approx([300])
    demand = gpd.read_file(gpkg, layer="demand_points")
    assert demand["elderly_60"].sum() == pytest.approx(300)
    assert not demand["pop_estimated"].any()


def test_streets_and_landuse_without_buildings_runs_on_grid_areas(tmp_path: Path) -> None:
    # No building, one residential compound (landuse): its floor area at the default
    # floor-area ratio carries the estimate, for grid and compounds+grid areas alike.
    nodes = {901: (20, 20), 902: (280, 20), 903: (280, 180), 904: (20, 180)}
    ways = [(900, [901, 902, 903, 904, 901], {"landuse": "residential", "name": "某小区"})]
    osm = _grid_osm(tmp_path, nodes, ways)
    for source in ("grid", "compounds+grid"):
        out = tmp_path / source.replace("+", "-")
        out.mkdir()
        cfg = _case(out, osm, (150, 5), f'source = "{source}"\ngrid_size_m = 150')
        assert main(["run", str(cfg)]) == 0
        demand = gpd.read_file(next((out / "out" / "data").glob("*.gpkg")),
                               layer="demand_points")
        # 260 m x 160 m x FAR 1.8 / 36 m2 per resident x 30 % aged 60+
        assert demand["elderly_60"].sum() == pytest.approx(260 * 160 * 1.8 / 36 * 0.3,
                                                           rel=0.02)
        assert set(demand["source"]) == {"compound"} and demand["pop_estimated"].all()


@pytest.mark.parametrize("source", ["grid", "compounds+grid"])
def test_streets_only_grid_areas_is_one_line(tmp_path: Path, source: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _case(tmp_path, _grid_osm(tmp_path), (150, 5), f'source = "{source}"')
    assert main(["run", str(cfg)]) != 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "geoplan: error:" in ln]
    assert len(lines) == 1 and "Traceback" not in err
    assert f"areas.source = '{source}'" in lines[0] and "buildings" in lines[0]
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and
               "cache" not in p.parts]
    assert written == []


def test_features_of_streets_only_file_is_empty_text_frame(tmp_path: Path) -> None:
    f = features(NetworkSource(osm_files=(_grid_osm(tmp_path),)), tmp_path)
    assert len(f) == 0 and f.crs.to_epsg() == 4326
    assert f["building"].dtype == object and f["landuse"].dtype == object


# ---------------------------------------------------------------- steps inside a chain

def _chain(tmp_path: Path) -> Path:
    """Footway 100 m, steps 50 m, footway 100 m in a straight line (west to east)."""
    return write_osm(tmp_path / "chain.osm", {1: (0, 0), 2: (100, 0), 3: (150, 0),
                                              4: (250, 0)},
                     [(1, [1, 2], {"highway": "footway"}), (2, [2, 3], {"highway": "steps"}),
                      (3, [3, 4], {"highway": "footway"})])


def test_steps_are_not_merged_with_other_ways(tmp_path: Path) -> None:
    net = _net(_chain(tmp_path))
    assert net.n_edges == 3
    assert sorted(net.edges["highway"]) == ["footway", "footway", "steps"]
    # At 1 m/s: 100 s, 50 m x 2 = 100 s, 100 s; 300 s in all.
    np.testing.assert_allclose(net.edges["time_s"], [100, 100, 100], rtol=0.005)
    # time_s comes from the same (projected) lengths as length_m
    factor = np.where(net.edges["highway"] == "steps", 2.0, 1.0)
    np.testing.assert_allclose(net.edges["time_s"], net.edges["length_m"] * factor,
                               rtol=1e-12)


def test_times_along_the_chain_follow_its_ways(tmp_path: Path) -> None:
    net = _net(_chain(tmp_path))
    west = net.nodes["x"].idxmin()
    scale = net.edges["length_m"].sum() / 250.0  # projected metres per metre of the file
    line = shapely.line_merge(shapely.union_all(net.edges.geometry.to_numpy()))
    if shapely.get_x(shapely.get_point(line, 0)) > net.nodes["x"].min() + 1:
        line = shapely.reverse(line)  # run west to east
    # Points 50 m and 100 m along, and one on the steps (125 m).
    at = np.array([50.0, 100.0, 125.0])
    snap = snap_points(net, shapely.line_interpolate_point(line, at * scale), 1.0)
    assert snap.off_m.max() < 1e-6
    times = node_reach(ReachGraph.from_network(net), snap, 1000.0).toarray()
    east = net.nodes["x"].idxmax()
    # was 60 / 120 / 150 s to the west end: the merged edge spread the steps' time evenly
    expect_west = np.array([50.0, 100.0, 150.0]) * scale
    expect_east = np.array([250.0, 200.0, 150.0]) * scale
    np.testing.assert_allclose(times[:, west], expect_west, rtol=1e-3)
    np.testing.assert_allclose(times[:, east], expect_east, rtol=1e-3)


@pytest.mark.parametrize(("budget", "reached_m"), [(100.0, 100.0), (150.0, 125.0),
                                                    (200.0, 150.0), (250.0, 200.0)])
def test_isochrone_along_the_chain(tmp_path: Path, budget: float, reached_m: float) -> None:
    # Budgets and distances are in metres of the file; the projection stretches both
    # alike (UTM scale), so compare in projected units.
    net = _net(_chain(tmp_path))
    scale = net.edges["length_m"].sum() / 250.0
    west = net.nodes["x"].idxmin()
    src = snap_points(net, np.array([net.nodes.geometry[west]], dtype=object), 1.0)
    nt = node_reach(ReachGraph.from_network(net), src, budget * scale)
    _, segs = reached_edge_segments(net, src, nt, budget * scale)
    assert shapely.length(segs).sum() == pytest.approx(reached_m * scale, rel=1e-3)
