"""OSM extracts: every format by content, cut while read, network straight from arrays."""

from __future__ import annotations

import bz2
import gzip
import json
import random
from pathlib import Path

import numpy as np
import osmium
import pytest
import shapely

from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS, NetworkSource
from geoplan.errors import InputDataError, NetworkError
from geoplan.network.arraygraph import build_walk_network_arrays
from geoplan.network.walkgraph import WalkNetwork, build_walk_network
from geoplan.sources import osm
from geoplan.sources.osm_read import detect_format, read_osm
from tests.osmxml import DLAT, DLON, LAT0, LON0, write_osm

WALK = DEFAULT_WALKABLE_HIGHWAYS


def to_pbf(src: Path, dst: Path, fmt: str = "pbf") -> Path:
    """Convert an OSM file to PBF with pyosmium (as an institute's extract would be)."""
    dst.unlink(missing_ok=True)
    with osmium.SimpleWriter(osmium.io.File(str(dst), fmt)) as w:
        for obj in osmium.FileProcessor(str(src)):
            w.add(obj)
    return dst


def osm7(path: Path) -> Path:
    """Rewrite a test XML (8 decimals) with OSM's own 7-decimal precision, as real exports
    have; libosmium stores coordinates in units of 1e-7 degrees."""
    return to_pbf(path, path.with_name(path.stem + "-7.osm"), "osm")


def xml_net(paths: tuple[Path, ...], delay: float = 0.0) -> WalkNetwork:
    """Today's reference path: osmnx graph_from_xml, then build_walk_network."""
    return build_walk_network(osm.graph_from_osm_files(paths), 1.0, 2.0, WALK,
                              crossing_delay_s=delay)


def array_net(paths: tuple[Path, ...], clip: shapely.Geometry | None = None,
              delay: float = 0.0) -> WalkNetwork:
    return build_walk_network_arrays(read_osm(paths, clip), 1.0, 2.0, WALK,
                                     crossing_delay_s=delay)


def assert_same_report(ref: WalkNetwork, net: WalkNetwork) -> None:
    """The preparation report of the array path is that of the osmnx path (the raw counts
    differ: osmnx's XML reader also turns building outlines into raw edges)."""
    for k in ("policy_dropped", "components",
              "other_parts", "other_parts_nodes", "other_parts_length_m",
              "kept_length_share", "part_length_m", "nodes", "edges", "length_km", "crs",
              "crossing_delay_s", "crossing_nodes", "crossing_major", "crossing_mapped"):
        assert net.report[k] == ref.report[k], k


def assert_same_network(a: WalkNetwork, b: WalkNetwork) -> None:
    """Same nodes (ids and coordinates), same edges (endpoints, length and time to 1e-6)."""
    na = a.nodes.set_index("osmid").sort_index()
    nb = b.nodes.set_index("osmid").sort_index()
    assert na.index.tolist() == nb.index.tolist()
    np.testing.assert_allclose(na[["x", "y"]].to_numpy(), nb[["x", "y"]].to_numpy(), atol=1e-6)
    assert str(a.crs) == str(b.crs)
    assert na["crossing"].tolist() == nb["crossing"].tolist()

    def rows(n: WalkNetwork) -> np.ndarray:
        e = n.edges
        lo = np.minimum(e["osm_u"], e["osm_v"]).to_numpy(np.float64)
        hi = np.maximum(e["osm_u"], e["osm_v"]).to_numpy(np.float64)
        # the half delays, by the lower and the higher OSM id end
        cu, cv = e["cross_u_s"].to_numpy(), e["cross_v_s"].to_numpy()
        swap = (e["osm_u"] > e["osm_v"]).to_numpy()
        r = np.stack([lo, hi, e["length_m"].to_numpy(), e["time_s"].to_numpy(),
                      e["part"].to_numpy(np.float64), np.where(swap, cv, cu),
                      np.where(swap, cu, cv)], axis=1)
        order = np.lexsort(r.T[::-1])
        tags = np.stack([e["highway"].to_numpy(dtype=object),
                         e["name"].to_numpy(dtype=object)], axis=1)
        return r[order], tags[order]

    (ra, ta), (rb, tb) = rows(a), rows(b)
    assert ra.shape == rb.shape
    np.testing.assert_array_equal(ra[:, :2], rb[:, :2])
    np.testing.assert_allclose(ra[:, 2:4], rb[:, 2:4], atol=1e-6, rtol=0)
    np.testing.assert_array_equal(ra[:, 4], rb[:, 4])  # part labels
    np.testing.assert_array_equal(ra[:, 5:], rb[:, 5:])  # half crossing delays
    # merged highway/name: sorted distinct values joined with ';' (parallel edges of the
    # same length may sort either way: compare as multisets per (u, v, length))
    key = [tuple(r) for r in np.round(ra[:, :3], 5)]
    assert sorted(zip(key, map(tuple, ta), strict=True)) == sorted(
        zip(key, map(tuple, tb), strict=True))
    # every edge line runs from its u node to its v node
    for n in (a, b):
        start = shapely.get_point(n.edges.geometry.to_numpy(), 0)
        u = n.edges["u"].to_numpy()
        assert np.allclose(shapely.get_x(start), n.nodes["x"].to_numpy()[u])


# -- formats ---------------------------------------------------------------------------

@pytest.fixture()
def street(tmp_path: Path) -> Path:
    nodes = {1: (0, 0), 2: (100, 0), 3: (200, 0), 4: (200, 100), 5: (100, 100), 6: (300, 0)}
    ways = [(10, [1, 2, 3], {"highway": "residential", "name": "A路"}),
            (11, [3, 4, 5, 2], {"highway": "footway"}),
            (12, [3, 6], {"highway": "steps"}),
            (13, [5, 4], {"building": "yes"})]
    return osm7(write_osm(tmp_path / "street.osm", nodes, ways))


def test_formats_detected_by_content(street: Path, tmp_path: Path) -> None:
    raw = street.read_bytes()
    gz = tmp_path / "a.data"
    gz.write_bytes(gzip.compress(raw))
    bz = tmp_path / "b.osm"  # named like XML, holds bzip2
    bz.write_bytes(bz2.compress(raw))
    pbf = to_pbf(street, tmp_path / "c.osm")  # PBF content under an .osm name
    assert [detect_format(p) for p in (street, gz, bz, pbf)] == ["osm", "osm.gz", "osm.bz2",
                                                                 "pbf"]
    ref = xml_net((street,))
    for p in (street, gz, bz, pbf):
        assert_same_network(ref, array_net((p,)))
    assert ref.n_edges == 4  # 1-2, 2-3, the footway loop 3-4-5-2, the steps 3-6


def test_not_osm_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "x.osm.pbf"
    p.write_bytes(b"name,lon,lat\na,1,2\n")
    with pytest.raises(InputDataError, match=r"x\.osm\.pbf: not an OpenStreetMap"):
        detect_format(p)


@pytest.mark.parametrize("fmt", ["pbf", "osm", "osm.gz", "osm.bz2"])
@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_file_is_one_line(street: Path, tmp_path: Path, cut: float,
                                    fmt: str) -> None:
    whole = to_pbf(street, tmp_path / f"s.{fmt}", fmt)
    data = whole.read_bytes()
    bad = tmp_path / f"bad.{fmt}"
    bad.write_bytes(data[:max(40, int(len(data) * cut))])
    with pytest.raises(InputDataError) as ei:
        read_osm((bad,))
    msg = str(ei.value)
    assert "\n" not in msg and str(bad) in msg and "truncated or corrupt" in msg


def test_corrupt_pbf_body(street: Path, tmp_path: Path) -> None:
    pbf = to_pbf(street, tmp_path / "s.osm.pbf")
    data = bytearray(pbf.read_bytes())
    for i in range(len(data) // 2, len(data)):
        data[i] ^= 0x5A
    bad = tmp_path / "flipped.osm.pbf"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputDataError, match=r"flipped\.osm\.pbf: cannot read this OSM PBF"):
        read_osm((bad,))


def test_several_files_merged(tmp_path: Path) -> None:
    a = osm7(write_osm(tmp_path / "a.osm", {1: (0, 0), 2: (100, 0), 3: (200, 0)},
                       [(1, [1, 2, 3], {"highway": "footway"})]))
    b = osm7(write_osm(tmp_path / "b.osm", {3: (200, 0), 4: (300, 0), 5: (300, 100)},
                       [(2, [3, 4, 5], {"highway": "footway"}),
                        (3, [4, 5], {"highway": "path"})]))
    pa, pb = to_pbf(a, tmp_path / "a.pbf"), to_pbf(b, tmp_path / "b.pbf")
    ref = xml_net((a, b))
    assert_same_network(ref, array_net((pa, b)))  # mixed formats
    net = array_net((pa, pb))
    assert_same_network(ref, net)
    assert net.report["components"] == 1


# -- the array builder gives what the osmnx path gives, on any topology ----------------

def _random_city(path: Path, seed: int, crossings: bool = False) -> Path:
    """A small random street network with every awkward case the simplifier meets.

    ``crossings``: also major roads (secondary, primary), ``footway=crossing`` ways and
    nodes tagged as crossings, signals or else, for the crossing delay.
    """
    rng = random.Random(seed)
    n = 7
    nodes = {i * n + j + 1: (j * 60.0 + rng.uniform(-9, 9), i * 55.0 + rng.uniform(-9, 9))
             for i in range(n) for j in range(n)}
    tags_pool = [{"highway": "residential"}, {"highway": "footway"}, {"highway": "steps"},
                 {"highway": "service", "access": "private"},
                 {"highway": "service", "access": "private", "foot": "yes"},
                 {"highway": "path", "foot": "no"}, {"highway": "motorway"},
                 {"building": "yes"}, {"highway": "pedestrian", "name": "步行街"},
                 {"highway": "primary", "bridge": "yes", "name": "高架路"},
                 {"highway": "trunk", "bridge": "viaduct", "motorroad": "yes"},
                 {"highway": "primary", "bridge": "yes", "sidewalk": "both"},
                 {"highway": "trunk_link", "tunnel": "yes"},
                 {"highway": "primary", "tunnel": "building_passage", "name": "穿楼路"},
                 {"highway": "residential", "motorroad": "yes", "foot": "designated"},
                 {"highway": "footway", "bridge": "yes", "name": "天桥"},
                 {"highway": "steps", "name": "台阶"}]
    if crossings:
        tags_pool += [{"highway": "primary", "name": "主路"}, {"highway": "secondary"},
                      {"highway": "secondary_link"}, {"highway": "trunk", "name": "干道"},
                      {"highway": "footway", "footway": "crossing"},
                      {"highway": "cycleway"}, {"highway": "primary", "name": "主路"}]
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    wid = 100
    for _ in range(rng.randint(14, 26)):
        cur = rng.randint(1, n * n)
        refs = [cur]
        for _ in range(rng.randint(1, 6)):
            i, j = divmod(cur - 1, n)
            di, dj = rng.choice([(0, 1), (1, 0), (0, -1), (-1, 0)])
            if 0 <= i + di < n and 0 <= j + dj < n:
                cur = (i + di) * n + j + dj + 1
                refs.append(cur)
        if rng.random() < 0.15:
            refs.append(refs[0])  # closed way (ring or back-and-forth)
        if rng.random() < 0.1 and len(refs) > 1:
            refs.insert(1, refs[0])  # repeated consecutive node
        if len(refs) > 1:
            ways.append((wid, refs, dict(rng.choice(tags_pool))))
            wid += 1
    # a way shared twice (parallel segments), a lollipop and a separate small part
    ways.append((wid, [1, 2, 3], {"highway": "footway"}))
    ways.append((wid + 1, [2, 3], {"highway": "cycleway"}))
    ways.append((wid + 2, [3, 4, 11, 10, 3], {"highway": "footway"}))
    ways.append((wid + 3, [1, 8, 15, 22, 29, 36, 43], {"highway": "residential"}))
    ways.append((wid + 4, [43, 44, 45, 46, 47, 48, 49], {"highway": "residential"}))
    ways.append((wid + 5, [7, 14, 21, 28, 35, 42, 49], {"highway": "residential"}))
    ways.append((wid + 6, [1, 2, 3, 4, 5, 6, 7], {"highway": "residential"}))
    # a steps chain inside a footway (the factor changes mid-chain), a lone ring (a part
    # without any junction) and a chain of differently named ways
    ways.append((wid + 7, [22, 23], {"highway": "footway"}))
    ways.append((wid + 8, [23, 24, 25], {"highway": "steps"}))
    ways.append((wid + 9, [25, 26], {"highway": "footway"}))
    ring = [n * n + 1, n * n + 2, n * n + 3, n * n + 1]
    for k, (e, nn) in enumerate([(1000, 0), (1100, 0), (1050, 80)]):
        nodes[n * n + 1 + k] = (e, nn)
    ways.append((wid + 10, ring, {"highway": "footway", "name": "环"}))
    ways.append((wid + 11, [29, 30, 31], {"highway": "residential", "name": "甲路"}))
    ways.append((wid + 12, [31, 32], {"highway": "residential", "name": "乙路"}))
    node_tags: dict[int, dict[str, str]] = {}
    if crossings:
        ways.append((wid + 13, [15, 16, 17, 18, 19], {"highway": "primary", "name": "主路"}))
        ways.append((wid + 14, [3, 10, 17, 24], {"highway": "footway"}))
        pool = [{"highway": "crossing"}, {"highway": "traffic_signals"},
                {"crossing": "traffic_signals"}, {"highway": "crossing", "crossing": "zebra"},
                {"highway": "bus_stop"}, {"crossing": "unmarked"},
                {"highway": " Traffic_Signals "}]
        node_tags = {k: dict(rng.choice(pool)) for k in nodes if rng.random() < 0.3}
        node_tags[17] = {"highway": "traffic_signals"}
        node_tags[n * n + 2] = {"highway": "crossing"}  # on the lone ring
    return osm7(write_osm(path, nodes, ways, node_tags=node_tags))


@pytest.mark.parametrize("seed", range(16))
def test_arrays_equal_osmnx_on_random_networks(tmp_path: Path, seed: int) -> None:
    p = _random_city(tmp_path / f"r{seed}.osm", seed)
    ref = xml_net((p,))
    net = array_net((to_pbf(p, tmp_path / f"r{seed}.osm.pbf"),))
    assert_same_network(ref, net)
    assert_same_report(ref, net)


@pytest.mark.parametrize("seed", range(16))
def test_arrays_equal_osmnx_with_crossing_delay(tmp_path: Path, seed: int) -> None:
    """With the crossing delay on, crossing nodes stay nodes and carry half the delay on
    each edge end in both paths; off, the same files give the report's counts only."""
    p = _random_city(tmp_path / f"c{seed}.osm", seed, crossings=True)
    pbf = to_pbf(p, tmp_path / f"c{seed}.osm.pbf")
    ref = xml_net((p,), delay=30.0)
    net = array_net((pbf,), delay=30.0)
    assert_same_network(ref, net)
    assert_same_report(ref, net)
    assert net.report["crossing_nodes"] > 0 and net.nodes["crossing"].any()
    off_ref, off = xml_net((p,)), array_net((pbf,))
    assert_same_network(off_ref, off)
    assert_same_report(off_ref, off)
    assert not off.nodes["crossing"].any() and not off.edges["cross_u_s"].any()
    assert off.report["crossing_nodes"] == net.report["crossing_nodes"]
    # every edge end at a crossing node holds half the delay, and no other does
    cross = net.nodes["crossing"].to_numpy()
    e = net.edges
    assert (e["cross_u_s"].to_numpy() == np.where(cross[e["u"].to_numpy()], 15.0, 0.0)).all()
    assert (e["cross_v_s"].to_numpy() == np.where(cross[e["v"].to_numpy()], 15.0, 0.0)).all()


def test_node_tags_read_only_for_kept_nodes(tmp_path: Path) -> None:
    """The reader keeps the crossing tags of the nodes inside the cut, as osmnx reads them."""
    p = _random_city(tmp_path / "t.osm", 3, crossings=True)
    tables = read_osm((to_pbf(p, tmp_path / "t.osm.pbf"),))
    g = osm.graph_from_osm_files((p,))
    ids = np.array(sorted(g.nodes), dtype=np.int64)
    for key in ("highway", "crossing"):
        want = [str(g.nodes[i].get(key, "")).strip().lower() for i in ids]
        assert tables.node_tag(key, ids).tolist() == want, key
    assert set(tables.tag_node_id) <= set(tables.node_id)
    cut = read_osm((p,), shapely.box(LON0 - 1e-4, LAT0 - 1e-4, LON0 + 70 * DLON,
                                      LAT0 + 70 * DLAT))
    assert len(cut.tag_node_id) < len(tables.tag_node_id)
    assert set(cut.tag_node_id) <= set(cut.node_id)


# -- cut while reading -----------------------------------------------------------------

def _long_street(tmp_path: Path) -> Path:
    """A 20 km street (a node every 100 m) with a footway and a building at each end."""
    nodes = {i + 1: (i * 100.0, 0.0) for i in range(201)}
    nodes |= {1001: (0, 80), 1002: (30, 80), 1003: (30, 110), 1004: (0, 110)}
    nodes |= {2001: (20000, 80), 2002: (20030, 80), 2003: (20030, 110), 2004: (20000, 110)}
    nodes |= {3001: (10000, 0), 3002: (10000, 150)}
    ways = [(1, list(range(1, 202)), {"highway": "residential"}),
            (2, [1001, 1002, 1003, 1004, 1001], {"building": "yes"}),
            (3, [2001, 2002, 2003, 2004, 2001], {"building": "apartments"}),
            (4, [3001, 3002], {"highway": "footway"})]
    del nodes[3001]
    ways[3] = (4, [101, 3002], {"highway": "footway"})
    return write_osm(tmp_path / "long.osm", nodes, ways)


def _box_m(e0: float, n0: float, e1: float, n1: float) -> shapely.Polygon:
    return shapely.box(LON0 + e0 * DLON, LAT0 + n0 * DLAT, LON0 + e1 * DLON, LAT0 + n1 * DLAT)


def test_cut_to_boundary_keeps_only_the_study_area(tmp_path: Path) -> None:
    pbf = to_pbf(_long_street(tmp_path), tmp_path / "long.osm.pbf")
    full = read_osm((pbf,))
    assert len(full.node_id) == 201 + 8 + 1
    clip = _box_m(-50, -50, 1050, 200)  # the west end only
    t = read_osm((pbf,), clip)
    lon0, lon1 = clip.bounds[0], clip.bounds[2]
    assert len(t.node_id) == 11 + 4  # street nodes 0..1000 m and the west building
    assert ((t.lon >= lon0) & (t.lon <= lon1)).all()
    net = build_walk_network_arrays(t, 1.0, 2.0, WALK)
    assert net.n_nodes == 2 and net.n_edges == 1
    assert net.edges["length_m"].iloc[0] == pytest.approx(1000, rel=0.01)
    ids = [e["id"] for e in t.feature_elements() if e["type"] == "way"]
    assert ids == [2]


def test_boundary_file_and_default_buffer(tmp_path: Path) -> None:
    """The files are cut to [study_area] boundary plus the run's walking buffer."""
    from geoplan.config import config_from_dict
    from geoplan.workflows.coverage import walking_buffer_m

    to_pbf(_long_street(tmp_path), tmp_path / "long.osm.pbf")
    (tmp_path / "f.csv").write_text("name,lon,lat\nA,121.6,31.3\n", encoding="utf-8")
    bnd = tmp_path / "b.geojson"
    bnd.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": shapely.geometry.mapping(_box_m(9950, -50, 10050, 50))}]}))
    raw = {"study_area": {"name": "cut", "boundary": "b.geojson"},
           "paths": {"data_root": str(tmp_path)},
           "network": {"osm_files": ["long.osm.pbf"]},
           "walking": {"speed_kmh": 3.6, "snap_max_m": 300},
           "analysis": {"thresholds_min": [5, 10], "circle_minutes": 10},
           "facilities": [{"type": "canteen", "path": "f.csv"}],
           "output": {"dir": str(tmp_path / "o"), "cache_dir": str(tmp_path / "c")}}
    cfg = config_from_dict(raw, base_dir=tmp_path)
    cut = osm.StudyCut.of(cfg)
    assert cut.buffer_m == pytest.approx(10 * 60 * 1.0 + 300) == walking_buffer_m(cfg)
    tables = osm.read_tables(cfg.network, cut)
    # 50 m each side of 10 km plus the 900 m buffer: street nodes 9100..10900 m and the
    # footway's end 150 m north
    assert len(tables.node_id) == 19 + 1
    span_m = (tables.lon.max() - tables.lon.min()) / DLON
    assert span_m == pytest.approx(1800, abs=1)
    assert shapely.equals_exact(osm.configured_boundary(cfg.network, cut),
                                _box_m(9950, -50, 10050, 50), 1e-9)
    # a shorter walk cuts less: 5 min at 1 m/s plus 300 m
    raw["analysis"] = {"thresholds_min": [5], "circle_minutes": 5}
    cut5 = osm.StudyCut.of(config_from_dict(raw, base_dir=tmp_path))
    assert cut5.buffer_m == pytest.approx(600)
    assert len(osm.read_tables(cfg.network, cut5).node_id) == 13 + 1  # 9400..10600 m


@pytest.mark.parametrize("header", [False, True])
def test_boundary_outside_extract_says_both_extents(tmp_path: Path, header: bool) -> None:
    src = _long_street(tmp_path)
    pbf = tmp_path / "long.osm.pbf"
    h = osmium.io.Header()
    if header:  # as extract services write it
        h.add_box(osmium.osm.Box(osmium.osm.Location(121.49, 31.29),
                                 osmium.osm.Location(121.72, 31.31)))
    with osmium.SimpleWriter(osmium.io.File(str(pbf), "pbf"), header=h) as w:
        for obj in osmium.FileProcessor(str(src)):
            w.add(obj)
    assert (osm.check_osm_file(pbf) is not None) == header
    far = shapely.box(116.3, 39.9, 116.4, 40.0)  # Beijing, the extract is in Shanghai
    with pytest.raises(InputDataError) as ei:
        read_osm((pbf,), far)
    msg = str(ei.value)
    assert "lies outside the OSM extract" in msg and "116.3000" in msg
    assert ("lon 121.4900 to 121.7200" if header else "lon 121.5000 to 121.7108") in msg
    assert "long.osm.pbf" in msg and "\n" not in msg


def test_no_walkable_way_inside_boundary(tmp_path: Path) -> None:
    pbf = to_pbf(_long_street(tmp_path), tmp_path / "long.osm.pbf")
    clip = _box_m(19980, 60, 20050, 130)  # only the east building
    t = read_osm((pbf,), clip)
    with pytest.raises(NetworkError, match="no walkable way in the OSM source inside"):
        build_walk_network_arrays(t, 1.0, 2.0, WALK, where=" inside the study boundary")
    # inside the data's extent but holding no node (the street passes between two of its
    # nodes): the same message, not "outside the extract"
    t = read_osm((pbf,), _box_m(5020, -30, 5080, 30))
    assert len(t.node_id) == 0 and len(t.way_id) == 0
    with pytest.raises(NetworkError, match="no walkable way in the OSM source inside"):
        build_walk_network_arrays(t, 1.0, 2.0, WALK, where=" inside the study boundary")


def test_features_cached_by_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pbf = to_pbf(_long_street(tmp_path), tmp_path / "long.osm.pbf")
    src = NetworkSource(osm_files=(pbf,))
    first = osm.features(src, tmp_path / "cache")
    assert sorted(first["osm_id"]) == ["way/2", "way/3"]
    assert sorted(first["building"]) == ["apartments", "yes"]

    def boom(_: NetworkSource) -> None:
        raise AssertionError("re-read although cached")

    monkeypatch.setattr(osm, "read_tables", boom)
    again = osm.features(src, tmp_path / "cache")
    assert again["osm_id"].tolist() == first["osm_id"].tolist()
    monkeypatch.undo()
    other = to_pbf(_random_city(tmp_path / "r.osm", 1), tmp_path / "r.osm.pbf")
    assert len(osm.features(NetworkSource(osm_files=(other,)), tmp_path / "cache")) >= 0


# -- the real demo: PBF equals today's XML path -----------------------------------------

def test_demo_pbf_equals_xml_path(demo_dir: Path, tmp_path: Path) -> None:
    xml = (demo_dir / "osm" / "tongji-siping.osm", demo_dir / "osm" / "wujiaochang-fudan.osm")
    pbf = tuple(to_pbf(p, tmp_path / f"{p.stem}.osm.pbf") for p in xml)
    ref = xml_net(xml)
    tables = read_osm(pbf)
    net = build_walk_network_arrays(tables, 1.0, 2.0, WALK)
    assert ref.n_nodes > 1000
    assert_same_network(ref, net)
    assert_same_report(ref, net)
    # with the crossing delay: the same crossing nodes kept, the same edge times
    ref_d = xml_net(xml, delay=30.0)
    net_d = build_walk_network_arrays(tables, 1.0, 2.0, WALK, crossing_delay_s=30.0)
    assert_same_network(ref_d, net_d)
    assert_same_report(ref_d, net_d)
    assert net_d.report["crossing_major"] > 10 and net_d.report["crossing_mapped"] > 10
    assert int(net_d.nodes["crossing"].sum()) == net_d.report["crossing_nodes"]
    assert net_d.edges["time_s"].sum() > net.edges["time_s"].sum()
    # the demo has what the policy and the simplifier act on: elevated roads or tunnels
    # left out, steps kept apart, merged names, several parts
    assert {"motorroad", "elevated"} & set(net.report["policy_dropped"])
    assert (net.edges["highway"] == "steps").any() and net.report["components"] > 1
    assert net.edges["name"].str.contains(";").any()

    ref_f = osm._features_frame([
        osm._configure_osmnx().features_from_xml(p, tags=osm._FEATURE_TAGS) for p in xml])
    got_f = osm.features_from_tables(tables)
    assert len(ref_f) > 1000
    r = ref_f.set_index("osm_id").sort_index()
    g = got_f.set_index("osm_id").sort_index()
    assert r.index.tolist() == g.index.tolist()
    assert (r["landuse"] == "residential").sum() == (g["landuse"] == "residential").sum() > 50
    for col in ("building", "building_levels", "landuse", "name"):
        assert r[col].tolist() == g[col].tolist(), col
    assert shapely.equals_exact(r.geometry.to_numpy(), g.geometry.to_numpy(), 1e-9).all()


def test_cli_truncated_pbf_one_line(demo_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_cli_errors import make_config, run_bad

    pbf = to_pbf(demo_dir / "osm" / "tongji-siping.osm", tmp_path / "ts.osm.pbf")
    bad = tmp_path / "cut.osm.pbf"
    bad.write_bytes(pbf.read_bytes()[: pbf.stat().st_size // 2])
    cfg = make_config(tmp_path, demo_dir, OSM=f'"{bad}"')
    line = run_bad(cfg, capsys, "truncated or corrupt")
    assert "cut.osm.pbf" in line
    assert not (tmp_path / "out" / "data").exists()


def test_boundary_in_gcj02_is_cut_in_wgs84(tmp_path: Path) -> None:
    """A study boundary in GCJ-02 degrees is converted before the files are cut."""
    from geoplan.sources.crs import wgs84_to_gcj02

    pbf = to_pbf(_long_street(tmp_path), tmp_path / "long.osm.pbf")
    wgs = _box_m(0, 0, 1000, 1000)
    xy = shapely.get_coordinates(wgs)
    gx, gy = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    gcj = shapely.polygons(np.stack([gx, gy], axis=1))
    p = tmp_path / "gcj.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(gcj)}]}))
    src = NetworkSource(osm_files=(pbf,))
    back = osm.configured_boundary(src, osm.StudyCut(boundary=p, crs="gcj02"))
    assert shapely.hausdorff_distance(back, wgs) < 1e-6  # degrees: ~0.1 m
    raw = osm.configured_boundary(src, osm.StudyCut(boundary=p, crs="wgs84"))
    assert shapely.hausdorff_distance(raw, wgs) > 1e-3  # ~ 500 m off


def test_boundary_settings_are_one_concept(tmp_path: Path) -> None:
    """The cut is [study_area] boundary or osm_relation; network.boundary is gone."""
    from geoplan.config import config_from_dict
    from geoplan.errors import ConfigError

    (tmp_path / "f.csv").write_text("name,lon,lat\nA,121.6,31.3\n", encoding="utf-8")
    (tmp_path / "b.geojson").write_text("{}", encoding="utf-8")
    (tmp_path / "x.osm.pbf").write_bytes(b"")
    base = {"paths": {"data_root": str(tmp_path)},
            "facilities": [{"type": "canteen", "path": "f.csv"}]}
    with pytest.raises(ConfigError, match=r"\[network\] unknown key 'boundary'"):
        config_from_dict({**base, "study_area": {"name": "cut"},
                          "network": {"osm_files": ["x.osm.pbf"], "boundary": "b.geojson"}},
                         base_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"either study_area\.boundary or study_area\.osm_rel"):
        config_from_dict({**base, "study_area": {"name": "cut", "boundary": "b.geojson",
                                                 "osm_relation": 7},
                          "network": {"osm_files": ["x.osm.pbf"]}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="osm_relation takes the study boundary from local"):
        config_from_dict({**base, "study_area": {"name": "cut", "osm_relation": 7},
                          "network": {"place": "杨浦区"}}, base_dir=tmp_path)


def _with_relation(tmp_path: Path, drop_way: bool = False) -> Path:
    """The long street plus a boundary relation around its west 1 km, in two member ways
    (one of them left out of the file when ``drop_way``)."""
    from osmium.osm.mutable import Node, Relation, Way

    src = _long_street(tmp_path)
    out = tmp_path / ("rel-cut.osm.pbf" if drop_way else "rel.osm.pbf")
    corners = {9001: (-20, -40), 9002: (1020, -40), 9003: (1020, 40), 9004: (-20, 40)}
    with osmium.SimpleWriter(osmium.io.File(str(out), "pbf")) as w:
        for o in osmium.FileProcessor(str(src), osmium.osm.NODE):
            w.add_node(o)
        for nid, (e, n) in corners.items():
            w.add_node(Node(id=nid, location=(LON0 + e * DLON, LAT0 + n * DLAT)))
        for o in osmium.FileProcessor(str(src), osmium.osm.WAY):
            w.add_way(o)
        w.add_way(Way(id=901, nodes=[9001, 9002, 9003], tags={"boundary": "administrative"}))
        if not drop_way:
            w.add_way(Way(id=902, nodes=[9003, 9004, 9001], tags={}))
        w.add_relation(Relation(id=77, members=[("w", 901, "outer"), ("w", 902, "outer")],
                                tags={"type": "boundary", "boundary": "administrative",
                                      "admin_level": "8", "name": "测试街道"}))
    return out


def test_study_area_from_osm_relation(tmp_path: Path) -> None:
    from geoplan.config import config_from_dict
    from geoplan.sources.osm_read import relation_polygon

    pbf = _with_relation(tmp_path)
    poly = relation_polygon((pbf,), 77)
    assert poly.geom_type == "Polygon"
    assert shapely.equals_exact(shapely.normalize(poly),
                                shapely.normalize(_box_m(-20, -40, 1020, 40)), 1e-7)
    (tmp_path / "f.csv").write_text("name,lon,lat\nA,121.6,31.3\n", encoding="utf-8")
    raw = {"study_area": {"name": "rel", "osm_relation": 77},
           "paths": {"data_root": str(tmp_path)},
           "network": {"osm_files": ["rel.osm.pbf"]},
           "walking": {"speed_kmh": 3.6, "snap_max_m": 30},
           "analysis": {"thresholds_min": [2], "circle_minutes": 2},
           "facilities": [{"type": "canteen", "path": "f.csv"}]}
    cfg = config_from_dict(raw, base_dir=tmp_path)
    cut = osm.StudyCut.of(cfg)
    assert cut.osm_relation == 77 and cut.buffer_m == pytest.approx(150)
    assert osm.configured_boundary(cfg.network, cut).equals(poly)
    t = osm.read_tables(cfg.network, cut)
    # street nodes 0..1100 m (the relation reaches 1020 m, plus the 150 m buffer)
    kept = set(t.node_id.tolist())
    assert set(range(1, 13)) <= kept and 13 not in kept
    assert (t.lon.max() - LON0) / DLON < 1200


def test_osm_relation_missing_or_cut_off(tmp_path: Path) -> None:
    from geoplan.sources.osm_read import relation_polygon

    with pytest.raises(InputDataError, match="relation 78 is not in the OSM extract"):
        relation_polygon((_with_relation(tmp_path),), 78)
    with pytest.raises(InputDataError) as ei:
        relation_polygon((_with_relation(tmp_path, drop_way=True),), 77)
    msg = str(ei.value)
    assert "relation 77 (测试街道) is cut off by the extract's edge" in msg
    assert "1 of 2 member ways" in msg and "\n" not in msg


def test_demo_district_relation_is_reported_cut_off(demo_dir: Path) -> None:
    from geoplan.sources.osm_read import relation_polygon

    files = (demo_dir / "osm" / "wujiaochang-fudan.osm", demo_dir / "osm" / "tongji-siping.osm")
    with pytest.raises(InputDataError, match=r"relation 398350 \(杨浦区\) is cut off"):
        relation_polygon(files, 398350)


def _admin_file(tmp_path: Path) -> Path:
    """The long street with three street boundaries (admin_level 8) along it: west
    (0-1000 m, ref:NBS), middle (1000-2000 m, code from the user table) and a third whose
    member way is missing from the extract."""
    from osmium.osm.mutable import Node, Relation, Way

    src = _long_street(tmp_path)
    out = tmp_path / "admin.osm.pbf"
    xs = {0: -20, 1: 1000, 2: 2000, 3: 3000}
    corners = {}
    for k, e in xs.items():
        corners[9100 + k] = (e, -40)
        corners[9200 + k] = (e, 40)
    with osmium.SimpleWriter(osmium.io.File(str(out), "pbf")) as w:
        for o in osmium.FileProcessor(str(src), osmium.osm.NODE):
            w.add_node(o)
        for nid, (e, n) in corners.items():
            w.add_node(Node(id=nid, location=(LON0 + e * DLON, LAT0 + n * DLAT)))
        for o in osmium.FileProcessor(str(src), osmium.osm.WAY):
            w.add_way(o)
        for k in range(2):
            w.add_way(Way(id=950 + k, nodes=[9100 + k, 9101 + k, 9201 + k, 9200 + k,
                                             9100 + k], tags={}))
        tags = {"type": "boundary", "boundary": "administrative", "admin_level": "8"}
        w.add_relation(Relation(id=81, members=[("w", 950, "outer")],
                                tags={**tags, "name": "西街道", "ref:NBS": "310110001"}))
        w.add_relation(Relation(id=82, members=[("w", 951, "outer")],
                                tags={**tags, "name": "中街道"}))
        w.add_relation(Relation(id=83, members=[("w", 952, "outer")],
                                tags={**tags, "name": "东街道"}))
    return out


def test_areas_from_osm_admin_boundaries(tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    from geoplan.config import Areas

    pbf = _admin_file(tmp_path)
    codes = tmp_path / "codes.csv"
    codes.write_text("code_12,name,admin_level,osm_relation_id\n310110002000,中,8,82\n",
                     encoding="utf-8")
    crs = "EPSG:32651"
    study = gpd_box(_box_m(500, -100, 1500, 100), crs)  # half of west, half of middle
    with caplog.at_level("WARNING"):
        areas = osm.admin_areas(NetworkSource(osm_files=(pbf,)),
                                Areas(source="osm_admin", admin_codes=codes), study, crs)
    assert "relation 83 (东街道)" in caplog.text and "cut off" in caplog.text
    assert areas["code"].tolist() == ["310110001", "310110002000"]
    assert areas["name"].tolist() == ["西街道", "中街道"]
    assert (areas["area_kind"] == "street").all()
    assert areas["street_name"].tolist() == ["西街道", "中街道"]
    assert areas["elderly_60"].isna().all()
    # clipped to the study area: 500 m x 80 m each
    np.testing.assert_allclose(areas.area.to_numpy(), 500 * 80, rtol=0.02)

    with pytest.raises(InputDataError, match="no boundary relation with admin_level=10"):
        osm.admin_areas(NetworkSource(osm_files=(pbf,)),
                        Areas(source="osm_admin", admin_level=10), study, crs)
    far = gpd_box(_box_m(5000, -100, 6000, 100), crs)
    with pytest.raises(InputDataError, match="admin_level=8 lies in the study area") as ei:
        osm.admin_areas(NetworkSource(osm_files=(pbf,)), Areas(source="osm_admin"), far, crs)
    # the advice never suggests the level already given; only level 8 is in the file
    msg = str(ei.value)
    assert "try admin_level 8" not in msg and "try another admin_level" in msg
    assert "(usual: 9 (committees), 10 (committees))" in msg
    with pytest.raises(InputDataError) as ei:
        osm.admin_areas(NetworkSource(osm_files=(pbf,)),
                        Areas(source="osm_admin", admin_level=10), study, crs)
    assert "(present in the files: 8 (streets))" in str(ei.value)


def gpd_box(poly: shapely.Polygon, crs: str) -> shapely.Geometry:
    import geopandas as gpd

    return gpd.GeoSeries([poly], crs=4326).to_crs(crs).iloc[0]


def test_osm_admin_needs_osm_files(tmp_path: Path) -> None:
    from geoplan.config import config_from_dict
    from geoplan.errors import ConfigError

    (tmp_path / "f.csv").write_text("name,lon,lat\nA,121.6,31.3\n", encoding="utf-8")
    base = {"study_area": {"name": "adm"}, "paths": {"data_root": str(tmp_path)},
            "facilities": [{"type": "canteen", "path": "f.csv"}]}
    with pytest.raises(ConfigError, match="reads boundary relations from local"):
        config_from_dict({**base, "network": {"place": "杨浦区"},
                          "areas": {"source": "osm_admin"}}, base_dir=tmp_path)
    (tmp_path / "x.osm.pbf").write_bytes(b"")
    with pytest.raises(ConfigError, match="admin_level = 3"):
        config_from_dict({**base, "network": {"osm_files": ["x.osm.pbf"]},
                          "areas": {"source": "osm_admin", "admin_level": 3}},
                         base_dir=tmp_path)


def test_cli_run_from_pbf_cut_to_boundary(demo_dir: Path, tmp_path: Path) -> None:
    """`geoplan run` on PBF extracts with a study boundary: network cut to it, cached."""
    import pyogrio

    from geoplan.cli import main
    from tests.test_cli_errors import make_config

    xml = (demo_dir / "osm" / "wujiaochang-fudan.osm", demo_dir / "osm" / "tongji-siping.osm")
    pbf = [to_pbf(p, tmp_path / f"{p.stem}.osm.pbf") for p in xml]
    study = shapely.affinity.scale(osm.check_osm_file(xml[0]), 0.6, 0.6)
    bnd = tmp_path / "study.geojson"
    bnd.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(study)}]}))
    cfg = make_config(tmp_path, demo_dir, OSM=", ".join(f'"{p}"' for p in pbf),
                      AREAS="compounds")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        'name = "bad-input"', f'name = "bad-input"\nboundary = "{bnd}"'), encoding="utf-8")
    assert main(["run", str(cfg)]) == 0
    gpkg = next((tmp_path / "out" / "data").glob("*.gpkg"))
    net = pyogrio.read_dataframe(gpkg, layer="walk_network").to_crs(4326)
    whole = xml_net(xml)
    assert 0 < len(net) < whole.n_edges
    buffered = osm.clip_area(NetworkSource(osm_files=tuple(pbf)),
                             osm.StudyCut(boundary=bnd, buffer_m=15 * 60 * 1.0 + 300))
    assert shapely.within(net.geometry.to_numpy(), buffered.buffer(1e-6)).all()
    areas = pyogrio.read_dataframe(gpkg, layer="areas").to_crs(4326)
    assert shapely.intersects(areas.geometry.to_numpy(), study).all()
    # network and buildings are cached for the next run
    cached = list((tmp_path / "out" / "cache").glob("*.pkl"))
    assert any(p.name.startswith("walknet-") for p in cached)
    assert any(p.name.startswith("osmfeatures-") for p in cached)


def test_cli_run_with_osm_admin_areas(demo_dir: Path, tmp_path: Path) -> None:
    """Committee areas from boundary relations of the extract carry the population."""
    import pyogrio
    from osmium.osm.mutable import Node, Relation, Way

    from geoplan.cli import main
    from tests.test_cli_errors import make_config

    src = demo_dir / "osm" / "wujiaochang-fudan.osm"
    box = osm.check_osm_file(src)
    w, s, e, n = box.bounds
    xs = [w + (e - w) * f for f in (0.2, 0.5, 0.8)]
    ys = [s + (n - s) * f for f in (0.2, 0.8)]
    pbf = tmp_path / "wf.osm.pbf"
    with osmium.SimpleWriter(osmium.io.File(str(pbf), "pbf")) as wr:
        for o in osmium.FileProcessor(str(src), osmium.osm.NODE):
            wr.add_node(o)
        for i, x in enumerate(xs):
            for j, y in enumerate(ys):
                wr.add_node(Node(id=-(10 + 2 * i + j), location=(x, y)))
        for o in osmium.FileProcessor(str(src), osmium.osm.WAY):
            wr.add_way(o)
        for k in range(2):  # two committees side by side, one way each
            ring = [-(10 + 2 * k), -(12 + 2 * k), -(13 + 2 * k), -(11 + 2 * k), -(10 + 2 * k)]
            wr.add_way(Way(id=-(100 + k), nodes=ring, tags={}))
        for o in osmium.FileProcessor(str(src), osmium.osm.RELATION):
            wr.add_relation(o)
        for k, name in enumerate(["甲居委会", "乙居委会"]):
            wr.add_relation(Relation(id=-(200 + k), members=[("w", -(100 + k), "outer")],
                                     tags={"type": "boundary", "boundary": "administrative",
                                           "admin_level": "10", "name": name,
                                           "ref": f"31011000{k + 1}"}))
    cfg = make_config(tmp_path, demo_dir, OSM=f'"{pbf}"', AREAS="osm_admin",
                      AREAS_EXTRA="admin_level = 10")
    assert main(["run", str(cfg)]) == 0
    gpkg = next((tmp_path / "out" / "data").glob("*.gpkg"))
    areas = pyogrio.read_dataframe(gpkg, layer="areas")
    assert sorted(areas["code"]) == ["310110001", "310110002"]
    assert sorted(areas["name"]) == ["乙居委会", "甲居委会"]
    assert (areas["elderly_60"] > 0).all()


def test_cli_run_with_study_area_from_osm_relation(demo_dir: Path, tmp_path: Path) -> None:
    """`[study_area] osm_relation`: the study area is the extract's own boundary relation,
    the files are cut to it plus the walking buffer, and the areas lie inside it."""
    import pyogrio
    from osmium.osm.mutable import Node, Relation, Way

    from geoplan.cli import main
    from tests.test_cli_errors import make_config

    src = demo_dir / "osm" / "wujiaochang-fudan.osm"
    w, s, e, n = osm.check_osm_file(src).bounds
    corners = [(w + (e - w) * fx, s + (n - s) * fy)
               for fx, fy in ((0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75))]
    pbf = tmp_path / "wf.osm.pbf"
    with osmium.SimpleWriter(osmium.io.File(str(pbf), "pbf")) as wr:
        for o in osmium.FileProcessor(str(src), osmium.osm.NODE):
            wr.add_node(o)
        for i, xy in enumerate(corners):
            wr.add_node(Node(id=-(10 + i), location=xy))
        for o in osmium.FileProcessor(str(src), osmium.osm.WAY):
            wr.add_way(o)
        wr.add_way(Way(id=-100, nodes=[-10, -11, -12, -13, -10], tags={}))
        for o in osmium.FileProcessor(str(src), osmium.osm.RELATION):
            wr.add_relation(o)
        wr.add_relation(Relation(id=-300, members=[("w", -100, "outer")],
                                 tags={"type": "boundary", "boundary": "administrative",
                                       "admin_level": "8", "name": "测试街道"}))
    cfg = make_config(tmp_path, demo_dir, OSM=f'"{pbf}"', AREAS="compounds")
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        'name = "bad-input"', 'name = "bad-input"\nosm_relation = -300'), encoding="utf-8")
    assert main(["run", str(cfg)]) == 0
    gpkg = next((tmp_path / "out" / "data").glob("*.gpkg"))
    study = shapely.Polygon(corners)
    net = pyogrio.read_dataframe(gpkg, layer="walk_network").to_crs(4326)
    cut = osm.clip_area(NetworkSource(osm_files=(pbf,)),
                        osm.StudyCut(osm_relation=-300, buffer_m=15 * 60 * 1.0 + 300))
    assert shapely.equals_exact(shapely.normalize(osm.configured_boundary(
        NetworkSource(osm_files=(pbf,)), osm.StudyCut(osm_relation=-300))),
        shapely.normalize(study), 1e-6)
    assert shapely.within(net.geometry.to_numpy(), cut.buffer(1e-6)).all()
    whole = xml_net((src,))
    assert 0 < len(net) < whole.n_edges
    areas = pyogrio.read_dataframe(gpkg, layer="areas").to_crs(4326)
    assert len(areas) and shapely.intersects(areas.geometry.to_numpy(), study).all()


def test_negative_ids_as_josm_saves_them(tmp_path: Path) -> None:
    """Objects not yet uploaded have negative ids (JOSM); libosmium's location index
    holds positive ids only, so their coordinates are read apart: same network as osmnx,
    whether the negative-id ways lie inside the cut or not."""
    import re

    p = _random_city(tmp_path / "pos.osm", 5, crossings=True)
    text = p.read_text(encoding="utf-8")
    # every third node and way becomes new (negative id), in definitions and references
    neg = re.sub(r'((?:node|way) id|ref)="(\d+)"',
                 lambda m: f'{m[1]}="-{m[2]}"' if int(m[2]) % 3 == 0 else m[0], text)
    q = tmp_path / "josm.osm"
    q.write_text(neg, encoding="utf-8")
    assert 'ref="-' in neg and 'way id="-' in neg
    ref, net = xml_net((q,), delay=30.0), array_net((q,), delay=30.0)
    assert_same_network(ref, net)
    assert_same_report(ref, net)
    assert (net.nodes["osmid"] < 0).any()
    clip = shapely.box(LON0 - 1e-4, LAT0 - 1e-4, LON0 + 130 * DLON, LAT0 + 130 * DLAT)
    cut = read_osm((q,), clip)
    assert (cut.node_id < 0).any() and len(cut.node_id) < len(read_osm((q,)).node_id)
    inside = shapely.contains_xy(clip, cut.lon, cut.lat) | shapely.intersects_xy(
        clip, cut.lon, cut.lat)
    assert inside.all()


def test_large_inputs_keep_the_location_index_on_disk(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the in-memory size the node locations go to a memory-mapped temporary file:
    the same tables, from two adjoining files that share nodes."""
    from geoplan.sources import osm_read

    p = _random_city(tmp_path / "a.osm", 7, crossings=True)
    files = (to_pbf(p, tmp_path / "a.osm.pbf"), p)
    mem = read_osm(files)
    monkeypatch.setattr(osm_read, "_INDEX_IN_MEMORY_MAX", 0)
    disk = read_osm(files)
    for name in ("node_id", "lon", "lat", "way_id", "way_offsets", "refs", "tag_node_id"):
        assert np.array_equal(getattr(mem, name), getattr(disk, name)), name
    assert mem.feature_elements() == disk.feature_elements()
    assert_same_network(xml_net((p,)), array_net(files))


@pytest.mark.parametrize("cut", [False, True])
def test_ways_kept_the_same_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          cut: bool) -> None:
    """Ways are filtered in chunks of node references: tiny chunks give the same tables."""
    from geoplan.sources import osm_read

    p = to_pbf(_random_city(tmp_path / "k.osm", 11, crossings=True), tmp_path / "k.osm.pbf")
    clip = _box_m(-10, -10, 200, 170) if cut else None
    whole = read_osm((p,), clip)
    monkeypatch.setattr(osm_read, "_CHUNK_REFS", 5)
    chunked = read_osm((p,), clip)
    for name in ("node_id", "lon", "lat", "way_id", "way_offsets", "refs", "tag_node_id"):
        assert np.array_equal(getattr(whole, name), getattr(chunked, name)), name
    assert whole.way_tags.equals(chunked.way_tags)
    assert whole.feature_elements() == chunked.feature_elements()
    if cut:
        assert 0 < len(whole.way_id) < len(read_osm((p,)).way_id)
