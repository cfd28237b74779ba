"""Seeded property test: the reach engine against scipy's bounded Dijkstra.

Random graphs with zero-length edges, many equal times (integer weights), parallel edges,
self-loops and disconnected parts; the engine must give exactly the pairs and the times
of ``scipy.sparse.csgraph.dijkstra(limit=...)``, whatever its bucket width, entry pool
size or thread count (those set only speed).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.csgraph as csg

from geoplan.network.snapping import SnappedPoints
from geoplan.reach import engine
from geoplan.reach.csr import ReachGraph
from geoplan.reach.engine import node_reach, point_reach


def _graph(rng: np.random.Generator, n: int, m: int, integer: bool):
    """Two disconnected random parts plus isolated nodes; 15 % of edges of length 0."""
    half = n // 2
    u = np.concatenate([rng.integers(0, half - 5, m // 2), rng.integers(half, n, m - m // 2)])
    v = np.concatenate([rng.integers(0, half - 5, m // 2), rng.integers(half, n, m - m // 2)])
    w = rng.integers(0, 6, m).astype(float) if integer else rng.uniform(0, 30, m).round(2)
    w[rng.random(m) < 0.15] = 0.0
    return u, v, w


def _node_points(u, v, w, nodes) -> SnappedPoints:
    """Points exactly on the given nodes (frac 0 on an incident edge, no offset)."""
    n = int(max(u.max(), v.max())) + 1
    at = np.full(n, -1, dtype=np.int64)
    at[u[::-1]] = np.arange(len(u))[::-1]
    e = at[nodes]
    assert (e >= 0).all()
    return SnappedPoints(edge=e, u=u[e].astype(np.int64), v=v[e].astype(np.int64),
                         frac=np.zeros(len(e)), off_m=np.zeros(len(e)), off_s=np.zeros(len(e)),
                         edge_time=w[e].astype(float))


def _check(r, ref: np.ndarray) -> None:
    dense = np.full(r.shape, np.inf)
    rows = np.repeat(np.arange(r.shape[0]), np.diff(r.indptr))
    dense[rows, r.indices] = r.data  # explicit zeros are reached nodes
    assert len(set(zip(rows.tolist(), r.indices.tolist(), strict=True))) == r.nnz
    np.testing.assert_array_equal(np.isfinite(dense), np.isfinite(ref))
    np.testing.assert_array_equal(dense, ref)  # bit-identical: same least float sums


def _widths(monkeypatch: pytest.MonkeyPatch, variant: str) -> None:
    if variant == "one_bucket":  # everything label-corrected in one bucket
        monkeypatch.setattr(engine, "_buckets", lambda g, c: (0.0, 1))
    elif variant == "fine_clamped":  # tiny buckets, most times clamped into the last one
        monkeypatch.setattr(engine, "_buckets", lambda g, c: (1000.0, 50))
    elif variant == "tiny_pool":  # the entry pool must grow, searches are retried
        monkeypatch.setattr(engine, "_pool_size", lambda g: 1)


@pytest.mark.parametrize("variant", ["default", "one_bucket", "fine_clamped", "tiny_pool"])
@pytest.mark.parametrize("seed", range(6))
def test_node_reach_equals_scipy_dijkstra(seed: int, variant: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(60, 250)), int(rng.integers(100, 600))
    u, v, w = _graph(rng, n, m, integer=seed % 2 == 0)
    g = ReachGraph.from_edges(u, v, w, n)
    _widths(monkeypatch, variant)
    nodes = rng.choice(np.unique(u), 30)  # repeats included
    cutoff = [0.0, 7.0, 25.0, 60.0, np.inf, float(rng.uniform(5, 40))][seed]
    r = node_reach(g, _node_points(u, v, w, nodes), cutoff, threads=int(rng.integers(1, 4)))
    # scipy counts a node at exactly the limit as reached, as the engine does
    ref = csg.dijkstra(g.to_scipy(), directed=True, indices=nodes, limit=cutoff)
    _check(r, ref)


@pytest.mark.parametrize("seed", range(3))
def test_point_reach_on_nodes_equals_scipy_dijkstra(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, m = 150, 400
    u, v, w = _graph(rng, n, m, integer=True)
    g = ReachGraph.from_edges(u, v, w, n)
    src_nodes = rng.choice(np.unique(u), 25)
    tgt_nodes = rng.choice(np.unique(u), 40)
    src = _node_points(u, v, w, src_nodes)
    tgt = _node_points(u, v, w, tgt_nodes)
    r = point_reach(g, src, tgt, 12.0, threads=2)
    ref = csg.dijkstra(g.to_scipy(), directed=True, indices=src_nodes, limit=12.0)
    _check(r, ref[:, tgt_nodes])
