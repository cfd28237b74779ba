"""Crossing delay: waiting time for crossing a major road at grade, on small OSM files.

Walking speed 1 m/s throughout, so a walking time in seconds equals the metres walked.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import shapely

from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS, load_config
from geoplan.errors import ConfigError
from geoplan.network.prepare import network_cache_key
from geoplan.network.snapping import snap_points
from geoplan.network.walkgraph import build_walk_network, crossing_nodes
from geoplan.reach.csr import ReachGraph
from geoplan.reach.engine import nearest_time, point_reach
from geoplan.sources.osm import graph_from_osm_files
from tests.osmxml import write_osm

DELAY = 30.0


def _net(path: Path, **kw):
    return build_walk_network(graph_from_osm_files((path,)), 1.0, 2.0,
                              DEFAULT_WALKABLE_HIGHWAYS, **kw)


def _xy(net, osmid: int) -> tuple[float, float]:
    x, y = net.nodes.loc[net.nodes["osmid"] == osmid, ["x", "y"]].to_numpy()[0]
    return float(x), float(y)


def _times(net, src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> np.ndarray:
    """Walking seconds between points (dense, ``inf`` where not reached in an hour)."""
    def snap(pts):
        return snap_points(net, np.array([shapely.Point(p) for p in pts], dtype=object), 1.0)

    m = point_reach(ReachGraph.from_network(net), snap(src), snap(dst), 3600.0, threads=1)
    out = np.full(m.shape, np.inf)
    coo = m.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


@pytest.fixture
def primary_osm(tmp_path: Path) -> Path:
    """A primary road 1-2-3 (east-west, 400 m) crossed at grade at node 2 by a footway 4-2-5
    (north-south, 200 m each side); a residential street 6-7 runs parallel 300 m north and
    joins the footway's northern end 5 via footway 5-6, so node 5 is an ordinary junction."""
    nodes = {1: (0, 0), 2: (200, 0), 3: (400, 0), 4: (200, -200), 5: (200, 200),
             6: (200, 300), 7: (400, 300), 8: (0, 300)}
    ways = [(1, [1, 2, 3], {"highway": "primary", "name": "邯郸路"}),
            (2, [4, 2, 5], {"highway": "footway"}),
            (3, [5, 6], {"highway": "footway"}),
            (4, [8, 6, 7], {"highway": "residential"})]
    return write_osm(tmp_path / "primary.osm", nodes, ways)


def test_walk_across_a_primary_road_pays_the_delay(primary_osm: Path) -> None:
    off = _net(primary_osm)
    on = _net(primary_osm, crossing_delay_s=DELAY)
    assert on.report["crossing_nodes"] == 1 and on.report["crossing_major"] == 1
    assert on.nodes.loc[on.nodes["crossing"], "osmid"].tolist() == [2]
    assert not off.nodes["crossing"].any() and off.report["crossing_delay_s"] == 0
    x2, y2 = _xy(on, 2)
    south, north = (x2, y2 - 150.0), (x2, y2 + 150.0)
    base = _times(off, [south], [north])[0, 0]
    assert base == pytest.approx(300.0, rel=0.02)  # distance / speed (UTM scale)
    assert _times(on, [south], [north])[0, 0] == pytest.approx(base + DELAY, abs=1e-6)
    # Two points on the same side of the road: no crossing, no delay (same edge and not).
    near = (x2, y2 - 20.0)
    assert _times(on, [south], [near])[0, 0] == pytest.approx(130.0, rel=0.02)
    far_north = _xy(on, 7)
    t_off, t_on = _times(off, [north], [far_north])[0, 0], _times(on, [north], [far_north])[0, 0]
    assert t_on == pytest.approx(t_off, abs=1e-9)
    # The multi-source nearest pass sees the same delay.
    s = snap_points(on, np.array([shapely.Point(south)], dtype=object), 1.0)
    t = snap_points(on, np.array([shapely.Point(north)], dtype=object), 1.0)
    nt, _ = nearest_time(ReachGraph.from_network(on), s, t, 3600.0)
    assert nt[0] == pytest.approx(base + DELAY, abs=1e-6)
    # Node-level approximation: walking along the primary past the junction pays it too.
    west, east = (x2 - 150.0, y2), (x2 + 150.0, y2)
    assert _times(on, [west], [east])[0, 0] == pytest.approx(
        _times(off, [west], [east])[0, 0] + DELAY, abs=1e-6)


def test_edge_times_hold_half_the_delay_at_each_crossing_end(primary_osm: Path) -> None:
    on = _net(primary_osm, crossing_delay_s=DELAY)
    e = on.edges
    at2 = (on.nodes["osmid"].to_numpy()[e["u"]] == 2).astype(float) * DELAY / 2
    at2v = (on.nodes["osmid"].to_numpy()[e["v"]] == 2).astype(float) * DELAY / 2
    np.testing.assert_allclose(e["cross_u_s"], at2)
    np.testing.assert_allclose(e["cross_v_s"], at2v)
    np.testing.assert_allclose(e["time_s"], e["length_m"] + at2 + at2v)


def test_delay_zero_gives_todays_network_exactly(primary_osm: Path) -> None:
    today = _net(primary_osm)
    zero = _net(primary_osm, crossing_delay_s=0.0)
    assert today.report["crossing_nodes"] == zero.report["crossing_nodes"] == 1
    assert np.array_equal(zero.edges["time_s"].to_numpy(), today.edges["time_s"].to_numpy())
    # time_s is distance / speed: nothing added while the delay is off.
    assert np.array_equal(zero.edges["time_s"].to_numpy(), zero.edges["length_m"].to_numpy())
    assert not zero.edges[["cross_u_s", "cross_v_s"]].to_numpy().any()


@pytest.fixture
def footway_grid_osm(tmp_path: Path) -> Path:
    """A 3 x 3 grid of footways and residential streets (100 m), no major road, with a
    traffic signal mapped on a plain residential carriageway."""
    nodes = {10 * i + j: (100.0 * i, 100.0 * j) for i in range(3) for j in range(3)}
    nodes[99] = (50.0, 0.0)
    ways: list = []
    for i in range(3):
        ways.append((1 + i, [10 * i + j for j in range(3)], {"highway": "footway"}))
    ways.append((10, [0, 99, 10, 20], {"highway": "residential"}))
    ways += [(11, [1, 11, 21], {"highway": "residential"}), (12, [2, 12, 22],
                                                             {"highway": "footway"})]
    return write_osm(tmp_path / "grid.osm", nodes, ways,
                     node_tags={99: {"highway": "traffic_signals"}})


def test_network_without_major_roads_is_unchanged_with_a_note(
        footway_grid_osm: Path, caplog: pytest.LogCaptureFixture) -> None:
    off = _net(footway_grid_osm)
    with caplog.at_level(logging.WARNING, logger="geoplan.network.walkgraph"):
        on = _net(footway_grid_osm, crossing_delay_s=DELAY)
    notes = [r.getMessage() for r in caplog.records if "crossing_delay_s" in r.getMessage()]
    assert len(notes) == 1 and "no delay is added" in notes[0]
    assert on.report["crossing_nodes"] == 0
    # The signal on the carriageway's own run (two neighbours) is walked along, not across.
    assert 99 not in set(on.nodes["osmid"])
    assert np.array_equal(on.edges["time_s"].to_numpy(), off.edges["time_s"].to_numpy())
    x, y = _xy(on, 11)
    pts = [(x - 100, y - 100), (x + 100, y + 100), (x, y), (x - 40, y - 100), (x + 100, y)]
    np.testing.assert_array_equal(_times(on, pts, pts), _times(off, pts, pts))


@pytest.fixture
def secondary_osm(tmp_path: Path) -> Path:
    """A secondary road 1-2-3 with a mapped crossing (highway=crossing) at node 2, where a
    crossing footway 4-2-5 meets it; and, further east, a footway 6-9-7 crossing a
    motorroad (left out of the network) at node 9, mapped crossing=traffic_signals."""
    nodes = {1: (0, 0), 2: (200, 0), 3: (400, 0), 4: (200, -100), 5: (200, 100),
             6: (600, -100), 9: (600, 0), 7: (600, 100), 20: (600, -300), 21: (600, 300),
             30: (500, 0), 31: (700, 0)}
    ways = [(1, [1, 2, 3], {"highway": "secondary"}),
            (2, [4, 2, 5], {"highway": "footway", "footway": "crossing"}),
            (3, [6, 9, 7], {"highway": "footway", "footway": "crossing"}),
            (4, [30, 9, 31], {"highway": "trunk", "motorroad": "yes"}),
            (5, [3, 20, 6], {"highway": "footway"}),
            (6, [5, 21, 7], {"highway": "footway"})]
    return write_osm(tmp_path / "secondary.osm", nodes, ways,
                     node_tags={2: {"highway": "crossing", "crossing": "marked"},
                                9: {"highway": "traffic_signals",
                                    "crossing": "traffic_signals"}})


def test_mapped_crossings_on_a_secondary_road_and_a_crossing_footway(
        secondary_osm: Path) -> None:
    on = _net(secondary_osm, crossing_delay_s=DELAY)
    # Node 2: a secondary-road intersection (also mapped); node 9: a mapped signal on a
    # footway of two neighbours, kept as a node by the simplification.
    assert sorted(on.nodes.loc[on.nodes["crossing"], "osmid"]) == [2, 9]
    assert on.report["crossing_major"] == 1 and on.report["crossing_mapped"] == 1
    off = _net(secondary_osm)
    assert 9 not in set(off.nodes["osmid"])  # without the delay it is simplified away
    x9, y9 = _xy(on, 9)
    a, b = (x9, y9 - 50.0), (x9, y9 + 50.0)
    assert _times(on, [a], [b])[0, 0] == pytest.approx(_times(off, [a], [b])[0, 0] + DELAY,
                                                       abs=1e-6)
    # Only primary roads count: node 2 stays a crossing node by its mapping.
    primary_only = _net(secondary_osm, crossing_delay_s=DELAY, crossing_roads=("primary",))
    assert sorted(primary_only.nodes.loc[primary_only.nodes["crossing"], "osmid"]) == [2, 9]
    assert primary_only.report["crossing_major"] == 0
    assert primary_only.report["crossing_mapped"] == 2


def test_crossing_nodes_rules() -> None:
    # Node 0: primary junction with a footway; 1: bend of a primary (2 neighbours);
    # 2: signal on a residential carriageway run; 3: crossing on a footway run;
    # 4: junction of residential streets with a signal; 5: residential junction.
    u = np.array([0, 0, 0, 1, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5])
    v = np.array([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23])
    hw = np.array(["primary", "primary", "footway", "primary", "residential", "residential",
                   "footway", "footway", "residential", "residential", "tertiary",
                   "residential", "residential", "service"], dtype=object)
    fw = np.full(len(u), "", dtype=object)
    ids = np.arange(24)[::-1]  # any order
    nhw = np.full(24, "", dtype=object)
    ncr = np.full(24, "", dtype=object)
    nhw[[1, 2, 3]] = ["traffic_signals", "traffic_signals", "crossing"]
    ncr[4] = "traffic_signals"
    major, mapped = crossing_nodes(u, v, hw, fw, ids, nhw[ids], ncr[ids])
    major, mapped = major[np.argsort(ids)], mapped[np.argsort(ids)]
    assert major[:6].tolist() == [True, False, False, False, False, False]
    assert mapped[:6].tolist() == [False, False, False, True, True, False]
    assert not (major[6:] | mapped[6:]).any()
    # The footway=crossing tag makes a carriageway-classed way a crossing way.
    fw[[4, 5]] = "crossing"
    _, mapped = crossing_nodes(u, v, hw, fw, ids, nhw[ids], ncr[ids])
    assert mapped[np.argsort(ids)][2]
    with pytest.raises(ValueError, match="node_ids"):
        crossing_nodes(u, v, hw, fw, np.arange(6), nhw[:6], ncr[:6])


def _config(tmp_path: Path, walking: str = ""):
    osm = write_osm(tmp_path / "a.osm", {1: (0, 0), 2: (100, 0)},
                    [(1, [1, 2], {"highway": "footway"})])
    fac = tmp_path / "fac.csv"
    fac.write_text("name,lon,lat\na,121.5,31.3\n", encoding="utf-8")
    p = tmp_path / "c.toml"
    p.write_text(f'[study_area]\nname = "t"\n[network]\nosm_files = ["{osm}"]\n'
                 f'[[facilities]]\ntype = "canteen"\npath = "{fac}"\n'
                 f'[population]\nshare_60 = 0.3\n{walking}', encoding="utf-8")
    return load_config(p)


def test_setting_loads_changes_the_cache_key_and_rejects_bad_values(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    default = _config(tmp_path)
    assert default.walking.crossing_delay_s == 0
    assert "primary" in default.walking.crossing_roads
    on = _config(tmp_path, "[walking]\ncrossing_delay_s = 30\n")
    assert on.walking.crossing_delay_s == 30
    other = _config(tmp_path, "[walking]\ncrossing_delay_s = 45\n")
    roads = _config(tmp_path, '[walking]\ncrossing_delay_s = 30\ncrossing_roads = ["trunk"]\n')
    keys = {network_cache_key(c) for c in (default, on, other, roads)}
    assert len(keys) == 4
    with caplog.at_level(logging.WARNING, logger="geoplan.config"):
        typo = _config(tmp_path, '[walking]\ncrossing_roads = ["primay"]\n')
    assert typo.walking.crossing_roads == ("primay",)
    assert any("'primay'" in r.getMessage() and "crossing_roads" in r.getMessage()
               for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="geoplan.config"):
        _config(tmp_path, '[walking]\nwalkable_highways = ["footway"]\n')
    assert not any("crossing_roads" in r.getMessage() for r in caplog.records)
    for bad in ("-5", "nan", "301"):
        with pytest.raises(ConfigError, match=r"walking\.crossing_delay_s"):
            _config(tmp_path, f"[walking]\ncrossing_delay_s = {bad}\n")


def test_isochrone_pays_the_delay_at_the_crossing_not_along_the_edge(
        primary_osm: Path) -> None:
    from geoplan.reach.engine import node_reach
    from geoplan.reach.isochrones import reached_edge_segments

    x2, y2 = _xy(_net(primary_osm), 2)
    src = np.array([shapely.Point(x2, y2 - 50.0)], dtype=object)
    reached_north = {}
    for delay in (0.0, DELAY):
        net = _net(primary_osm, crossing_delay_s=delay)
        snap = snap_points(net, src, 1.0)
        nt = node_reach(ReachGraph.from_network(net), snap, 3600.0, threads=1)
        _, segs = reached_edge_segments(net, snap, nt, 100.0)
        ys = shapely.get_coordinates(segs)[:, 1]
        reached_north[delay] = ys.max() - y2
        # Southwards (the source's own edge, no crossing) the reach is the same.
        assert y2 - ys.min() == pytest.approx(150.0, rel=0.02)
    # 100 s budget: 50 s to the road, then 50 m north without delay; 20 m with 30 s of
    # waiting (15 s on each side of the crossing node, none spread along the edges).
    assert reached_north[0.0] == pytest.approx(50.0, rel=0.03)
    assert reached_north[DELAY] == pytest.approx(20.0, rel=0.05)


def test_crossing_nodes_on_the_demo_extracts(demo_dir: Path) -> None:
    # Real Yangpu OSM: the junctions along the primary 邯郸路 are crossing nodes; a few
    # mapped crossings and signals away from major roads count too.
    files = (demo_dir / "osm" / "wujiaochang-fudan.osm", demo_dir / "osm" / "tongji-siping.osm")
    net = build_walk_network(graph_from_osm_files(files), 1.0, 2.0, DEFAULT_WALKABLE_HIGHWAYS,
                             crossing_delay_s=DELAY)
    rep = net.report
    assert 100 < rep["crossing_major"] < 400 and 0 < rep["crossing_mapped"] < 100
    assert rep["crossing_nodes"] == int(net.nodes["crossing"].sum())
    e = net.edges
    handan = e[e["name"].str.contains("邯郸路")]
    ends = np.unique(np.concatenate([handan["u"], handan["v"]]))
    assert net.nodes["crossing"].to_numpy()[ends].mean() > 0.8
    halves = e["cross_u_s"].to_numpy() + e["cross_v_s"].to_numpy()
    np.testing.assert_allclose(e["time_s"] - halves, e["length_m"]
                               * np.where(e["highway"] == "steps", 2.0, 1.0))
