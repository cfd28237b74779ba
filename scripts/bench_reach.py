"""Benchmark the reach engine against networkx (and scipy) on the same sources.

Cases: (a) the real demo walking graph (both Yangpu OSM exports), (b) a generated street
grid of at least 200,000 nodes; 1,000 and 10,000 sources each; 15 minutes at 3.6 km/h
(900 s at 1 m/s). The reference is ``networkx.single_source_dijkstra_path_length`` with a
cutoff, one source at a time (the osmnx tutorial way). Where networkx would take too long
(``--nx-max`` sources), it runs on a seeded subset and its time is extrapolated linearly;
times are compared on that subset. scipy's ``csgraph.dijkstra(limit=...)`` is timed on
the same sources in batches as a second reference.

The last line is machine-readable:
``speedup_vs_networkx=<float> identical=<true|false> nodes=<int> sources=<int>``
for the largest case.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import scipy.sparse.csgraph as csg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from geoplan.network.snapping import SnappedPoints  # noqa: E402
from geoplan.reach.csr import ReachGraph  # noqa: E402
from geoplan.reach.engine import node_reach  # noqa: E402

CUTOFF = 900.0  # 15 min at 3.6 km/h = 1 m/s, with time_s = length_m


def demo_graph(data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS
    from geoplan.network.walkgraph import build_walk_network
    from geoplan.sources.osm import graph_from_osm_files

    raw = graph_from_osm_files((data / "osm" / "wujiaochang-fudan.osm",
                                data / "osm" / "tongji-siping.osm"))
    net = build_walk_network(raw, 1.0, 1.0, DEFAULT_WALKABLE_HIGHWAYS)
    u, v, w = net.edge_arrays()
    return u, v, w, net.n_nodes


def grid_graph(side: int, block_m: float, seed: int) -> tuple[np.ndarray, ...]:
    """A side x side street grid, edge lengths jittered ±10 %, 5 % of edges removed."""
    rng = np.random.default_rng(seed)
    idx = np.arange(side * side).reshape(side, side)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    keep = rng.random(len(u)) > 0.05
    u, v = u[keep], v[keep]
    w = np.round(block_m * rng.uniform(0.9, 1.1, len(u)), 3)
    return u, v, w, side * side


def node_sources(u: np.ndarray, v: np.ndarray, w: np.ndarray, nodes: np.ndarray
                 ) -> SnappedPoints:
    """Sources placed exactly on the given nodes (at the node's end of an incident edge)."""
    n = int(max(u.max(), v.max())) + 1
    at_u = np.full(n, -1, dtype=np.int64)
    at_v = np.full(n, -1, dtype=np.int64)
    at_u[u[::-1]] = np.arange(len(u))[::-1]
    at_v[v[::-1]] = np.arange(len(v))[::-1]
    use_u = at_u[nodes] >= 0
    e = np.where(use_u, at_u[nodes], at_v[nodes])
    return SnappedPoints(edge=e, u=u[e].astype(np.int64), v=v[e].astype(np.int64),
                         frac=np.where(use_u, 0.0, 1.0), off_m=np.zeros(len(e)),
                         off_s=np.zeros(len(e)), edge_time=w[e].astype(float))


def run_case(name: str, u, v, w, n: int, n_src: int, nx_max: int, scipy_max: int,
             seed: int) -> dict:
    rng = np.random.default_rng(seed)
    graph = ReachGraph.from_edges(u, v, w, n)
    deg = np.diff(graph.indptr)
    live = np.flatnonzero(deg > 0)
    nodes = rng.choice(live, n_src, replace=n_src > len(live))  # repeats on small graphs
    src = node_sources(u, v, w, nodes)
    t0 = time.perf_counter()
    r = node_reach(graph, src, CUTOFF)
    t_geo = time.perf_counter() - t0

    g = nx.Graph()
    heavy_first = np.argsort(-w, kind="stable")  # parallel edges: the lightest is added last
    keep = u[heavy_first] != v[heavy_first]
    g.add_weighted_edges_from(zip(u[heavy_first][keep].tolist(), v[heavy_first][keep].tolist(),
                                  w[heavy_first][keep].tolist(), strict=True))
    k = min(nx_max, n_src)
    sub = rng.choice(n_src, k, replace=False)
    t0 = time.perf_counter()
    ref = [nx.single_source_dijkstra_path_length(g, int(nodes[i]), cutoff=CUTOFF,
                                                 weight="weight") for i in sub]
    t_nx = (time.perf_counter() - t0) * n_src / k
    identical = True
    for i, d in zip(sub, ref, strict=True):
        row = r.getrow(int(i))
        got = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
        if got.keys() != d.keys() or not np.allclose([got[x] for x in d], list(d.values()),
                                                     rtol=1e-9, atol=1e-9):
            identical = False
            break
    t_sp = float("nan")
    ks = min(scipy_max, n_src)
    if ks:
        csr = graph.to_scipy()
        t0 = time.perf_counter()
        for b in range(0, ks, 100):
            csg.dijkstra(csr, directed=True, indices=nodes[b:min(b + 100, ks)], limit=CUTOFF)
        t_sp = (time.perf_counter() - t0) * n_src / ks
    return {"case": name, "nodes": n, "sources": n_src, "geoplan_s": t_geo, "networkx_s": t_nx,
            "nx_measured": k, "scipy_s": t_sp, "scipy_measured": ks,
            "speedup": t_nx / t_geo, "identical": identical, "reached": r.nnz / n_src}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = os.environ.get("GEOPLAN_DATA", str(REPO.parent / "shared" / "data" /
                                                  "yangpu-demo"))
    p.add_argument("--data", type=Path, default=Path(default), help="demo data folder")
    p.add_argument("--grid-side", type=int, default=450, help="grid side (450 → 202,500 nodes)")
    p.add_argument("--nx-max", type=int, default=1000,
                   help="networkx is timed on at most this many sources, then extrapolated")
    p.add_argument("--scipy-max", type=int, default=300,
                   help="scipy is timed on at most this many sources, then extrapolated")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()

    # warm-up: numba compilation (cached on disk after the first run)
    t0 = time.perf_counter()
    uu, vv, ww, nn = grid_graph(10, 80.0, 0)
    node_reach(ReachGraph.from_edges(uu, vv, ww, nn),
               node_sources(uu, vv, ww, np.arange(5)), CUTOFF)
    print(f"numba warm-up (compile or cache load): {time.perf_counter() - t0:.2f} s")

    cases = []
    du, dv, dw, dn = demo_graph(a.data)
    gu, gv, gw, gn = grid_graph(a.grid_side, 80.0, a.seed)
    for name, (u, v, w, n) in (("demo", (du, dv, dw, dn)), ("grid", (gu, gv, gw, gn))):
        for n_src in (1000, 10000):
            cases.append(run_case(name, u, v, w, n, n_src, a.nx_max, a.scipy_max, a.seed))
            c = cases[-1]
            print(f"  done {name} {c['sources']} sources", file=sys.stderr)

    hdr = (f"{'case':6s} {'nodes':>8s} {'sources':>8s} {'reached/src':>11s} {'geoplan s':>10s} "
           f"{'networkx s':>11s} {'scipy s':>9s} {'x networkx':>10s} {'x scipy':>8s} identical")
    print(hdr)
    print("-" * len(hdr))
    for c in cases:
        nx_note = "" if c["nx_measured"] == c["sources"] else "*"
        print(f"{c['case']:6s} {c['nodes']:8d} {c['sources']:8d} {c['reached']:11.0f} "
              f"{c['geoplan_s']:10.3f} {c['networkx_s']:10.2f}{nx_note:1s} {c['scipy_s']:9.2f} "
              f"{c['speedup']:10.1f} {c['scipy_s'] / c['geoplan_s']:8.1f} "
              f"{str(c['identical']).lower()}")
    print(f"* networkx timed on {a.nx_max} seeded sources and extrapolated linearly; scipy on "
          f"{a.scipy_max}; times compared on the networkx subset")
    big = max(cases, key=lambda c: (c["nodes"], c["sources"]))
    print(f"speedup_vs_networkx={big['speedup']:.1f} identical={str(big['identical']).lower()} "
          f"nodes={big['nodes']} sources={big['sources']}")


if __name__ == "__main__":
    main()
