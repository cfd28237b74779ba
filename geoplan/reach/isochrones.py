"""Street-space isochrones: the walkable area reached from each facility.

An isochrone here is *not* a convex hull of reached nodes. It is the street space
reachable within a time budget - every reached edge, or the reached part of it - widened
by a short walk-in distance (``walk_in_m``) that stands for the buildings fronting the
street. Cut-off parts of edges are computed exactly from the node times:

* A position ``x`` in ``[0, 1]`` along edge ``(u, v)`` with travel time ``tau`` is reached
  at ``min(t_u + x * tau, t_v + (1 - x) * tau)``; nodes not reached have time ``inf``.
* The edge is fully reached when ``(t_u + t_v + tau) / 2 <= T``. Otherwise the reached
  part is ``[0, (T - t_u) / tau]`` (if ``t_u <= T``) and ``[1 - (T - t_v) / tau, 1]``
  (if ``t_v <= T``), clipped to ``[0, 1]``.
* On the edge a source is snapped to, the source (at fraction ``f``, off-network time
  ``o``) also reaches ``[f - r, f + r]`` with ``r = (T - o) / tau`` when ``T >= o``, even
  if neither end node is reached.
* With a crossing delay, ``tau`` is the edge's walking time and ``t_u``/``t_v`` include
  the half delay paid at a crossing node on entering the edge.

The off-network access line from a source to its attachment point is not street space
and is not drawn. Everything is vectorised over edges; Python loops run only over
thresholds and groups.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix

from geoplan import progress
from geoplan.network.snapping import SnappedPoints
from geoplan.network.walkgraph import WalkNetwork

__all__ = ["isochrones", "merge_isochrones", "reached_edge_segments"]

#: Default number of segments per quarter circle of the walk-in buffer.
DEFAULT_QUAD_SEGS = 4


@dataclass(frozen=True)
class _EdgeGeometry:
    """Vertex arrays of all edge geometries, for vectorised sub-line cutting."""

    geoms: np.ndarray  # object array of LineStrings, one per edge
    length: np.ndarray  # geometric length per edge
    coords: np.ndarray  # (n_vertices, 2)
    cum: np.ndarray  # distance of each vertex from the start of its edge
    vstart: np.ndarray  # first vertex row of each edge
    vcount: np.ndarray  # number of vertices of each edge
    u: np.ndarray
    v: np.ndarray
    tau: np.ndarray  # walking time per edge, without its crossing delays
    half_u: np.ndarray  # half crossing delay paid at the u end (0 without)
    half_v: np.ndarray

    @classmethod
    def from_network(cls, network: WalkNetwork) -> _EdgeGeometry:
        geoms = np.asarray(network.edges.geometry.values, dtype=object)
        n_edges = len(geoms)
        coords, owner = shapely.get_coordinates(geoms, return_index=True)
        vcount = np.bincount(owner, minlength=n_edges).astype(np.int64)
        vstart = np.zeros(n_edges, dtype=np.int64)
        np.cumsum(vcount[:-1], out=vstart[1:])
        step = np.zeros(len(coords), dtype=np.float64)
        if len(coords) > 1:
            step[1:] = np.hypot(*(coords[1:] - coords[:-1]).T)
        step[vstart[vcount > 0]] = 0.0  # no step across edges
        cum = np.cumsum(step)
        cum -= np.repeat(cum[vstart[vcount > 0]], vcount[vcount > 0])
        length = np.zeros(n_edges, dtype=np.float64)
        last = vstart + vcount - 1
        has = vcount > 0
        length[has] = cum[last[has]]
        u, v, tau = network.edge_arrays()
        half_u, half_v = network.crossing_halves()
        return cls(geoms=geoms, length=length, coords=coords, cum=cum, vstart=vstart,
                   vcount=vcount, u=u, v=v, tau=tau - half_u - half_v, half_u=half_u,
                   half_v=half_v)


@dataclass(frozen=True)
class _NodeTimes:
    """The entries of ``node_times`` sorted by ``source * n_nodes + node`` for lookup."""

    n_sources: int
    n_nodes: int
    rows: np.ndarray
    cols: np.ndarray
    times: np.ndarray
    keys: np.ndarray  # sorted, unique

    @classmethod
    def from_csr(cls, node_times: csr_matrix, n_sources: int, n_nodes: int) -> _NodeTimes:
        node_times = csr_matrix(node_times)
        if node_times.shape != (n_sources, n_nodes):
            msg = (f"node_times has shape {node_times.shape}, expected "
                   f"(n_sources, n_nodes) = ({n_sources}, {n_nodes})")
            raise ValueError(msg)
        # The sparsity structure is the truth: explicitly stored zeros are reached nodes.
        indptr = node_times.indptr.astype(np.int64)
        rows = np.repeat(np.arange(n_sources, dtype=np.int64), np.diff(indptr))
        cols = node_times.indices.astype(np.int64)
        times = np.asarray(node_times.data, dtype=np.float64)
        keys = rows * n_nodes + cols
        order = np.lexsort((times, keys))  # duplicates: keep the smallest time
        keys, times, rows, cols = keys[order], times[order], rows[order], cols[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        return cls(n_sources=n_sources, n_nodes=n_nodes, rows=rows[first], cols=cols[first],
                   times=times[first], keys=keys[first])

    def lookup(self, src: np.ndarray, node: np.ndarray) -> np.ndarray:
        """Time from ``src`` to ``node`` (``inf`` when not stored)."""
        key = src * self.n_nodes + node
        pos = np.searchsorted(self.keys, key)
        pos_c = np.minimum(pos, max(len(self.keys) - 1, 0))
        out = np.full(len(key), np.inf)
        if len(self.keys):
            hit = self.keys[pos_c] == key
            out[hit] = self.times[pos_c[hit]]
        return out


def _incidence(eg: _EdgeGeometry, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Node -> incident edges as CSR arrays ``(ptr, edges)``."""
    n_edges = len(eg.u)
    ends = np.concatenate([eg.u, eg.v])
    edge_ids = np.concatenate([np.arange(n_edges), np.arange(n_edges)])
    order = np.argsort(ends, kind="stable")
    ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=n_nodes), out=ptr[1:])
    return ptr, edge_ids[order].astype(np.int64)


def _reached_intervals(eg: _EdgeGeometry, inc: tuple[np.ndarray, np.ndarray],
                       nt: _NodeTimes, sources: SnappedPoints,
                       threshold_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                    np.ndarray]:
    """Merged reached intervals ``(source, edge, lo, hi)`` (fractions), sorted."""
    n_edges = len(eg.u)
    T = float(threshold_s)
    ptr, inc_edges = inc
    # Candidate (source, edge) pairs: edges at a node reached within T ...
    reached = nt.times <= T
    r_src, r_node = nt.rows[reached], nt.cols[reached]
    deg = ptr[r_node + 1] - ptr[r_node]
    rep = np.repeat(np.arange(len(r_node)), deg)
    offs = np.arange(len(rep)) - np.repeat(np.cumsum(deg) - deg, deg)
    c_src = r_src[rep]
    c_edge = inc_edges[ptr[r_node][rep] + offs]
    # ... and each source's own edge when its off-network time fits in T.
    own_ok = sources.off_s <= T
    own_src = np.flatnonzero(own_ok).astype(np.int64)
    c_src = np.concatenate([c_src, own_src])
    c_edge = np.concatenate([c_edge, sources.edge[own_ok].astype(np.int64)])
    pair = np.unique(c_src * n_edges + c_edge)
    p_src, p_edge = pair // n_edges, pair % n_edges

    tau = eg.tau[p_edge]
    # A crossing node's half delay is paid on entering the edge, not spread along it.
    t_u = nt.lookup(p_src, eg.u[p_edge]) + eg.half_u[p_edge]
    t_v = nt.lookup(p_src, eg.v[p_edge]) + eg.half_v[p_edge]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(tau > 0, (T - t_u) / tau, np.inf)  # reach from u
        b = np.where(tau > 0, 1.0 - (T - t_v) / tau, -np.inf)  # reach from v
    # Interval pieces: from u, from v, from the source on its own edge.
    g_parts = [np.arange(len(pair))[t_u <= T], np.arange(len(pair))[t_v <= T]]
    lo_parts = [np.zeros(len(g_parts[0])), np.maximum(b[t_v <= T], 0.0)]
    hi_parts = [np.minimum(a[t_u <= T], 1.0), np.ones(len(g_parts[1]))]
    if len(own_src):
        own_key = own_src * n_edges + sources.edge[own_ok].astype(np.int64)
        own_g = np.searchsorted(pair, own_key)
        f = sources.frac[own_ok].astype(np.float64)
        e_tau = eg.tau[sources.edge[own_ok]]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(e_tau > 0, (T - sources.off_s[own_ok]) / e_tau, np.inf)
        g_parts.append(own_g)
        lo_parts.append(np.maximum(f - r, 0.0))
        hi_parts.append(np.minimum(f + r, 1.0))
    g = np.concatenate(g_parts)
    lo = np.concatenate(lo_parts)
    hi = np.concatenate(hi_parts)
    keep = hi > lo  # drop empty and single-point pieces
    g, lo, hi = g[keep], lo[keep], hi[keep]
    order = np.lexsort((lo, g))
    g, lo, hi = g[order], lo[order], hi[order]
    # Merge overlapping pieces of the same edge. Offsetting by the group makes a single
    # running maximum work across groups; it only decides whether pieces touch.
    if len(g):
        run_hi = np.maximum.accumulate(g * 4.0 + hi)
        start = np.ones(len(g), dtype=bool)
        start[1:] = (g[1:] != g[:-1]) | (g[1:] * 4.0 + lo[1:] > run_hi[:-1])
        starts = np.flatnonzero(start)
        m_g = g[starts]
        m_lo = lo[starts]
        m_hi = np.maximum.reduceat(hi, starts)
    else:
        m_g = g
        m_lo, m_hi = lo, hi
    return p_src[m_g], p_edge[m_g], m_lo, m_hi


def _cut_lines(eg: _EdgeGeometry, edge: np.ndarray, lo: np.ndarray,
               hi: np.ndarray) -> np.ndarray:
    """Sub-lines of edges between fractions ``lo`` and ``hi`` (vectorised)."""
    n = len(edge)
    out = np.empty(n, dtype=object)
    if n == 0:
        return out
    full = (lo <= 0.0) & (hi >= 1.0)
    out[full] = eg.geoms[edge[full]]
    cut = np.flatnonzero(~full)
    if len(cut) == 0:
        return out
    e = edge[cut]
    length = eg.length[e]
    d0 = lo[cut] * length
    d1 = hi[cut] * length
    geoms = eg.geoms[e]
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(geoms, d0))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(geoms, d1))
    # Inner vertices: every vertex of the edge strictly between d0 and d1.
    cnt = eg.vcount[e]
    rep = np.repeat(np.arange(len(cut)), cnt)
    vert = eg.vstart[e][rep] + np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    c = eg.cum[vert]
    inner = (c > d0[rep]) & (c < d1[rep])
    inner_seg = rep[inner]
    inner_vert = vert[inner]
    n_inner = np.bincount(inner_seg, minlength=len(cut))
    n_pts = n_inner + 2
    first = np.cumsum(n_pts) - n_pts
    coords = np.empty((int(n_pts.sum()), 2), dtype=np.float64)
    coords[first] = p0
    coords[first + n_pts - 1] = p1
    rank = np.arange(len(inner_seg)) - np.repeat(np.cumsum(n_inner) - n_inner, n_inner)
    coords[first[inner_seg] + 1 + rank] = eg.coords[inner_vert]
    out[cut] = shapely.linestrings(coords, indices=np.repeat(np.arange(len(cut)), n_pts))
    return out


def _check_sources(network: WalkNetwork, sources: SnappedPoints) -> None:
    if len(sources) and (sources.edge.min() < 0 or sources.edge.max() >= network.n_edges):
        msg = "sources refer to edges that are not in the network"
        raise ValueError(msg)


def reached_edge_segments(network: WalkNetwork, sources: SnappedPoints,
                          node_times: csr_matrix,
                          threshold_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Street space reachable from each source within a time budget.

    Parameters
    ----------
    network : WalkNetwork
        The walking network; edge geometries run from ``u`` to ``v``.
    sources : SnappedPoints
        The sources (facilities) as attached to the network.
    node_times : scipy.sparse.csr_matrix, shape (n_sources, n_nodes)
        Seconds from each source to each node reached; the sparsity structure says which
        nodes are reached (an explicitly stored ``0`` is a reached node).
    threshold_s : float
        The time budget, seconds.

    Returns
    -------
    source : ndarray of int64
        Source position of each segment.
    segments : ndarray of LineString
        Reached edges or reached parts of edges, in the network CRS, sorted by source and
        edge. Overlapping pieces of an edge are merged; an edge may still give two
        segments (reached from both ends, middle not reached).
    """
    _check_sources(network, sources)
    eg = _EdgeGeometry.from_network(network)
    nt = _NodeTimes.from_csr(node_times, len(sources), network.n_nodes)
    inc = _incidence(eg, network.n_nodes)
    src, edge, lo, hi = _reached_intervals(eg, inc, nt, sources, threshold_s)
    return src, _cut_lines(eg, edge, lo, hi)


def isochrones(network: WalkNetwork, sources: SnappedPoints, node_times: csr_matrix,
               thresholds_s: Sequence[float], walk_in_m: float = 40.0,
               source_ids: Sequence | None = None, *,
               quad_segs: int = DEFAULT_QUAD_SEGS,
               threads: int | None = None) -> gpd.GeoDataFrame:
    """Street-space isochrone polygons per source and threshold.

    Parameters
    ----------
    network : WalkNetwork
        The walking network.
    sources : SnappedPoints
        The sources (facilities) as attached to the network.
    node_times : scipy.sparse.csr_matrix, shape (n_sources, n_nodes)
        Seconds from each source to each node reached within the largest threshold
        (explicit zeros count as reached).
    thresholds_s : sequence of float
        Time budgets, seconds. Rows are returned in increasing threshold order.
    walk_in_m : float, default 40.0
        Buffer around the reached street space (access from the street to buildings).
    source_ids : sequence, optional
        Identifier per source for the ``source`` column; default the source position.
    quad_segs : int, default 4
        Segments per quarter circle of the buffer.
    threads : int, optional
        Threads for the per-source buffers and unions; default the number of CPUs, at
        most 8. The polygons are the same for any number of threads.

    Returns
    -------
    GeoDataFrame
        One row per (source, threshold), sorted by source then threshold, with columns
        ``source``, ``threshold_s``, ``threshold_min`` and ``geometry`` (Polygon or
        MultiPolygon in the network CRS; an empty Polygon when nothing is reached, e.g.
        the threshold is below the source's off-network time). Polygons of one source
        are nested: a larger threshold's polygon contains every smaller one.
    """
    if not walk_in_m > 0:
        msg = f"walk_in_m must be positive, got {walk_in_m}"
        raise ValueError(msg)
    thr = np.sort(np.asarray(thresholds_s, dtype=np.float64).ravel())
    if thr.size and not np.all(np.isfinite(thr)):
        msg = "thresholds_s must be finite"
        raise ValueError(msg)
    n_src = len(sources)
    if source_ids is None:
        ids = np.arange(n_src)
    else:
        ids = np.asarray(source_ids)
        if len(ids) != n_src:
            msg = f"source_ids has {len(ids)} entries for {n_src} sources"
            raise ValueError(msg)
    _check_sources(network, sources)
    eg = _EdgeGeometry.from_network(network)
    nt = _NodeTimes.from_csr(node_times, n_src, network.n_nodes)
    inc = _incidence(eg, network.n_nodes)

    n_edges = network.n_edges
    threads = threads or min(os.cpu_count() or 1, 8)
    # Shapely releases the GIL inside GEOS, and the union per source (most of the time
    # here) is independent of every other source: threads run them in parallel.
    pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 and n_src > 1 else None
    try:
        polys = _grow_all(eg, inc, nt, sources, thr, n_edges, walk_in_m, quad_segs, pool)
    finally:
        if pool is not None:
            pool.shutdown()
    return gpd.GeoDataFrame(
        {
            "source": np.repeat(ids, len(thr)),
            "threshold_s": np.tile(thr, n_src),
            "threshold_min": np.tile(thr / 60.0, n_src),
        },
        geometry=gpd.GeoSeries(polys.ravel(), crs=network.crs),
        crs=network.crs,
    )


def _grow_all(eg: _EdgeGeometry, inc: tuple[np.ndarray, np.ndarray], nt: _NodeTimes,
              sources: SnappedPoints, thr: np.ndarray, n_edges: int, walk_in_m: float,
              quad_segs: int, pool: ThreadPoolExecutor | None) -> np.ndarray:
    """Polygons ``(n_sources, n_thresholds)``, each grown from the previous threshold's."""
    n_src = len(sources)
    polys = np.empty((n_src, len(thr)), dtype=object)
    prev = np.full(n_src, shapely.Polygon(), dtype=object)
    prev_full = np.zeros(0, dtype=np.int64)  # keys of edges fully reached at the last T
    for k, T in progress.track(list(enumerate(thr)), "isochrones", unit="threshold"):
        src, edge, lo, hi = _reached_intervals(eg, inc, nt, sources, T)
        key = src * n_edges + edge
        full = (lo <= 0.0) & (hi >= 1.0)
        # Edges fully reached at the previous threshold are already in its polygon.
        # Growing each polygon from the previous one keeps the polygons exactly nested
        # (and the buffer work incremental).
        new = ~(full & np.isin(key, prev_full))
        lines = _cut_lines(eg, edge[new], lo[new], hi[new])
        bounds = np.searchsorted(src[new], np.arange(n_src + 1))
        active = np.flatnonzero(np.diff(bounds))

        def grow(s: int, lines: np.ndarray = lines, bounds: np.ndarray = bounds,
                 prev: np.ndarray = prev) -> shapely.Geometry:
            parts = shapely.buffer(lines[bounds[s]:bounds[s + 1]], walk_in_m,
                                   quad_segs=quad_segs)
            if not prev[s].is_empty:
                parts = np.concatenate([parts, [prev[s]]])
            return shapely.union_all(parts)

        cur = prev.copy()
        # Each source's buffers and union are its own (the same parts in the same order
        # on any number of threads), so the polygons do not depend on ``threads``.
        grown = pool.map(grow, active) if pool else map(grow, active)
        for s, poly in zip(active, grown, strict=True):
            cur[s] = poly
        polys[:, k] = cur
        prev = cur
        prev_full = key[full]
    return polys


def merge_isochrones(iso: gpd.GeoDataFrame,
                     groups: Sequence[str] | np.ndarray | str) -> gpd.GeoDataFrame:
    """Union isochrones per group and threshold, e.g. per facility type.

    Parameters
    ----------
    iso : GeoDataFrame
        Output of :func:`isochrones` (columns ``source``, ``threshold_s``, ``geometry``).
    groups : sequence of str, ndarray or str
        The group of each row of ``iso``; or the group of each source, in the order the
        sources first appear in ``iso`` (as returned by :func:`isochrones`); or the name
        of a column of ``iso``.

    Returns
    -------
    GeoDataFrame
        One row per (group, threshold), sorted by group then threshold, with columns
        ``group``, ``threshold_s``, ``threshold_min`` and ``geometry`` (the union; an
        empty Polygon when all members are empty).
    """
    if isinstance(groups, str):
        if groups not in iso.columns:
            msg = f"merge_isochrones: no column {groups!r} in the isochrones"
            raise ValueError(msg)
        g = iso[groups].to_numpy()
    else:
        g = np.asarray(groups)
        if g.ndim != 1:
            msg = "merge_isochrones: groups must be one-dimensional"
            raise ValueError(msg)
        if len(g) != len(iso):
            codes, uniq = pd.factorize(iso["source"])
            if len(g) != len(uniq):
                msg = (f"merge_isochrones: {len(g)} groups for {len(iso)} rows and "
                       f"{len(uniq)} sources")
                raise ValueError(msg)
            g = g[codes]
    frame = pd.DataFrame({"group": g, "threshold_s": iso["threshold_s"].to_numpy(),
                          "pos": np.arange(len(iso))})
    geoms = np.asarray(iso.geometry.values, dtype=object)
    rows = []
    for (grp, t), part in frame.groupby(["group", "threshold_s"], sort=True):
        merged = shapely.union_all(geoms[part["pos"].to_numpy()])
        if merged.is_empty:
            merged = shapely.Polygon()
        rows.append((grp, float(t), float(t) / 60.0, merged))
    return gpd.GeoDataFrame(
        {
            "group": [r[0] for r in rows],
            "threshold_s": np.array([r[1] for r in rows], dtype=np.float64),
            "threshold_min": np.array([r[2] for r in rows], dtype=np.float64),
        },
        geometry=gpd.GeoSeries([r[3] for r in rows], crs=iso.crs),
        crs=iso.crs,
    )
