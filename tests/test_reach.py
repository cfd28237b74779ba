"""Reach engine against networkx Dijkstra (hand-built, random and the real demo graph)."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS
from geoplan.network.snapping import SnappedPoints
from geoplan.network.walkgraph import build_walk_network
from geoplan.reach.csr import ReachGraph
from geoplan.reach.engine import nearest_time, node_reach, point_reach
from geoplan.sources.osm import graph_from_osm_files


def _points(u, v, w, edge, frac, off) -> SnappedPoints:
    edge = np.asarray(edge, dtype=np.int64)
    return SnappedPoints(edge=edge, u=np.asarray(u)[edge].astype(np.int64),
                         v=np.asarray(v)[edge].astype(np.int64),
                         frac=np.asarray(frac, dtype=float), off_m=np.asarray(off, dtype=float),
                         off_s=np.asarray(off, dtype=float),
                         edge_time=np.asarray(w, dtype=float)[edge])


def _random_graph(rng: np.random.Generator, n: int, m: int):
    u = rng.integers(0, n, m)
    v = rng.integers(0, n, m)
    w = rng.uniform(1, 100, m).round(1)  # includes parallel edges and self-loops
    return u, v, w


def _nx_graph(u, v, w, n) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for a, b, c in zip(u, v, w, strict=True):
        if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > c):
            g.add_edge(int(a), int(b), weight=float(c))
    return g


def _augmented(u, v, w, n, pts: dict[str, SnappedPoints]) -> nx.Graph:
    """Independent model: every point splits its edge and hangs off it by its offset."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    on_edge: dict[int, list[tuple[float, object]]] = {}
    for name, p in pts.items():
        for i in range(len(p)):
            att = (name, i, "att")
            g.add_edge((name, i), att, weight=float(p.off_s[i]))
            on_edge.setdefault(int(p.edge[i]), []).append((float(p.frac[i]), att))
    for e, (a, b, c) in enumerate(zip(u, v, w, strict=True)):
        if a == b and e not in on_edge:
            continue
        chain = [(0.0, int(a)), *sorted(on_edge.get(e, []), key=lambda x: x[0]),
                 (1.0, int(b))]
        for (f0, n0), (f1, n1) in itertools.pairwise(chain):
            wt = (f1 - f0) * c
            if n0 == n1:
                continue
            if not g.has_edge(n0, n1) or g[n0][n1]["weight"] > wt:
                g.add_edge(n0, n1, weight=wt)
    return g


def test_hand_checked_path() -> None:
    # 0 -10- 1 -20- 2 -30- 3 ; a source 25 % along edge 1 (1->2) with 2 s off-network
    u, v, w = np.array([0, 1, 2]), np.array([1, 2, 3]), np.array([10.0, 20.0, 30.0])
    g = ReachGraph.from_edges(u, v, w, 4)
    src = _points(u, v, w, [1], [0.25], [2.0])
    r = node_reach(g, src, 40.0).toarray()
    # to node 1: 2 + 5 = 7; node 2: 2 + 15 = 17; node 0: 17; node 3: 47 > 40 (not reached)
    assert r[0].tolist() == [17.0, 7.0, 17.0, 0.0]
    assert sorted(node_reach(g, src, 40.0).indices.tolist()) == [0, 1, 2]
    # targets: one on the same edge at 75 % with 1 s off (direct: 2 + 10 + 1 = 13),
    # one on edge 2 at 50 % (17 + 15 = 32)
    tgt = _points(u, v, w, [1, 2], [0.75, 0.5], [1.0, 0.0])
    pr = point_reach(g, src, tgt, 40.0).toarray()
    assert pr[0].tolist() == [13.0, 32.0]
    t, near = nearest_time(g, src, tgt, 30.0)
    assert t[0] == 13.0 and near[0] == 0 and np.isinf(t[1]) and near[1] == -1


def test_explicit_zero_kept() -> None:
    u, v, w = np.array([0]), np.array([1]), np.array([10.0])
    g = ReachGraph.from_edges(u, v, w, 2)
    r = node_reach(g, _points(u, v, w, [0], [0.0], [0.0]), 5.0)
    assert r.indices.tolist() == [0] and r.data.tolist() == [0.0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_node_reach_matches_networkx(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 300, 900
    u, v, w = _random_graph(rng, n, m)
    g = ReachGraph.from_edges(u, v, w, n)
    src = _points(u, v, w, rng.integers(0, m, 40), rng.random(40), rng.uniform(0, 5, 40))
    cutoff = float(rng.uniform(50, 200))
    r = node_reach(g, src, cutoff, threads=2)
    gx = _nx_graph(u, v, w, n)
    for s in range(len(src)):
        gx.add_edge("S", int(src.u[s]), weight=float(src.t_u[s]))
        if src.v[s] != src.u[s]:
            gx.add_edge("S", int(src.v[s]), weight=float(src.t_v[s]))
        else:
            gx["S"][int(src.u[s])]["weight"] = float(min(src.t_u[s], src.t_v[s]))
        ref = nx.single_source_dijkstra_path_length(gx, "S", cutoff=cutoff, weight="weight")
        gx.remove_node("S")
        ref.pop("S")
        row = r.getrow(s)
        got = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        assert got.keys() == ref.keys()
        for k, val in ref.items():
            assert got[k] == pytest.approx(val, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("seed", [4, 5])
def test_point_reach_and_nearest_match_augmented_networkx(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 120, 300
    u, v, w = _random_graph(rng, n, m)
    g = ReachGraph.from_edges(u, v, w, n)
    ns, nt = 15, 200
    src_edges = rng.integers(0, m, ns)
    # half of the targets share an edge with a source, to exercise the direct walk
    tgt_edges = np.where(rng.random(nt) < 0.5, rng.choice(src_edges, nt), rng.integers(0, m, nt))
    src = _points(u, v, w, src_edges, rng.random(ns), rng.uniform(0, 5, ns))
    tgt = _points(u, v, w, tgt_edges, rng.random(nt), rng.uniform(0, 5, nt))
    cutoff = 150.0
    pr = point_reach(g, src, tgt, cutoff).toarray()
    mask = point_reach(g, src, tgt, cutoff)
    aug = _augmented(u, v, w, n, {"s": src, "t": tgt})
    for s in range(ns):
        ref = nx.single_source_dijkstra_path_length(aug, ("s", s), cutoff=cutoff)
        row = mask.getrow(s)
        expected = {k[1] for k in ref if isinstance(k, tuple) and len(k) == 2 and k[0] == "t"}
        assert set(row.indices.tolist()) == expected
        for t in row.indices:
            assert pr[s, t] == pytest.approx(ref[("t", int(t))], rel=1e-12, abs=1e-9)
    times, near = nearest_time(g, src, tgt, cutoff)
    dense = np.full((ns, nt), np.inf)
    for s in range(ns):
        row = mask.getrow(s)
        dense[s, row.indices] = row.data
    fin = np.isfinite(times)
    assert np.allclose(times[fin], dense.min(axis=0)[fin], rtol=1e-12, atol=1e-9)
    assert (np.isinf(times) == np.isinf(dense.min(axis=0))).all()
    assert (dense[near[fin], np.flatnonzero(fin)] <= times[fin] + 1e-9).all()


def test_real_demo_graph_matches_networkx(demo_dir: Path) -> None:
    raw = graph_from_osm_files((demo_dir / "osm" / "wujiaochang-fudan.osm",
                                demo_dir / "osm" / "tongji-siping.osm"))
    net = build_walk_network(raw, 1.0, 2.0, DEFAULT_WALKABLE_HIGHWAYS)
    u, v, w = net.edge_arrays()
    g = ReachGraph.from_network(net)
    gx = _nx_graph(u, v, w, net.n_nodes)
    rng = np.random.default_rng(42)
    nodes = rng.choice(net.n_nodes, 50, replace=False)
    # sources exactly on nodes: the first edge at each node, at its u or v end
    first_edge = {}
    for e, (a, b) in enumerate(zip(u, v, strict=True)):
        first_edge.setdefault(int(a), (e, 0.0))
        first_edge.setdefault(int(b), (e, 1.0))
    edges = np.array([first_edge[int(x)][0] for x in nodes])
    fracs = np.array([first_edge[int(x)][1] for x in nodes])
    src = _points(u, v, w, edges, fracs, np.zeros(50))
    r = node_reach(g, src, 900.0)
    for s, x in enumerate(nodes):
        ref = nx.single_source_dijkstra_path_length(gx, int(x), cutoff=900.0)
        row = r.getrow(s)
        got = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        assert got.keys() == ref.keys()
        assert np.allclose([got[k] for k in ref], list(ref.values()), rtol=1e-9, atol=1e-9)
