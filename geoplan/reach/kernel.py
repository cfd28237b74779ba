"""Compiled bounded Dijkstra kernels (numba).

Why not ``scipy.sparse.csgraph.dijkstra`` for the many-source case: for every source it
initialises O(N) state and it returns a dense ``sources × N`` matrix, so 10,000 sources
on a 200,000-node graph cost 2·10⁹ initialisations and 16 GB of output, although a
15-minute walk reaches only a few hundred nodes. These kernels keep one workspace per
thread, reset only the nodes a source touched, stop at the cutoff and write sparse output,
so the cost is proportional to what is reached.

The many-source kernel (``reach_block``) searches with a bucket queue on the graph as
renumbered by ``ReachGraph.local``; ``nearest_labels`` keeps a binary heap (one pass).
All kernels run on CSR arrays of :class:`geoplan.reach.csr.ReachGraph`. A source is
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
    # sift up with a hole (one write per level instead of a swap)
    i = size
    while i > 0:
        p = (i - 1) >> 1
        if heap_t[p] <= t:
            break
        heap_t[i] = heap_t[p]
        heap_n[i] = heap_n[p]
        i = p
    heap_t[i] = t
    heap_n[i] = n
    return size + 1


@njit(cache=True, nogil=True, inline="always")
def _pop(heap_t: np.ndarray, heap_n: np.ndarray, size: int) -> int:
    # remove the root: sift the last element down from the root with a hole
    size -= 1
    t = heap_t[size]
    n = heap_n[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and heap_t[c + 1] < heap_t[c]:
            c += 1
        if t <= heap_t[c]:
            break
        heap_t[i] = heap_t[c]
        heap_n[i] = heap_n[c]
        i = c
    heap_t[i] = t
    heap_n[i] = n
    return size


@njit(cache=True, nogil=True)
def _bucket_search(indptr, indices, weights, seeds_n, seeds_t, cutoff, inv_w, dist, touched,
                   head, ent_n, ent_next, ent_t):
    """Bounded label-correcting search from several seeds on a bucket queue.

    Returns how many nodes were touched, or -1 if the entry pool (``ent_*``) filled up:
    then everything is reset and the caller retries with a larger pool (the arrays are not
    regrown here: reassigning them inside the loop made the kernel 4x slower). ``dist``
    must be +inf and ``head`` -1 on entry; on exit touched nodes hold their final time and
    ``head`` is all -1 again.

    Why buckets rather than a binary heap: a 15-minute search settles a few hundred nodes,
    and the heap's sift-up/down with position updates was half the kernel's time. Buckets
    of width ``1 / inv_w`` seconds (Dial's algorithm with a float key) make push and pop
    O(1). Nodes inside one bucket are taken in LIFO order, so a node may be taken before its
    final time; it is then pushed again when improved and taken again (label correcting).
    Both this and Dijkstra compute the same fixed point, the least left-to-right float sum
    over all paths (float addition of non-negative weights is monotone), so the times are
    bit-identical to the heap kernel's whatever the bucket width; the width only sets
    speed. Times beyond the last bucket share it, negative seed times the first (the index
    is clamped, which keeps it monotone).
    """
    n_touched = 0
    m = 0
    pending = 0
    last = head.shape[0] - 1
    lo = last
    for k in range(seeds_n.shape[0]):
        s = seeds_n[k]
        t = seeds_t[k]
        if t <= cutoff and t < dist[s]:
            if dist[s] == np.inf:
                touched[n_touched] = s
                n_touched += 1
            dist[s] = t
            b = min(max(int(t * inv_w), 0), last)
            if m >= ent_n.shape[0]:
                return _abandon(dist, touched, n_touched, head)
            ent_n[m] = s
            ent_t[m] = t
            ent_next[m] = head[b]
            head[b] = m
            m += 1
            pending += 1
            if b < lo:
                lo = b
    b = lo
    while pending > 0:
        e = head[b]
        if e < 0:
            b += 1
            continue
        head[b] = ent_next[e]
        pending -= 1
        u = ent_n[e]
        t = ent_t[e]
        if t > dist[u]:  # stale: u was improved after this entry was pushed
            continue
        for a in range(indptr[u], indptr[u + 1]):
            v = indices[a]
            nt = t + weights[a]
            if nt <= cutoff and nt < dist[v]:
                if dist[v] == np.inf:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = nt
                nb = min(max(int(nt * inv_w), 0), last)
                if m >= ent_n.shape[0]:
                    return _abandon(dist, touched, n_touched, head)
                ent_n[m] = v
                ent_t[m] = nt
                ent_next[m] = head[nb]
                head[nb] = m
                m += 1
                pending += 1
    return n_touched


@njit(cache=True, nogil=True)
def _abandon(dist, touched, n_touched, head):
    for k in range(n_touched):
        dist[touched[k]] = np.inf
    head[:] = -1
    return -1


@njit(cache=True, nogil=True)
def _grow_out(out_t, out_v, pos, need):
    cap = out_t.shape[0]
    while pos + need > cap:
        cap *= 2
    a = np.empty(cap, dtype=out_t.dtype)
    b = np.empty(cap, dtype=out_v.dtype)
    a[:pos] = out_t[:pos]
    b[:pos] = out_v[:pos]
    return a, b


@njit(cache=True, nogil=True)
def reach_block(indptr, indices, weights, n_nodes, src_ptr, seed_n, seed_t, src_edge,
                src_frac, src_off, order, p0, p1, cutoff, inv_w, n_buckets, pool, n_targets,
                node_ptr, node_tgt, node_off, edge_ptr, edge_tgt, edge_frac, edge_off,
                edge_time, identity):
    """Times from sources ``order[p0:p1]`` to all targets within ``cutoff`` (sparse rows).

    Sources are taken in the given order (the engine passes them sorted by seed node, so
    consecutive searches touch nearby memory). With ``identity`` the targets are the graph
    nodes themselves (the incidence arrays are ignored) and each row lists nodes in the
    order they were first reached; otherwise target ids are ascending within each row.

    Returns
    -------
    counts : int64[p1 - p0]
        Targets reached per source, in processing order.
    tgt : int64[sum(counts)]
        Target ids.
    times : float64[sum(counts)]
        Times, seconds.
    """
    dist = np.full(n_nodes, np.inf)
    touched = np.empty(n_nodes, dtype=np.int64)
    head = np.full(n_buckets, -1, dtype=np.int32)
    # entry pool: one entry per improvement; label correcting may improve a node more than
    # once, so the pool is grown (and the source searched again) in the rare case it fills
    cap = max(pool, 1)
    ent_n = np.empty(cap, dtype=np.int32)
    ent_next = np.empty(cap, dtype=np.int32)
    ent_t = np.empty(cap, dtype=np.float64)
    n_scratch = 1 if identity else n_targets  # per-target scratch not needed for nodes
    best = np.full(n_scratch, np.inf)
    hit = np.empty(n_scratch, dtype=np.int64)
    counts = np.zeros(p1 - p0, dtype=np.int64)
    out_t = np.empty(1024, dtype=np.int64)
    out_v = np.empty(1024, dtype=np.float64)
    pos = 0
    for p in range(p0, p1):
        s = order[p]
        a, b = src_ptr[s], src_ptr[s + 1]
        nt = _bucket_search(indptr, indices, weights, seed_n[a:b], seed_t[a:b], cutoff,
                            inv_w, dist, touched, head, ent_n, ent_next, ent_t)
        while nt < 0:
            cap *= 2
            ent_n = np.empty(cap, dtype=np.int32)
            ent_next = np.empty(cap, dtype=np.int32)
            ent_t = np.empty(cap, dtype=np.float64)
            nt = _bucket_search(indptr, indices, weights, seed_n[a:b], seed_t[a:b], cutoff,
                                inv_w, dist, touched, head, ent_n, ent_next, ent_t)
        if identity:
            if pos + nt > out_t.shape[0]:
                out_t, out_v = _grow_out(out_t, out_v, pos, nt)
            for k in range(nt):
                node = touched[k]
                out_t[pos + k] = node
                out_v[pos + k] = dist[node]
                dist[node] = np.inf
            pos += nt
            counts[p - p0] = nt
            continue
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
        if pos + nh > out_t.shape[0]:
            out_t, out_v = _grow_out(out_t, out_v, pos, nh)
        ids = np.sort(hit[:nh])
        for k in range(nh):
            tg = ids[k]
            out_t[pos + k] = tg
            out_v[pos + k] = best[tg]
            best[tg] = np.inf
        pos += nh
        counts[p - p0] = nh
    return counts, out_t[:pos], out_v[:pos]


@njit(cache=True, nogil=True)
def scatter_rows(order, p0, counts, tgt, times, indptr, out_idx, out_val, id_map):
    """Copy a block's rows (in processing order ``order[p0:]``) to their CSR places.

    Target ids go through ``id_map`` when it is not empty (graph nodes searched in another
    numbering).
    """
    q = 0
    mapped = id_map.shape[0] > 0
    for k in range(counts.shape[0]):
        s = order[p0 + k]
        c = counts[k]
        d = indptr[s]
        for j in range(c):
            out_idx[d + j] = id_map[tgt[q + j]] if mapped else tgt[q + j]
            out_val[d + j] = times[q + j]
        q += c


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
