"""Tests for street-space isochrones (geoplan.reach.isochrones).

Node times are computed here independently with networkx (a virtual source node joined
to the two ends of its edge), and expected reached lengths are worked out by hand or by
a scalar re-implementation of the arrival-time definition.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from scipy.sparse import csr_matrix

from geoplan.network.snapping import SnappedPoints, snap_points
from geoplan.network.walkgraph import WalkNetwork
from geoplan.reach.isochrones import isochrones, merge_isochrones, reached_edge_segments

CRS = "EPSG:32651"


def make_network(xy: list[tuple[float, float]],
                 edges: list[tuple[int, int, list[tuple[float, float]], float]]) -> WalkNetwork:
    """Network from node coordinates and ``(u, v, coords, time_s)`` edges."""
    xy_a = np.asarray(xy, dtype=float)
    nodes = gpd.GeoDataFrame({"osmid": np.arange(len(xy)), "x": xy_a[:, 0], "y": xy_a[:, 1]},
                             geometry=shapely.points(xy_a), crs=CRS)
    geoms = [shapely.LineString(c) for _, _, c, _ in edges]
    frame = gpd.GeoDataFrame(
        {"u": [e[0] for e in edges], "v": [e[1] for e in edges],
         "length_m": shapely.length(geoms), "time_s": [float(e[3]) for e in edges],
         "highway": "footway"},
        geometry=geoms, crs=CRS)
    return WalkNetwork(nodes=nodes, edges=frame, crs=nodes.crs)


def nx_node_times(network: WalkNetwork, pts: SnappedPoints,
                  cutoff: float) -> tuple[csr_matrix, list[dict[int, float]]]:
    """Node times by networkx Dijkstra; csr with explicitly stored zeros."""
    g = nx.Graph()
    for u, v, t in zip(*network.edge_arrays(), strict=True):
        u, v = int(u), int(v)
        if not g.has_edge(u, v) or g[u][v]["weight"] > t:
            g.add_edge(u, v, weight=float(t))
    rows, cols, data, dicts = [], [], [], []
    for s in range(len(pts)):
        h = g.copy()
        h.add_edge("src", int(pts.u[s]), weight=float(pts.t_u[s]))
        h.add_edge("src", int(pts.v[s]), weight=float(pts.t_v[s]))
        if pts.u[s] == pts.v[s]:  # loop edge: keep the shorter way to its node
            h["src"][int(pts.u[s])]["weight"] = float(min(pts.t_u[s], pts.t_v[s]))
        dist = nx.single_source_dijkstra_path_length(h, "src", cutoff=cutoff)
        dist.pop("src")
        dicts.append(dist)
        for node, t in sorted(dist.items()):
            rows.append(s)
            cols.append(node)
            data.append(t)
    mat = csr_matrix((np.asarray(data, dtype=float), (rows, cols)),
                     shape=(len(pts), network.n_nodes))
    assert mat.nnz == len(data)  # explicit zeros kept
    return mat, dicts


def reached_fraction(t_u: float, t_v: float, tau: float, T: float,
                     own: tuple[float, float] | None) -> float:
    """Measure of ``{x in [0,1]: arrival(x) <= T}`` by testing every elementary piece.

    ``arrival(x) = min(t_u + x tau, t_v + (1 - x) tau, o + |x - f| tau)`` (the last term
    only on the source's own edge, ``own = (f, o)``). Between consecutive candidate
    breakpoints the set is all in or all out, so testing the midpoint is exact.
    """

    def arrival(x: float) -> float:
        t = min(t_u + x * tau, t_v + (1 - x) * tau)
        if own is not None:
            t = min(t, own[1] + abs(x - own[0]) * tau)
        return t

    cands = [0.0, 1.0, (T - t_u) / tau, 1 - (T - t_v) / tau]
    if own is not None:
        r = (T - own[1]) / tau
        cands += [own[0], own[0] - r, own[0] + r]
    cands = sorted({min(max(c, 0.0), 1.0) for c in cands if np.isfinite(c)})
    total = 0.0
    for a, b in itertools.pairwise(cands):
        if b > a and arrival((a + b) / 2) <= T:
            total += b - a
    return total


def segments_by_edge(network: WalkNetwork, segs: np.ndarray) -> dict[int, list]:
    """Map each segment to the edge that covers it (for assertions)."""
    out: dict[int, list] = {}
    for seg in segs:
        mid = shapely.line_interpolate_point(seg, 0.5, normalized=True)
        e = int(np.argmin(shapely.distance(network.edges.geometry.values, mid)))
        out.setdefault(e, []).append(seg)
    return out


@pytest.fixture
def line_net() -> WalkNetwork:
    """0 --e0-- 1 --e1-- 2 --e2-- 3 on the x axis at 0, 100, 200, 300 m.

    e0 has inner vertices, e1 runs backwards (u=2, v=1), e2 has a time penalty
    (200 s for 100 m). Speed is otherwise 1 m/s.
    """
    return make_network(
        [(0, 0), (100, 0), (200, 0), (300, 0)],
        [(0, 1, [(0, 0), (20, 0), (50, 0), (80, 0), (100, 0)], 100.0),
         (2, 1, [(200, 0), (100, 0)], 100.0),
         (2, 3, [(200, 0), (250, 0), (300, 0)], 200.0)])


def test_line_graph_cut_points(line_net: WalkNetwork) -> None:
    pts = snap_points(line_net, np.array([shapely.Point(130, 5)]), speed_mps=1.0)
    assert pts.edge[0] == 1 and pts.frac[0] == pytest.approx(0.7) and pts.off_s[0] == 5
    nt, _ = nx_node_times(line_net, pts, 300)
    # T = 100: 95 s left at x=130 -> x in [35, 200] on e0/e1, then 25 s on e2 at 0.5 m/s.
    src, segs = reached_edge_segments(line_net, pts, nt, 100.0)
    assert np.all(src == 0)
    by_edge = segments_by_edge(line_net, segs)
    assert sorted(by_edge) == [0, 1, 2]
    assert [len(v) for v in by_edge.values()] == [1, 1, 1]
    np.testing.assert_allclose(shapely.get_coordinates(by_edge[0][0]),
                               [[35, 0], [50, 0], [80, 0], [100, 0]], atol=1e-9)
    assert by_edge[1][0].equals(line_net.edges.geometry.iloc[1])  # whole edge
    np.testing.assert_allclose(shapely.get_coordinates(by_edge[2][0]),
                               [[200, 0], [212.5, 0]], atol=1e-9)
    assert shapely.length(segs).sum() == pytest.approx(65 + 100 + 12.5)

    # T = 50: 45 s each way from x=130 -> [85, 175]; node 2 (75 s) not reached.
    src, segs = reached_edge_segments(line_net, pts, nt, 50.0)
    by_edge = segments_by_edge(line_net, segs)
    assert sorted(by_edge) == [0, 1]
    assert shapely.length(by_edge[0][0]) == pytest.approx(15)
    assert shapely.length(by_edge[1][0]) == pytest.approx(75)
    xs = shapely.get_coordinates(segs)[:, 0]
    assert xs.min() == pytest.approx(85) and xs.max() == pytest.approx(175)


def test_only_own_edge_piece(line_net: WalkNetwork) -> None:
    pts = snap_points(line_net, np.array([shapely.Point(130, 5)]), speed_mps=1.0)
    nt, _ = nx_node_times(line_net, pts, 300)  # stores nodes far beyond T
    # T = 20: 15 s each way from x=130, both end nodes (35 s, 75 s) out of reach.
    src, segs = reached_edge_segments(line_net, pts, nt, 20.0)
    assert len(segs) == 1 and src.tolist() == [0]
    xs = np.sort(shapely.get_coordinates(segs[0])[:, 0])
    np.testing.assert_allclose(xs, [115, 145], atol=1e-9)
    iso = isochrones(line_net, pts, nt, [20.0], walk_in_m=10)
    # a 30 m stadium of radius 10 (polygonal round caps are slightly smaller)
    assert iso.geometry.iloc[0].area == pytest.approx(30 * 20 + np.pi * 100, rel=0.02)


def test_explicit_zero_time_node_is_reached(line_net: WalkNetwork) -> None:
    # Source exactly on node 1: attached to e0 at frac 1 with no off-network time.
    pts = snap_points(line_net, np.array([shapely.Point(100, 0)]), speed_mps=1.0)
    assert pts.edge[0] == 0 and pts.frac[0] == 1.0 and pts.off_s[0] == 0.0
    nt, _ = nx_node_times(line_net, pts, 300)
    assert np.sum(nt.data == 0.0) == 1  # node 1 stored with time 0
    _src, segs = reached_edge_segments(line_net, pts, nt, 50.0)
    by_edge = segments_by_edge(line_net, segs)
    assert sorted(by_edge) == [0, 1]  # e1 is reached only through node 1 (time 0)
    xs = shapely.get_coordinates(segs)[:, 0]
    assert xs.min() == pytest.approx(50) and xs.max() == pytest.approx(150)
    assert shapely.length(segs).sum() == pytest.approx(100)


def test_edge_reached_from_both_ends() -> None:
    # Triangle 0-1-2; the slow bent edge 1-2 (300 s, 200 m through (100, 100)).
    net = make_network([(0, 0), (100, 0), (0, 100)],
                       [(0, 1, [(0, 0), (100, 0)], 100.0),
                        (0, 2, [(0, 0), (0, 100)], 100.0),
                        (1, 2, [(100, 0), (100, 100), (0, 100)], 300.0)])
    pts = snap_points(net, np.array([shapely.Point(0, 0)]), speed_mps=1.0)
    nt, _ = nx_node_times(net, pts, 1000)
    # T = 240: 140 s from each end -> 140/300 of 200 m from each end, middle unreached.
    _, segs = reached_edge_segments(net, pts, nt, 240.0)
    pieces = segments_by_edge(net, segs)[2]
    assert len(pieces) == 2
    np.testing.assert_allclose(shapely.length(pieces), [200 * 140 / 300] * 2)
    ends = np.sort(np.vstack([shapely.get_coordinates(p) for p in pieces]), axis=0)
    np.testing.assert_allclose(ends, np.sort([[100, 0], [100, 93.333333333],
                                              [93.333333333, 100], [0, 100]], axis=0))
    # T = 250: (t_u + t_v + tau) / 2 = 250 -> the pieces touch and give the whole edge.
    _, segs = reached_edge_segments(net, pts, nt, 250.0)
    pieces = segments_by_edge(net, segs)[2]
    assert len(pieces) == 1 and pieces[0].equals(net.edges.geometry.iloc[2])
    # T = 260: a piece running past the inner vertex (100, 100) keeps it.
    net2 = make_network([(0, 0), (100, 0), (0, 100)],
                        [(0, 1, [(0, 0), (100, 0)], 100.0),
                         (0, 2, [(0, 0), (0, 100)], 500.0),
                         (1, 2, [(100, 0), (100, 100), (0, 100)], 300.0)])
    nt2, _ = nx_node_times(net2, pts, 1000)
    _, segs = reached_edge_segments(net2, pts, nt2, 260.0)
    piece = segments_by_edge(net2, segs)[2]
    assert len(piece) == 1
    np.testing.assert_allclose(shapely.get_coordinates(piece[0]),
                               [[100, 0], [100, 100], [100 - 200 * 160 / 300 + 100, 100]])


def grid_network(n: int, spacing: float, seed: int) -> WalkNetwork:
    """n x n grid, edge times = length / 1.2 m/s times a random penalty in [1, 1.5]."""
    rng = np.random.default_rng(seed)
    xy = [(j * spacing, i * spacing) for i in range(n) for j in range(n)]
    edges = []
    for i in range(n):
        for j in range(n):
            a = i * n + j
            if j + 1 < n:
                edges.append((a, a + 1, [xy[a], xy[a + 1]], spacing / 1.2 * rng.uniform(1, 1.5)))
            if i + 1 < n:
                # vertical edges drawn from the upper node down, with a middle vertex
                b = a + n
                mid = (xy[a][0], xy[a][1] + spacing / 2)
                edges.append((b, a, [xy[b], mid, xy[a]], spacing / 1.2 * rng.uniform(1, 1.5)))
    return make_network(xy, edges)


@pytest.fixture(scope="module")
def grid_case() -> tuple[WalkNetwork, SnappedPoints, csr_matrix, list[dict[int, float]]]:
    net = grid_network(7, 100.0, seed=3)
    points = np.array([shapely.Point(237, 12), shapely.Point(310, 460), shapely.Point(598, 55),
                       shapely.Point(400, 300)])
    pts = snap_points(net, points, speed_mps=1.2)
    nt, dicts = nx_node_times(net, pts, 600)
    return net, pts, nt, dicts


@pytest.mark.parametrize("T", [60.0, 150.0, 300.0, 600.0])
def test_grid_reached_length_matches_independent_sum(grid_case, T: float) -> None:
    net, pts, nt, dicts = grid_case
    src, segs = reached_edge_segments(net, pts, nt, T)
    got = np.bincount(src, weights=shapely.length(segs), minlength=len(pts))
    u, v, tau = net.edge_arrays()
    glen = shapely.length(net.edges.geometry.values)
    for s in range(len(pts)):
        expected = 0.0
        for e in range(net.n_edges):
            own = (float(pts.frac[s]), float(pts.off_s[s])) if e == pts.edge[s] else None
            t_u = dicts[s].get(int(u[e]), np.inf)
            t_v = dicts[s].get(int(v[e]), np.inf)
            expected += glen[e] * reached_fraction(t_u, t_v, float(tau[e]), T, own)
        assert expected > 0
        assert got[s] == pytest.approx(expected, rel=1e-9, abs=1e-6)
    # No overlapping pieces: the union of the segments is as long as their sum.
    for s in range(len(pts)):
        mine = segs[src == s]
        assert shapely.union_all(mine).length == pytest.approx(shapely.length(mine).sum())


def test_polygons_nested_and_contain_source(grid_case) -> None:
    net, pts, nt, _ = grid_case
    points = np.array([shapely.Point(237, 12), shapely.Point(310, 460),
                       shapely.Point(598, 55), shapely.Point(400, 300)])
    ids = ["a", "b", "c", "d"]
    iso = isochrones(net, pts, nt, [600, 150, 300], walk_in_m=40, source_ids=ids)
    assert list(iso.columns) == ["source", "threshold_s", "threshold_min", "geometry"]
    assert iso.crs == net.crs
    assert iso["source"].tolist() == [i for i in ids for _ in range(3)]
    assert iso["threshold_s"].tolist() == [150.0, 300.0, 600.0] * 4
    np.testing.assert_allclose(iso["threshold_min"], iso["threshold_s"] / 60)
    for k, sid in enumerate(ids):
        rows = iso[iso["source"] == sid].geometry.tolist()
        assert all(g.geom_type in ("Polygon", "MultiPolygon") and g.is_valid for g in rows)
        assert all(g.area > 0 and g.contains(points[k]) for g in rows)
        for small, big in itertools.pairwise(rows):
            assert big.covers(small)
            assert small.difference(big).area < 1e-6
            assert big.area > small.area
        # The polygon is the walk-in buffer of the reached street space, no more.
        for T, poly in zip([150.0, 300.0, 600.0], rows, strict=True):
            src, segs = reached_edge_segments(net, pts, nt, T)
            street = shapely.union_all(segs[src == k])
            assert poly.covers(street)
            assert street.buffer(40.5).covers(poly)
            assert poly.area == pytest.approx(street.buffer(40, quad_segs=16).area, rel=0.01)


def test_merge_equals_union_of_members(grid_case) -> None:
    net, pts, nt, _ = grid_case
    iso = isochrones(net, pts, nt, [150, 300])
    types = np.array(["canteen", "daycare", "canteen", "daycare"])
    merged = merge_isochrones(iso, types)
    assert list(merged.columns) == ["group", "threshold_s", "threshold_min", "geometry"]
    assert merged["group"].tolist() == ["canteen", "canteen", "daycare", "daycare"]
    assert merged["threshold_min"].tolist() == [2.5, 5.0, 2.5, 5.0]
    for row in merged.itertuples():
        members = iso[(types[iso["source"].to_numpy()] == row.group)
                      & (iso["threshold_s"] == row.threshold_s)]
        assert len(members) == 2
        expected = members.geometry.iloc[0].union(members.geometry.iloc[1])
        assert row.geometry.symmetric_difference(expected).area < 1e-6 * expected.area
    # Per-row groups and a column name give the same result.
    per_row = merge_isochrones(iso, types[iso["source"].to_numpy()])
    iso2 = iso.assign(kind=types[iso["source"].to_numpy()])
    by_col = merge_isochrones(iso2, "kind")
    for other in (per_row, by_col):
        assert other["group"].tolist() == merged["group"].tolist()
        assert all(a.equals(b) for a, b in zip(other.geometry, merged.geometry, strict=True))
    with pytest.raises(ValueError, match="groups"):
        merge_isochrones(iso, ["x", "y", "z"])


def test_empty_when_threshold_below_off_network_time(line_net: WalkNetwork) -> None:
    # 30 m off the street at 1 m/s: a 20 s budget never reaches the street.
    pts = snap_points(line_net, np.array([shapely.Point(130, 30), shapely.Point(130, 1)]),
                      speed_mps=1.0)
    nt, _ = nx_node_times(line_net, pts, 300)
    src, segs = reached_edge_segments(line_net, pts, nt, 20.0)
    assert src.tolist() == [1]
    iso = isochrones(line_net, pts, nt, [20.0, 60.0], walk_in_m=40)
    g = iso.geometry.tolist()
    assert g[0].is_empty and g[0].geom_type == "Polygon"
    assert not g[1].is_empty and not g[2].is_empty and not g[3].is_empty
    merged = merge_isochrones(iso, ["x", "y"])
    assert merged.geometry.iloc[0].is_empty and merged.geometry.iloc[0].geom_type == "Polygon"
    # No sources at all.
    none = pts.subset(np.zeros(2, dtype=bool))
    src, segs = reached_edge_segments(line_net, none, csr_matrix((0, 4)), 60.0)
    assert len(src) == 0 and len(segs) == 0
    assert len(isochrones(line_net, none, csr_matrix((0, 4)), [60.0])) == 0


def test_bad_input(line_net: WalkNetwork) -> None:
    pts = snap_points(line_net, np.array([shapely.Point(130, 5)]), speed_mps=1.0)
    with pytest.raises(ValueError, match="shape"):
        reached_edge_segments(line_net, pts, csr_matrix((1, 3)), 60.0)
    with pytest.raises(ValueError, match="walk_in_m"):
        isochrones(line_net, pts, csr_matrix((1, 4)), [60.0], walk_in_m=0)
    with pytest.raises(ValueError, match="source_ids"):
        isochrones(line_net, pts, csr_matrix((1, 4)), [60.0], source_ids=["a", "b"])


def reference_isochrones(net: WalkNetwork, pts: SnappedPoints, nt: csr_matrix,
                         thresholds: list[float], walk_in_m: float) -> np.ndarray:
    """From scratch per (source, threshold): union of the buffers of every reached piece."""
    out = np.empty((len(pts), len(thresholds)), dtype=object)
    for k, T in enumerate(sorted(thresholds)):
        src, segs = reached_edge_segments(net, pts, nt, T)
        for s in range(len(pts)):
            mine = segs[src == s]
            out[s, k] = (shapely.union_all(shapely.buffer(mine, walk_in_m, quad_segs=4))
                         if len(mine) else shapely.Polygon())
    return out


def test_incremental_isochrones_equal_reference() -> None:
    # Seeded grid with random edge times and random sources; many sources share edges.
    net = grid_network(12, 80.0, seed=11)
    rng = np.random.default_rng(5)
    points = shapely.points(rng.uniform(-20, 900, size=(15, 2)))
    pts = snap_points(net, points, speed_mps=1.2)
    thresholds = [90.0, 240.0, 420.0, 600.0]
    nt, _ = nx_node_times(net, pts, max(thresholds))
    iso = isochrones(net, pts, nt, thresholds[::-1], walk_in_m=40.0)
    got = np.asarray(iso.geometry.values, dtype=object).reshape(len(pts), len(thresholds))
    ref = reference_isochrones(net, pts, nt, thresholds, 40.0)
    a_got, a_ref = shapely.area(got), shapely.area(ref)
    assert (a_ref > 0).sum() > len(pts)  # not a vacuous comparison
    np.testing.assert_allclose(a_got, a_ref, rtol=1e-6, atol=1e-6)
    sym = shapely.area(shapely.symmetric_difference(got, ref))
    assert sym.max() <= 1e-6 * max(a_ref.max(), 1.0)
    # Nested: each larger threshold's polygon covers the smaller one.
    for k in range(len(thresholds) - 1):
        assert shapely.area(shapely.difference(got[:, k], got[:, k + 1])).max() < 1e-6
    # Deterministic: the same bytes on a second run, on one thread or several.
    for threads in (1, 3):
        again = isochrones(net, pts, nt, thresholds[::-1], walk_in_m=40.0, threads=threads)
        assert (shapely.to_wkb(again.geometry.values)
                == shapely.to_wkb(iso.geometry.values)).all()
