"""The reach engine: walking times from many sources at once, as sparse results.

Public functions
----------------
* :func:`nearest_time` — for each target point, the time to the nearest source (one
  multi-source pass; question (a): "how far is the nearest canteen from each home?").
* :func:`point_reach` — for each source, the targets within the cutoff and their times
  as a sparse ``sources × targets`` matrix (question (b), for siting models).
* :func:`node_reach` — the same with graph nodes as targets (for isochrones).

Times are seconds. Sparse results store times as data and keep entries whose time is
exactly 0 explicitly: use the sparsity structure (``indptr``/``indices``), never
``eliminate_zeros`` or ``nonzero()``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from geoplan.network.snapping import SnappedPoints
from geoplan.reach.csr import ReachGraph
from geoplan.reach.kernel import nearest_labels, reach_block, scatter_rows


def _seeds(sources: SnappedPoints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR-like seeds: each source point seeds both ends of its edge."""
    n = len(sources)
    src_ptr = np.arange(0, 2 * n + 1, 2, dtype=np.int64)
    seed_n = np.empty(2 * n, dtype=np.int64)
    seed_t = np.empty(2 * n, dtype=np.float64)
    seed_n[0::2], seed_n[1::2] = sources.u, sources.v
    seed_t[0::2], seed_t[1::2] = sources.t_u, sources.t_v
    return src_ptr, seed_n, seed_t


def _incidence(keys: np.ndarray, n_keys: int, *values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Group target ids (and per-entry values) by key as CSR: (ptr, ids, *values)."""
    order = np.argsort(keys, kind="stable")
    ptr = np.zeros(n_keys + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n_keys), out=ptr[1:])
    return (ptr, *(np.ascontiguousarray(v[order]) for v in values))


# Bucket queue size: enough buckets for an 8th of the median arc per bucket up to the
# cutoff, at most this many (later times share the last bucket; results do not depend on it).
_MAX_BUCKETS = 1 << 16


def _buckets(graph: ReachGraph, cutoff: float) -> tuple[float, int]:
    """Bucket width (as its inverse) and count for the kernel's bucket queue.

    The width only sets speed, never results (see ``kernel._bucket_search``). An eighth of
    the median arc keeps few nodes per bucket (little re-scanning) while the empty buckets
    walked past stay few; measured on the 202,500-node benchmark grid (80 m blocks), widths
    from 1/80 to 2.5 medians were within 20 % of each other.
    """
    median_w = graph.local.median_w  # computed once per graph
    width = median_w / 8.0 if median_w > 0 else 1.0
    if np.isfinite(cutoff) and cutoff > 0:
        width = max(width, cutoff / (_MAX_BUCKETS - 1))
        n_buckets = min(int(cutoff / width) + 2, _MAX_BUCKETS)
    else:
        n_buckets = _MAX_BUCKETS
    return 1.0 / width, n_buckets


def _pool_size(graph: ReachGraph) -> int:
    """Initial entry pool of the bucket queue (it grows when a search needs more)."""
    return graph.n_nodes + 16


def _run_blocks(graph: ReachGraph, sources: SnappedPoints | None, src: tuple, cutoff: float,
                n_targets: int, node_inc: tuple, edge_inc: tuple, edge_time: np.ndarray,
                n_src: int, threads: int | None, identity: bool = False) -> sp.csr_matrix:
    src_ptr, seed_n, seed_t = src
    if sources is None:
        src_edge = np.full(n_src, -1, dtype=np.int64)
        src_frac = np.zeros(n_src)
        src_off = np.zeros(n_src)
    else:
        src_edge, src_frac, src_off = sources.edge, sources.frac, sources.off_s
    threads = threads or min(os.cpu_count() or 1, 8)
    # The kernels search the graph renumbered for locality (``graph.local``, computed once
    # per graph); seeds go in, node ids (for node targets) come out through the mapping.
    loc = graph.local
    seed_n = loc.new_of_old[seed_n]
    # Sources are searched in the order of their first seed node: consecutive searches then
    # reuse cached graph memory (measured 1.4x faster on the benchmark grid than random).
    first = seed_n[src_ptr[:-1]] if n_src else np.zeros(0, dtype=np.int64)
    order = np.argsort(first, kind="stable").astype(np.int64)
    inv_w, n_buckets = _buckets(graph, cutoff)
    pool_cap = _pool_size(graph)
    # two blocks per thread: balances load while keeping per-block workspace set-up small
    bounds = np.linspace(0, n_src, num=min(max(n_src, 1), threads * 2) + 1).astype(np.int64)
    n_blocks = len(bounds) - 1

    def work(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return reach_block(loc.indptr, loc.indices, loc.weights, graph.n_nodes, src_ptr,
                           seed_n, seed_t, src_edge, src_frac, src_off, order,
                           int(bounds[i]), int(bounds[i + 1]), float(cutoff), inv_w, n_buckets,
                           pool_cap, n_targets, *node_inc, *edge_inc, edge_time, identity)

    # The kernels release the GIL (nogil), so threads run blocks truly in parallel; every
    # row is computed by one search and copied to its own place, so the output does not
    # depend on threads or on the order sources are searched in.
    pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 and n_blocks > 1 else None
    try:
        parts = list(pool.map(work, range(n_blocks)) if pool else map(work, range(n_blocks)))
        counts = np.zeros(n_src, dtype=np.int64)
        for i, part in enumerate(parts):
            counts[order[bounds[i]:bounds[i + 1]]] = part[0]
        nnz = int(counts.sum())
        # int32 indices where they fit, as scipy would choose (so it keeps our arrays)
        idx = np.int64 if max(nnz, n_src, n_targets) > np.iinfo(np.int32).max else np.int32
        indptr = np.zeros(n_src + 1, dtype=idx)
        np.cumsum(counts, out=indptr[1:])
        ids = np.empty(nnz, dtype=idx)
        times = np.empty(nnz, dtype=np.float64)
        id_map = loc.old_of_new if identity else np.zeros(0, dtype=np.int64)

        def scatter(i: int) -> None:
            c, t, v = parts[i]
            scatter_rows(order, int(bounds[i]), c, t, v, indptr, ids, times, id_map)

        list(pool.map(scatter, range(n_blocks)) if pool else map(scatter, range(n_blocks)))
    finally:
        if pool:
            pool.shutdown()
    return sp.csr_matrix((times, ids, indptr), shape=(n_src, n_targets))


def node_reach(graph: ReachGraph, sources: SnappedPoints, cutoff_s: float, *,
               threads: int | None = None) -> sp.csr_matrix:
    """Times from each source point to every graph node reached within ``cutoff_s``.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(len(sources), graph.n_nodes)``; explicit zeros are meaningful. Column
        indices within a row are in the order nodes were reached (not sorted; call
        ``sort_indices()`` if needed).
    """
    n = graph.n_nodes
    node_inc = (np.arange(n + 1, dtype=np.int64), np.arange(n, dtype=np.int64), np.zeros(n))
    empty_i = np.zeros(0, dtype=np.int64)
    edge_inc = (np.zeros(2, dtype=np.int64), empty_i, np.zeros(0), np.zeros(0))
    return _run_blocks(graph, None, _seeds(sources), cutoff_s, n, node_inc, edge_inc,
                       np.zeros(1), len(sources), threads, identity=True)


def _target_incidence(graph: ReachGraph, targets: SnappedPoints,
                      n_edges: int) -> tuple[tuple, tuple]:
    m = len(targets)
    ids = np.arange(m, dtype=np.int64)
    keys = graph.local.new_of_old[np.concatenate([targets.u, targets.v])]  # kernel numbering
    node_inc = _incidence(keys, graph.n_nodes, np.concatenate([ids, ids]),
                          np.concatenate([targets.t_u, targets.t_v]))
    edge_inc = _incidence(targets.edge, n_edges, ids, targets.frac, targets.off_s)
    return node_inc, edge_inc


def _edge_times(sources: SnappedPoints, targets: SnappedPoints) -> tuple[np.ndarray, int]:
    n_edges = int(max(sources.edge.max(initial=-1), targets.edge.max(initial=-1))) + 1
    et = np.zeros(max(n_edges, 1))
    et[sources.edge] = sources.edge_time
    et[targets.edge] = targets.edge_time
    return et, max(n_edges, 1)


def point_reach(graph: ReachGraph, sources: SnappedPoints, targets: SnappedPoints,
                cutoff_s: float, *, threads: int | None = None) -> sp.csr_matrix:
    """Times from each source point to each target point within ``cutoff_s``.

    A target is reached through either end of its edge (plus its along-edge and
    off-network time) or, if it lies on the source's own edge, directly along the edge.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(len(sources), len(targets))``, times in seconds; explicit zeros kept.
    """
    edge_time, n_edges = _edge_times(sources, targets)
    node_inc, edge_inc = _target_incidence(graph, targets, n_edges)
    return _run_blocks(graph, sources, _seeds(sources), cutoff_s, len(targets), node_inc,
                       edge_inc, edge_time, len(sources), threads)


def nearest_time(graph: ReachGraph, sources: SnappedPoints, targets: SnappedPoints,
                 cutoff_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Time from each target to its nearest source, in one multi-source pass.

    Returns
    -------
    times : ndarray of float64
        Seconds; ``inf`` where no source is within ``cutoff_s``.
    nearest : ndarray of int64
        Position of the nearest source in ``sources`` (-1 where none); ties go to the
        lowest position.
    """
    _, seed_n, seed_t = _seeds(sources)
    lab = np.repeat(np.arange(len(sources), dtype=np.int64), 2)
    dist, label = nearest_labels(graph.indptr, graph.indices, graph.weights, graph.n_nodes,
                                 seed_n, seed_t, lab, float(cutoff_s))
    tu = dist[targets.u] + targets.t_u
    tv = dist[targets.v] + targets.t_v
    lu, lv = label[targets.u], label[targets.v]
    use_v = (tv < tu) | ((tv == tu) & (lv >= 0) & ((lu < 0) | (lv < lu)))
    times = np.where(use_v, tv, tu)
    nearest = np.where(use_v, lv, lu)
    # sources on a target's own edge: direct walk along the edge
    if len(sources) and len(targets):
        s_order = np.argsort(sources.edge, kind="stable")
        s_edge = sources.edge[s_order]
        lo = np.searchsorted(s_edge, targets.edge, side="left")
        hi = np.searchsorted(s_edge, targets.edge, side="right")
        cnt = hi - lo
        if cnt.any():
            t_idx = np.repeat(np.arange(len(targets)), cnt)
            within = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            s_idx = s_order[np.repeat(lo, cnt) + within]
            direct = (sources.off_s[s_idx] + targets.off_s[t_idx]
                      + np.abs(sources.frac[s_idx] - targets.frac[t_idx])
                      * targets.edge_time[t_idx])
            # process candidates by (target, time, source) so the first per target wins
            order = np.lexsort((s_idx, direct, t_idx))
            t_idx, s_idx, direct = t_idx[order], s_idx[order], direct[order]
            first = np.ones(len(t_idx), dtype=bool)
            first[1:] = t_idx[1:] != t_idx[:-1]
            t1, s1, d1 = t_idx[first], s_idx[first], direct[first]
            better = (d1 < times[t1]) | ((d1 == times[t1]) & ((nearest[t1] < 0)
                                                               | (s1 < nearest[t1])))
            times[t1[better]] = d1[better]
            nearest[t1[better]] = s1[better]
    beyond = ~(times <= cutoff_s)
    times[beyond] = np.inf
    nearest[beyond] = -1
    return times, nearest.astype(np.int64)
