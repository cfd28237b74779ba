"""Benchmark the reach engine against networkx, pandana (and scipy) on the same sources.

Cases: (a) the real demo walking graph (both Yangpu OSM exports), (b) a generated street
grid of at least 200,000 nodes; 1,000 and 10,000 sources each; 15 minutes at 3.6 km/h
(900 s at 1 m/s). The reference is ``networkx.single_source_dijkstra_path_length`` with a
cutoff, one source at a time (the osmnx tutorial way). Where networkx would take too long
(``--nx-max`` sources), it runs on a seeded subset and its time is extrapolated linearly;
times are compared on that subset. scipy's ``csgraph.dijkstra(limit=...)`` is timed on
the same sources in batches as a third reference.

pandana 0.8 (``Network.nodes_in_range``, contraction hierarchies; the usual tool of urban
accessibility studies) is the second reference, on the generated grid only: its network
is built once (the CH build, timed apart, can take minutes), ``precompute(900)`` is timed
apart too, then ``nodes_in_range`` runs on the very sources the engine had, and the
(source, node) pairs and times are compared (pandana keeps times as float32 internally,
so times are compared to float32 precision). pandana is an optional extra
(``.venv/bin/pip install pandana==0.8``; ``--no-pandana`` skips it on a loaded machine).
Wall times are noisy on a shared machine, so CPU times (``time.process_time``) are
reported as well, with the load average.

The last line is machine-readable:
``speedup_vs_networkx=<float> speedup_vs_pandana=<float|nan> identical=<true|false>
nodes=<int> sources=<int>`` (one line) for the largest case.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
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


PANDANA_INSTALL = ".venv/bin/pip install pandana==0.8"


@contextlib.contextmanager
def _stdout_to_stderr():
    """pandana's C++ prints progress on stdout: send it to stderr, keep stdout the table."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def pandana_network(u, v, w, side: int, block_m: float) -> tuple[object, dict]:
    """pandana Network on the grid (impedance = time in seconds): CH build and precompute."""
    import pandana
    import pandas as pd

    n = side * side
    ids = np.arange(n)
    with _stdout_to_stderr():
        t0, c0 = time.perf_counter(), time.process_time()
        net = pandana.Network(pd.Series((ids % side) * block_m, index=ids),
                              pd.Series((ids // side) * block_m, index=ids),
                              pd.Series(u), pd.Series(v), pd.DataFrame({"time_s": w}),
                              twoway=True)
        t_ch, c_ch = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        net.precompute(CUTOFF)
        t_pre, c_pre = time.perf_counter() - t0, time.process_time() - c0
    return net, {"ch_s": t_ch, "ch_cpu": c_ch, "pre_s": t_pre, "pre_cpu": c_pre}


def pandana_case(net, nodes: np.ndarray, r, n: int, repeat: int) -> dict:
    """``nodes_in_range`` on the engine's sources; pairs and times compared with ``r``."""
    nodes = np.asarray(nodes, dtype=np.int64)
    t_pd = c_pd = t_core = float("inf")
    with _stdout_to_stderr():
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            df = net.nodes_in_range(nodes, CUTOFF)
            t_pd = min(t_pd, time.perf_counter() - t0)
            c_pd = min(c_pd, time.process_time() - c0)
            # its compiled core alone (the Python wrapper makes one DataFrame per source)
            t0 = time.perf_counter()
            net.net.nodes_in_range(nodes, CUTOFF, 0, np.arange(n, dtype=np.int64))
            t_core = min(t_core, time.perf_counter() - t0)
    k_pd = df["source"].to_numpy(np.int64) * n + df["destination"].to_numpy(np.int64)
    t_pdv = df["time_s"].to_numpy(np.float64)
    rows = np.repeat(nodes, np.diff(r.indptr))
    k_geo = rows * n + r.indices.astype(np.int64)
    k_geo, first = np.unique(k_geo, return_index=True)  # repeated sources count once
    t_geo = r.data[first]
    _, ig, ip = np.intersect1d(k_geo, k_pd, assume_unique=False, return_indices=True)
    only_geo = np.setdiff1d(k_geo, k_pd)
    only_pd = np.setdiff1d(k_pd, k_geo)
    dt = np.abs(t_geo[ig] - t_pdv[ip])
    # float32 sums along a path of up to a few dozen arcs: relative error well under 1e-5
    tol = 1e-5 * np.maximum(t_geo[ig], 1.0)
    near = CUTOFF * (1 - 1e-5)  # pairs at the cutoff may fall either side in float32
    edge_geo = int((t_geo[np.isin(k_geo, only_geo)] >= near).sum())
    return {"pandana_s": t_pd, "pandana_cpu": c_pd, "pandana_core_s": t_core,
            "pd_pairs": len(k_pd), "geo_pairs": len(k_geo), "only_geo": len(only_geo),
            "only_pd": len(only_pd), "only_geo_at_cutoff": edge_geo,
            "max_dt": float(dt.max()) if len(dt) else 0.0,
            "times_ok": bool((dt <= tol).all()),
            "same_pairs": len(only_geo) == 0 and len(only_pd) == 0}


def run_case(name: str, u, v, w, n: int, n_src: int, nx_max: int, scipy_max: int,
             seed: int, repeat: int = 1, pd_net=None) -> dict:
    rng = np.random.default_rng(seed)
    graph = ReachGraph.from_edges(u, v, w, n)
    deg = np.diff(graph.indptr)
    live = np.flatnonzero(deg > 0)
    nodes = rng.choice(live, n_src, replace=n_src > len(live))  # repeats on small graphs
    src = node_sources(u, v, w, nodes)
    t_geo = c_geo = float("inf")
    for i in range(max(repeat, 1)):  # best of `repeat`: the machine may be shared
        t0, c0 = time.perf_counter(), time.process_time()
        r = node_reach(graph, src, CUTOFF)
        t_geo = min(t_geo, time.perf_counter() - t0)
        c_geo = min(c_geo, time.process_time() - c0)
        if i == 0:  # the first call on a graph also renumbers it (once per graph)
            t_first = time.perf_counter() - t0
    pdc = pandana_case(pd_net, nodes, r, n, repeat) if pd_net is not None else {}

    g = nx.Graph()
    heavy_first = np.argsort(-w, kind="stable")  # parallel edges: the lightest is added last
    keep = u[heavy_first] != v[heavy_first]
    g.add_weighted_edges_from(zip(u[heavy_first][keep].tolist(), v[heavy_first][keep].tolist(),
                                  w[heavy_first][keep].tolist(), strict=True))
    k = min(nx_max, n_src)
    sub = rng.choice(n_src, k, replace=False)
    t0, c0 = time.perf_counter(), time.process_time()
    ref = [nx.single_source_dijkstra_path_length(g, int(nodes[i]), cutoff=CUTOFF,
                                                 weight="weight") for i in sub]
    t_nx = (time.perf_counter() - t0) * n_src / k
    c_nx = (time.process_time() - c0) * n_src / k
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
            "geoplan_cpu": c_geo, "networkx_cpu": c_nx, "geoplan_first_s": t_first,
            "nx_measured": k, "scipy_s": t_sp, "scipy_measured": ks,
            "speedup": t_nx / t_geo, "identical": identical, "reached": r.nnz / n_src, **pdc}


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
    p.add_argument("--repeat", type=int, default=3,
                   help="geoplan and pandana range queries: best of this many runs")
    p.add_argument("--no-pandana", action="store_true",
                   help="skip pandana (its CH build on the grid takes minutes)")
    a = p.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)")

    # warm-up: numba compilation (cached on disk after the first run)
    t0 = time.perf_counter()
    uu, vv, ww, nn = grid_graph(10, 80.0, 0)
    node_reach(ReachGraph.from_edges(uu, vv, ww, nn),
               node_sources(uu, vv, ww, np.arange(5)), CUTOFF)
    print(f"numba warm-up (compile or cache load): {time.perf_counter() - t0:.2f} s")

    cases = []
    du, dv, dw, dn = demo_graph(a.data)
    gu, gv, gw, gn = grid_graph(a.grid_side, 80.0, a.seed)
    pd_net, pd_build = None, {}
    if not a.no_pandana:
        if importlib.util.find_spec("pandana") is None:
            print(f"pandana not installed (optional extra 'bench'): {PANDANA_INSTALL}")
        else:
            print("  building pandana's contraction hierarchy (minutes) ...", file=sys.stderr)
            pd_net, pd_build = pandana_network(gu, gv, gw, a.grid_side, 80.0)
    for name, (u, v, w, n) in (("demo", (du, dv, dw, dn)), ("grid", (gu, gv, gw, gn))):
        for n_src in (1000, 10000):
            cases.append(run_case(name, u, v, w, n, n_src, a.nx_max, a.scipy_max, a.seed,
                                  a.repeat, pd_net if name == "grid" else None))
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
          f"{a.scipy_max}; times compared on the networkx subset; geoplan best of {a.repeat}")
    print("CPU seconds (time.process_time, all threads; less sensitive to other load):")
    for c in cases:
        print(f"  {c['case']:6s} {c['sources']:6d} sources: geoplan {c['geoplan_cpu']:.3f} "
              f"(first call, with the renumbering: {c['geoplan_first_s']:.3f} s wall), "
              f"networkx {c['networkx_cpu']:.2f}, ratio {c['networkx_cpu'] / c['geoplan_cpu']:.1f}"
              + (f"; pandana nodes_in_range {c['pandana_cpu']:.2f}, ratio "
                 f"{c['pandana_cpu'] / c['geoplan_cpu']:.1f}" if "pandana_cpu" in c else ""))
    if pd_build:
        print(f"pandana 0.8 on the grid: CH build (Network) {pd_build['ch_s']:.1f} s "
              f"(CPU {pd_build['ch_cpu']:.1f} s), precompute(900) {pd_build['pre_s']:.1f} s "
              f"(CPU {pd_build['pre_cpu']:.1f} s)")
        for c in cases:
            if "pandana_s" not in c:
                continue
            print(f"  {c['sources']:6d} sources: nodes_in_range {c['pandana_s']:.2f} s (compiled "
                  f"core alone {c['pandana_core_s']:.2f} s) vs geoplan {c['geoplan_s']:.3f} s: "
                  f"x{c['pandana_s'] / c['geoplan_s']:.1f} (core x"
                  f"{c['pandana_core_s'] / c['geoplan_s']:.1f}); pairs geoplan {c['geo_pairs']} "
                  f"pandana {c['pd_pairs']}, only geoplan {c['only_geo']} (at the cutoff "
                  f"{c['only_geo_at_cutoff']}), only pandana {c['only_pd']}; max |dt| "
                  f"{c['max_dt']:.2e} s (float32 tolerance "
                  f"{'ok' if c['times_ok'] else 'EXCEEDED'})")
    big = max(cases, key=lambda c: (c["nodes"], c["sources"]))
    x_pd = big["pandana_s"] / big["geoplan_s"] if "pandana_s" in big else float("nan")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"speedup_vs_networkx={big['speedup']:.1f} speedup_vs_pandana={x_pd:.1f} "
          f"identical={str(big['identical']).lower()} nodes={big['nodes']} "
          f"sources={big['sources']}")


if __name__ == "__main__":
    main()
