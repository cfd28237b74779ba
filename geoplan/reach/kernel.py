"""Compiled bounded Dijkstra kernels (numba).

Why not ``scipy.sparse.csgraph.dijkstra`` for the many-source case: for every source it
initialises O(N) state and it returns a dense ``sources × N`` matrix, so 10,000 sources
on a 200,000-node graph cost 2·10⁹ initialisations and 16 GB of output, although a
15-minute walk reaches only a few hundred nodes. These kernels keep one workspace per
thread, reset only the nodes a source touched, stop at the cutoff and write sparse output,
so the cost is proportional to what is reached.

All kernels run on the CSR arrays of :class:`geoplan.reach.csr.ReachGraph`. A source is
a set of seeds (node, initial time): a point attached to an edge seeds both its ends.
Results are "target" times: a target is reached through an incident node plus an
offset (``node_ptr/node_tgt/node_off``), and, for a point on the source's own edge, by
walking along that edge directly (``edge_ptr/edge_tgt/edge_frac/edge_off``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _push(heap_t: np.ndarray, heap_n: np.ndarray, size: int, t: float, n: int) -> int:
    i = size
    heap_t[i] = t
    heap_n[i] = n
    while i > 0:
        p = (i - 1) >> 1
        if heap_t[p] <= heap_t[i]:
            break
        heap_t[p], heap_t[i] = heap_t[i], heap_t[p]
        heap_n[p], heap_n[i] = heap_n[i], heap_n[p]
        i = p
    return size + 1


@njit(cache=True, nogil=True, inline="always")
def _pop(heap_t: np.ndarray, heap_n: np.ndarray, size: int) -> int:
    size -= 1
    heap_t[0] = heap_t[size]
    heap_n[0] = heap_n[size]
    i = 0
    while True:
        lo = 2 * i + 1
        if lo >= size:
            break
        if lo + 1 < size and heap_t[lo + 1] < heap_t[lo]:
            lo += 1
        if heap_t[i] <= heap_t[lo]:
            break
        heap_t[lo], heap_t[i] = heap_t[i], heap_t[lo]
        heap_n[lo], heap_n[i] = heap_n[i], heap_n[lo]
        i = lo
    return size


@njit(cache=True, nogil=True)
def _search(indptr, indices, weights, seeds_n, seeds_t, cutoff, dist, touched, heap_t,
            heap_n):
    """Bounded Dijkstra from several seeds. Returns how many nodes were touched.

    ``dist`` must be +inf everywhere on entry; touched nodes hold their final time on
    exit (the caller resets them). Lazy deletion: stale heap entries are skipped.
    """
    n_touched = 0
    size = 0
    for k in range(seeds_n.shape[0]):
        s = seeds_n[k]
        t = seeds_t[k]
        if t <= cutoff and t < dist[s]:
            if dist[s] == np.inf:
                touched[n_touched] = s
                n_touched += 1
            dist[s] = t
            size = _push(heap_t, heap_n, size, t, s)
    while size > 0:
        t = heap_t[0]
        u = heap_n[0]
        size = _pop(heap_t, heap_n, size)
        if t > dist[u]:
            continue
        for a in range(indptr[u], indptr[u + 1]):
            v = indices[a]
            nt = t + weights[a]
            if nt <= cutoff and nt < dist[v]:
                if dist[v] == np.inf:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = nt
                if size >= heap_t.shape[0]:  # cannot happen with the sizes used; guard
                    return -1
                size = _push(heap_t, heap_n, size, nt, v)
    return n_touched


@njit(cache=True, nogil=True)
def reach_block(indptr, indices, weights, n_nodes, src_ptr, seed_n, seed_t, src_edge,
                src_frac, src_off, s0, s1, cutoff, n_targets, node_ptr, node_tgt, node_off,
                edge_ptr, edge_tgt, edge_frac, edge_off, edge_time):
    """Times from sources ``s0..s1-1`` to all targets within ``cutoff`` (sparse rows).

    Returns
    -------
    counts : int64[s1 - s0]
        Targets reached per source.
    tgt : int64[sum(counts)]
        Target ids, ascending within each source.
    times : float64[sum(counts)]
        Times, seconds.
    """
    dist = np.full(n_nodes, np.inf)
    touched = np.empty(n_nodes, dtype=np.int64)
    cap = indices.shape[0] + seed_n.shape[0] + 1
    heap_t = np.empty(cap, dtype=np.float64)
    heap_n = np.empty(cap, dtype=np.int64)
    best = np.full(n_targets, np.inf)
    hit = np.empty(n_targets, dtype=np.int64)
    counts = np.zeros(s1 - s0, dtype=np.int64)
    out_cap = 1024
    out_t = np.empty(out_cap, dtype=np.int64)
    out_v = np.empty(out_cap, dtype=np.float64)
    pos = 0
    for s in range(s0, s1):
        a, b = src_ptr[s], src_ptr[s + 1]
        nt = _search(indptr, indices, weights, seed_n[a:b], seed_t[a:b], cutoff, dist,
                     touched, heap_t, heap_n)
        nh = 0
        for k in range(nt):
            node = touched[k]
            d = dist[node]
            for j in range(node_ptr[node], node_ptr[node + 1]):
                tg = node_tgt[j]
                c = d + node_off[j]
                if c <= cutoff and c < best[tg]:
                    if best[tg] == np.inf:
                        hit[nh] = tg
                        nh += 1
                    best[tg] = c
        e = src_edge[s]
        if e >= 0:
            for j in range(edge_ptr[e], edge_ptr[e + 1]):
                tg = edge_tgt[j]
                c = src_off[s] + edge_off[j] + abs(src_frac[s] - edge_frac[j]) * edge_time[e]
                if c <= cutoff and c < best[tg]:
                    if best[tg] == np.inf:
                        hit[nh] = tg
                        nh += 1
                    best[tg] = c
        for k in range(nt):
            dist[touched[k]] = np.inf
        if pos + nh > out_cap:
            while pos + nh > out_cap:
                out_cap *= 2
            nt_ = np.empty(out_cap, dtype=np.int64)
            nv_ = np.empty(out_cap, dtype=np.float64)
            nt_[:pos] = out_t[:pos]
            nv_[:pos] = out_v[:pos]
            out_t, out_v = nt_, nv_
        ids = np.sort(hit[:nh])
        for k in range(nh):
            tg = ids[k]
            out_t[pos + k] = tg
            out_v[pos + k] = best[tg]
            best[tg] = np.inf
        pos += nh
        counts[s - s0] = nh
    return counts, out_t[:pos].copy(), out_v[:pos].copy()


@njit(cache=True, nogil=True)
def nearest_labels(indptr, indices, weights, n_nodes, seed_n, seed_t, seed_lab, cutoff):
    """Multi-source bounded Dijkstra with labels: time and label of the nearest seed.

    Ties in time go to the lowest label, so the result does not depend on heap order.
    Unreached nodes get ``inf`` and label -1.
    """
    dist = np.full(n_nodes, np.inf)
    lab = np.full(n_nodes, -1, dtype=np.int64)
    cap = 2 * indices.shape[0] + seed_n.shape[0] + 1  # label ties may re-push
    heap_t = np.empty(cap, dtype=np.float64)
    heap_n = np.empty(cap, dtype=np.int64)
    size = 0
    for k in range(seed_n.shape[0]):
        s = seed_n[k]
        t = seed_t[k]
        if t <= cutoff and (t < dist[s] or (t == dist[s] and seed_lab[k] < lab[s])):
            dist[s] = t
            lab[s] = seed_lab[k]
            size = _push(heap_t, heap_n, size, t, s)
    while size > 0:
        t = heap_t[0]
        u = heap_n[0]
        size = _pop(heap_t, heap_n, size)
        if t > dist[u]:
            continue
        lu = lab[u]
        for a in range(indptr[u], indptr[u + 1]):
            v = indices[a]
            nt = t + weights[a]
            if nt <= cutoff and (nt < dist[v] or (nt == dist[v] and lu < lab[v])):
                dist[v] = nt
                lab[v] = lu
                if size >= cap:
                    return dist, lab
                size = _push(heap_t, heap_n, size, nt, v)
    return dist, lab
