"""The walking policy: which OSM ways older people can walk, on small OSM files built here.

Chinese city extracts hold elevated expressways (高架路), road tunnels (隧道, 下立交) and
motorroads (快速路) tagged as trunk/primary; none of them may carry walking routes or
snapped homes, while pedestrian bridges (天桥), underpasses (地道) and separately mapped
sidewalks must stay.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import osmnx as ox
import pytest
import shapely

from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS, load_config
from geoplan.network.prepare import network_cache_key
from geoplan.network.snapping import snap_points
from geoplan.network.walkgraph import build_walk_network, walk_policy
from geoplan.sources.osm import graph_from_osm_files
from tests.osmxml import write_osm

ELEVATED = "南北高架路"


def _net(path: Path, **kw):
    return build_walk_network(graph_from_osm_files((path,)), 1.0, 2.0,
                              DEFAULT_WALKABLE_HIGHWAYS, **kw)


@pytest.fixture
def elevated_osm(tmp_path: Path) -> Path:
    """A 3 x 3 street grid (200 m blocks) with an elevated expressway above x = 300 m.

    The expressway (trunk, bridge=yes, layer=1) runs from y = -100 to y = 500 and lands
    on the grid by two bridge ramps (trunk_link), so without the policy it is part of
    the connected network.
    """
    nodes = {10 * i + j: (200.0 * i, 200.0 * j) for i in range(3) for j in range(3)}
    nodes |= {100: (300, -100), 101: (300, 100), 102: (300, 300), 103: (300, 500)}
    ways: list = []
    wid = 1
    for i in range(3):  # north-south and east-west streets
        ways.append((wid, [10 * i + j for j in range(3)], {"highway": "residential"}))
        ways.append((wid + 1, [10 * j + i for j in range(3)], {"highway": "residential"}))
        wid += 2
    ways += [(50, [100, 101, 102, 103], {"highway": "trunk", "bridge": "yes", "layer": "1",
                                         "oneway": "yes", "name": ELEVATED}),
             (51, [20, 100], {"highway": "trunk_link", "bridge": "yes", "layer": "1",
                              "oneway": "yes"}),
             (52, [103, 22], {"highway": "trunk_link", "bridge": "yes", "layer": "1",
                              "oneway": "yes"})]
    return write_osm(tmp_path / "elevated.osm", nodes, ways)


def _origin(net) -> tuple[float, float]:
    """Projected position of the grid's (0, 0) corner, from the centre node 11."""
    x, y = net.nodes.loc[net.nodes["osmid"] == 11, ["x", "y"]].to_numpy()[0]
    return x - 200.0, y - 200.0


def test_elevated_expressway_is_not_walkable(elevated_osm: Path) -> None:
    net = _net(elevated_osm)
    assert ELEVATED not in set(net.edges["name"])
    assert not net.edges["highway"].isin(["trunk", "trunk_link"]).any()
    assert net.report["length_km"] == pytest.approx(2.4, abs=0.01)  # the grid alone
    dropped = net.report["policy_dropped"]["elevated"]
    assert dropped["ways"] == 3 and dropped["km"] == pytest.approx(0.6 + 2 * 141.4e-3,
                                                                    rel=0.01)
    # Homes right under the expressway snap to the ground streets, 90-100 m away.
    x0, y0 = _origin(net)
    pts = np.array([shapely.Point(x0 + 300, y0 + y) for y in (90.0, 310.0)], dtype=object)
    snap = snap_points(net, pts, 1.0)
    assert (snap.off_m > 85).all()
    assert not net.edges["name"].to_numpy()[snap.edge].tolist().count(ELEVATED)


def test_elevated_rule_can_be_switched_off(elevated_osm: Path) -> None:
    net = _net(elevated_osm, exclude_elevated=False)
    assert ELEVATED in set(net.edges["name"])
    assert net.report["length_km"] == pytest.approx(2.4 + 0.6 + 0.283, abs=0.01)
    x0, y0 = _origin(net)
    snap = snap_points(net, np.array([shapely.Point(x0 + 300, y0 + 90)], dtype=object), 1.0)
    assert net.edges["name"].to_numpy()[snap.edge[0]] == ELEVATED  # what went wrong before


# A square of streets (A, B, C, D at 0 / 400 m) and one diagonal way A-M-C with the tags
# under test; the diagonal is 566 m long and joins the square at both ends.
SQUARE = {1: (0, 0), 2: (400, 0), 3: (400, 400), 4: (0, 400), 5: (200, 200)}


def _diagonal_kept(tmp_path: Path, tags: dict[str, str], **kw) -> bool:
    ways = [(1, [1, 2, 3, 4, 1], {"highway": "residential", "name": "方路"}),
            (2, [1, 5, 3], {**tags, "name": "候选"})]
    net = _net(write_osm(tmp_path / "square.osm", SQUARE, ways), **kw)
    kept = "候选" in set(net.edges["name"])
    assert net.report["length_km"] == pytest.approx(1.6 + (0.566 if kept else 0), abs=0.01)
    return kept


@pytest.mark.parametrize(("tags", "kept"), [
    # elevated and tunnelled carriageways without a sidewalk
    ({"highway": "trunk", "bridge": "yes", "layer": "1"}, False),
    ({"highway": "primary_link", "bridge": "viaduct", "layer": "2"}, False),
    ({"highway": "trunk", "tunnel": "yes", "layer": "-1"}, False),
    ({"highway": "primary", "tunnel": "yes", "sidewalk": "no"}, False),
    ({"highway": "primary", "bridge": "yes", "sidewalk": "separate"}, False),
    # motorroads and motorways
    ({"highway": "primary", "motorroad": "yes"}, False),
    ({"highway": "motorway_link"}, False),
    # closed by foot/access
    ({"highway": "primary", "bridge": "yes", "sidewalk": "both", "foot": "no"}, False),
    ({"highway": "service", "access": "private"}, False),
    # kept: sidewalks, explicit foot access, pedestrian bridges and underpasses
    ({"highway": "trunk", "bridge": "yes", "layer": "1", "sidewalk": "both"}, True),
    ({"highway": "primary", "bridge": "yes", "sidewalk:left": "yes"}, True),
    ({"highway": "primary", "tunnel": "yes", "foot": "yes"}, True),
    ({"highway": "primary", "motorroad": "yes", "foot": "designated"}, True),
    ({"highway": "service", "access": "private", "foot": "yes"}, True),
    ({"highway": "footway", "bridge": "yes", "layer": "1"}, True),
    ({"highway": "steps", "bridge": "yes"}, True),
    ({"highway": "footway", "tunnel": "yes", "layer": "-1"}, True),
    ({"highway": "footway", "footway": "sidewalk"}, True),
    ({"highway": "primary", "tunnel": "building_passage"}, True),
    ({"highway": "secondary", "bridge": "yes"}, True),
    ({"highway": "trunk"}, True),
])
def test_policy_rule(tmp_path: Path, tags: dict[str, str], kept: bool) -> None:
    assert _diagonal_kept(tmp_path, tags) is kept


@pytest.mark.parametrize(("tags", "option"), [
    ({"highway": "trunk", "bridge": "yes"}, {"exclude_elevated": False}),
    ({"highway": "trunk", "tunnel": "yes"}, {"exclude_elevated": False}),
    ({"highway": "primary", "motorroad": "yes"}, {"exclude_motorroad": False}),
    ({"highway": "primary", "bridge": "yes"}, {"elevated_highways": ("trunk",)}),
])
def test_policy_options(tmp_path: Path, tags: dict[str, str], option: dict) -> None:
    assert _diagonal_kept(tmp_path, tags) is False
    assert _diagonal_kept(tmp_path, tags, **option) is True


def test_short_street_bridge_is_kept(tmp_path: Path) -> None:
    # A primary street crossing a creek on a 40 m bridge stays walkable; a 40 m bridge
    # joined to a long motorroad viaduct does not.
    nodes = {1: (0, 0), 2: (300, 0), 3: (340, 0), 4: (640, 0),
             5: (670, 10), 6: (1500, 10)}
    ways = [(1, [1, 2], {"highway": "primary"}),
            (2, [2, 3], {"highway": "primary", "bridge": "yes", "layer": "1"}),
            (3, [3, 4], {"highway": "primary"}),
            (4, [4, 5], {"highway": "primary", "bridge": "yes", "name": "引桥"}),
            (5, [5, 6], {"highway": "trunk", "bridge": "yes", "motorroad": "yes"})]
    g = graph_from_osm_files((write_osm(tmp_path / "creek.osm", nodes, ways),))
    edges = ox.graph_to_gdfs(g, nodes=False, fill_edge_geometry=False)
    reason = walk_policy(edges, DEFAULT_WALKABLE_HIGHWAYS).groupby(
        edges["osmid"]).first().to_dict()
    assert reason == {1: "", 2: "", 3: "", 4: "elevated", 5: "motorroad"}
    strict = walk_policy(edges, DEFAULT_WALKABLE_HIGHWAYS, elevated_min_length_m=0)
    assert strict.groupby(edges["osmid"]).first()[2] == "elevated"


def test_policy_settings_load_and_change_the_cache_key(tmp_path: Path) -> None:
    osm = write_osm(tmp_path / "a.osm", SQUARE, [(1, [1, 2, 3], {"highway": "footway"})])
    fac = tmp_path / "fac.csv"
    fac.write_text("name,lon,lat\na,121.5,31.3\n", encoding="utf-8")
    base = (f'[study_area]\nname = "t"\n[network]\nosm_files = ["{osm}"]\n'
            f'[[facilities]]\ntype = "canteen"\npath = "{fac}"\n'
            '[population]\nshare_60 = 0.3\n')
    p = tmp_path / "c.toml"
    p.write_text(base, encoding="utf-8")
    default = load_config(p)
    assert default.walking.exclude_elevated and default.walking.exclude_motorroad
    assert default.walking.elevated_min_length_m == 60
    p.write_text(base + '[walking]\nexclude_elevated = false\nexclude_motorroad = false\n'
                 'elevated_highways = ["trunk"]\nelevated_min_length_m = 0\n',
                 encoding="utf-8")
    custom = load_config(p)
    assert not custom.walking.exclude_elevated and not custom.walking.exclude_motorroad
    assert custom.walking.elevated_highways == ("trunk",)
    assert network_cache_key(custom) != network_cache_key(default)


def test_policy_on_the_demo_extracts(demo_dir: Path) -> None:
    # Real Yangpu OSM: the Middle Ring Road viaduct (中环路, motorroad=yes), its unnamed
    # bridge ramps and the 五角场 / 四平路 road tunnels go; the short 淞沪路 creek bridges
    # (about 45 m each way) and the ground-level primary 邯郸路 stay.
    files = (demo_dir / "osm" / "wujiaochang-fudan.osm", demo_dir / "osm" / "tongji-siping.osm")
    raw = graph_from_osm_files(files)
    net = build_walk_network(raw, 1.0, 2.0, DEFAULT_WALKABLE_HIGHWAYS)
    dropped = net.report["policy_dropped"]
    assert dropped["motorroad"]["km"] > 10
    assert dropped["elevated"]["km"] > 3 and dropped["tunnel"]["km"] > 2
    edges = ox.graph_to_gdfs(raw, nodes=False, fill_edge_geometry=True).to_crs(net.crs)
    name = edges["name"].astype(str)
    creek = edges[(name == "淞沪路") & (edges["bridge"] == "yes")]
    tunnel = edges[(name == "五角场隧道") & (edges["tunnel"] == "yes")]
    ground = edges[(name == "邯郸路") & edges["bridge"].isna() & edges["tunnel"].isna()]
    assert len(creek) and len(tunnel) and len(ground)

    def share_on_network(part) -> float:
        """Share of the ways' length running along a network edge (within 1 m)."""
        lines = part.geometry.to_numpy()
        near = net.edges.geometry.to_numpy()[np.unique(
            net.edge_tree.query(lines, predicate="dwithin", distance=1.0)[1])]
        cover = shapely.buffer(shapely.union_all(near), 1.0)
        return float(shapely.length(shapely.intersection(lines, cover)).sum()
                     / shapely.length(lines).sum())

    assert share_on_network(creek) > 0.99
    assert share_on_network(ground) > 0.99
    assert share_on_network(tunnel) < 0.1  # only where streets cross above it
