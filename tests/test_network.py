"""Walking-network preparation on hand-made OSM files and on the real demo data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS
from geoplan.errors import InputDataError, NetworkError
from geoplan.network.parts import select_parts
from geoplan.network.snapping import snap_points
from geoplan.network.walkgraph import build_walk_network
from geoplan.sources.osm import check_osm_file, graph_from_osm_files
from tests.osmxml import write_osm


def _net(path: Path, **kw):
    return build_walk_network(graph_from_osm_files((path,)), 1.0, 2.0,
                              DEFAULT_WALKABLE_HIGHWAYS, **kw)


@pytest.fixture
def small_osm(tmp_path: Path) -> Path:
    # A 300 m east-west footway (1-2-3), a 100 m flight of steps north from 2 (2-4),
    # a motorway (3-5, not walkable), a private service road (4-6), a footway with
    # foot=no (1-7) and a detached 50 m path (8-9) far away.
    nodes = {1: (0, 0), 2: (150, 0), 3: (300, 0), 4: (150, 100), 5: (600, 0), 6: (150, 300),
             7: (0, 200), 8: (2000, 2000), 9: (2050, 2000)}
    ways = [(10, [1, 2, 3], {"highway": "footway"}),
            (11, [2, 4], {"highway": "steps"}),
            (12, [3, 5], {"highway": "motorway"}),
            (13, [4, 6], {"highway": "service", "access": "private"}),
            (14, [1, 7], {"highway": "footway", "foot": "no"}),
            (15, [8, 9], {"highway": "path"}),
            (16, [1, 2, 4, 1], {"building": "yes"})]
    return write_osm(tmp_path / "small.osm", nodes, ways)


def test_filter_component_and_times(small_osm: Path) -> None:
    full = _net(small_osm)
    r = full.report
    assert r["other_parts"] == 1 and r["other_parts_nodes"] == 2
    assert r["other_parts_length_m"] == pytest.approx(50, abs=1)
    assert sorted(full.edges["part"].unique()) == [0, 1]  # every part kept, labelled
    # no home or facility needs the detached path: it is dropped
    sel = select_parts(full, np.array([shapely.Point(0, 0)]), 300.0)
    net = sel.network
    assert sel.kept == (0,) and sel.dropped_parts == 1 and sel.dropped_nodes == 2
    assert net.report["dropped_length_m"] == pytest.approx(50, abs=1)
    hw = sorted(net.edges["highway"])
    assert hw == ["footway", "footway", "steps"]  # 1-2, 2-3 split at the steps junction
    e = net.edges.set_index("highway")
    assert e.loc["steps", "length_m"] == pytest.approx(100, rel=0.01)
    assert e.loc["steps", "time_s"] == pytest.approx(200, rel=0.01)  # factor 2 at 1 m/s
    foot = net.edges[net.edges["highway"] == "footway"]
    assert foot["time_s"].to_numpy() == pytest.approx(foot["length_m"].to_numpy(), rel=0.01)
    assert net.crs.to_epsg() == 32651  # UTM 51N for Shanghai


def test_edge_geometry_runs_from_u_to_v(demo_dir: Path) -> None:
    net = _net(demo_dir / "osm" / "tongji-siping.osm")
    start = shapely.get_point(net.edges.geometry.to_numpy(), 0)
    end = shapely.get_point(net.edges.geometry.to_numpy(), -1)
    u, v = net.edges["u"].to_numpy(), net.edges["v"].to_numpy()
    x, y = net.nodes["x"].to_numpy(), net.nodes["y"].to_numpy()
    assert np.allclose(shapely.get_x(start), x[u], atol=1e-6)
    assert np.allclose(shapely.get_y(end), y[v], atol=1e-6)
    assert net.report["kept_length_share"] > 0.9
    assert net.n_nodes > 200


def test_demo_files_merge_into_one_network(demo_dir: Path) -> None:
    osm = demo_dir / "osm"
    a = _net(osm / "wujiaochang-fudan.osm")
    b = _net(osm / "tongji-siping.osm")
    both = build_walk_network(graph_from_osm_files((osm / "wujiaochang-fudan.osm",
                                                    osm / "tongji-siping.osm")),
                              1.0, 2.0, DEFAULT_WALKABLE_HIGHWAYS)
    assert both.report["length_km"] > max(a.report["length_km"], b.report["length_km"])
    assert both.report["kept_length_share"] > 0.95


def test_disconnected_network_is_an_error(tmp_path: Path) -> None:
    nodes = {1: (0, 0), 2: (100, 0), 3: (5000, 0), 4: (5100, 0), 5: (5200, 0)}
    ways = [(1, [1, 2], {"highway": "footway"}), (2, [3, 4, 5], {"highway": "footway"})]
    p = write_osm(tmp_path / "two.osm", nodes, ways)
    net = _net(p)  # 200 m vs 100 m: the larger part holds 2/3, above the 50 % limit
    assert net.report["other_parts"] == 1
    with pytest.raises(NetworkError, match="disconnected"):
        _net(p, min_share=0.9)


def test_parts_serving_points_alone_are_kept(small_osm: Path) -> None:
    full = _net(small_osm)
    x, y = full.nodes["x"].to_numpy(), full.nodes["y"].to_numpy()
    part = full.edges["part"].to_numpy()
    far_end = full.edges["u"].to_numpy()[part == 1][0]
    # a home 20 m from the detached path, about 2.6 km from the main part: the path is
    # kept (analysed on its own), node positions renumbered consistently
    home = shapely.Point(x[far_end], y[far_end] + 20)
    sel = select_parts(full, np.array([shapely.Point(x[0], y[0]), home]), 300.0)
    assert sel.kept == (0, 1) and sel.dropped_parts == 0
    assert sel.network.n_edges == full.n_edges
    # a point 500 m from the path is beyond the snap limit of every part: no reason to keep it
    lost = shapely.Point(x[far_end], y[far_end] + 500)
    assert select_parts(full, np.array([lost]), 300.0).kept == (0,)
    # a home near the main part only: the path is dropped, and the subset is consistent
    sel = select_parts(full, np.array([shapely.Point(x[0], y[0])]), 300.0)
    sub = sel.network
    assert sub.n_nodes == full.n_nodes - 2
    u, v = sub.edges["u"].to_numpy(), sub.edges["v"].to_numpy()
    start = shapely.get_point(sub.edges.geometry.to_numpy(), 0)
    assert np.allclose(shapely.get_x(start), sub.nodes["x"].to_numpy()[u], atol=1e-6)
    assert v.max() < sub.n_nodes


def test_no_walkable_way_is_an_error(tmp_path: Path) -> None:
    p = write_osm(tmp_path / "m.osm", {1: (0, 0), 2: (500, 0)},
                  [(1, [1, 2], {"highway": "motorway"})])
    with pytest.raises(NetworkError, match="no walkable way"):
        _net(p)


def test_not_osm_file(tmp_path: Path) -> None:
    p = tmp_path / "x.osm"
    p.write_text("name,lon,lat\na,1,2\n", encoding="utf-8")
    with pytest.raises(InputDataError, match="not an OpenStreetMap XML file"):
        check_osm_file(p)


def test_snap_to_edge_not_node(small_osm: Path) -> None:
    net = _net(small_osm)
    # a point 20 m north of the middle of the 1-2 footway (75 m from node 1)
    geom = net.edges.geometry.to_numpy()
    mid = shapely.line_interpolate_point(geom[net.edges["highway"] == "footway"][0], 0.5,
                                         normalized=True)
    p = shapely.points(shapely.get_x(mid), shapely.get_y(mid) + 20)
    s = snap_points(net, np.array([p]), 1.0)
    assert s.off_m[0] == pytest.approx(20, abs=0.5)
    assert s.frac[0] == pytest.approx(0.5, abs=0.01)
    # brute force: nearest edge by distance to every edge
    assert s.edge[0] == int(np.argmin(shapely.distance(geom, p)))
    assert s.t_u[0] + s.t_v[0] == pytest.approx(2 * s.off_s[0] + s.edge_time[0])
