"""Build the walking network straight from OSM arrays (no networkx, no per-way objects).

:func:`build_walk_network_arrays` gives the same :class:`WalkNetwork` as
:func:`geoplan.network.walkgraph.build_walk_network` on the osmnx graph of the same data
(same nodes, same edges, lengths equal to rounding), but works on the node and way arrays of
:class:`geoplan.sources.osm_read.OsmTables` with numpy, scipy and one compiled loop, so that a
district or a city is prepared in seconds rather than minutes. The walking policy itself
is not repeated here: the way-level tag table goes through the same
:func:`geoplan.network.walkgraph.tag_policy` and :func:`~geoplan.network.walkgraph.settle_bridges`
as the osmnx edges do.

Semantics reproduced from the osmnx path (``graph_from_xml(bidirectional=True)``, then
``simplify_graph(edge_attrs_differ=["walk_factor"], remove_rings=False)``,
``project_graph`` and ``convert.to_undirected``):

* every pair of consecutive distinct nodes of a walkable way is a segment; its length is the
  great-circle distance (osmnx's formula and earth radius), its walking-time factor
  ``steps_factor`` on ``highway=steps`` and 1 elsewhere;
* every connected part is kept and labelled (``part``, 0 = the largest by node count, ties
  by the smallest OSM node id), with the same share check on the largest;
* a node is an endpoint unless it has exactly two neighbours, each joined by exactly one
  segment (osmnx's rules for a bidirectional graph), and its segments share one factor;
  chains of segments between endpoints become one edge measured on the projected line,
  whose time is that length at the profile speed times the factor; a ring without any
  endpoint stays one edge per segment;
* merged ``highway`` and ``name`` are the sorted distinct values joined with ``;``
  (:func:`geoplan.network.walkgraph.merge_tag_values`);
* the two copies of a segment between endpoints that come from the same way are one edge,
  segments of different ways stay parallel edges;
* coordinates are projected to the UTM zone that geopandas estimates for the nodes;
* crossing delay: the crossing nodes of :func:`geoplan.network.walkgraph.crossing_nodes`
  (on the walkable segments, with the ``highway``/``crossing`` node tags read by
  :func:`geoplan.sources.osm_read.read_osm`) are endpoints when the delay is on, and each
  edge end at one holds half the delay (``cross_u_s``/``cross_v_s``, included in
  ``time_s``), as osmnx's ``node_attrs_include`` keeps them in the osmnx path.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numba import njit
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geoplan.config import DEFAULT_CROSSING_ROADS, DEFAULT_ELEVATED_HIGHWAYS
from geoplan.errors import NetworkError
from geoplan.network.walkgraph import (
    WalkNetwork,
    _tag,
    crossing_nodes,
    merge_tag_values,
    policy_summary,
    settle_bridges,
    settle_crossings,
    tag_policy,
)
from geoplan.sources.osm_read import OsmTables

log = logging.getLogger(__name__)

#: osmnx's mean earth radius (metres) for great-circle edge lengths.
EARTH_RADIUS_M = 6_371_009.0


def great_circle_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray,
                   lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres, the formula osmnx uses for edge lengths."""
    y1, y2 = np.deg2rad(lat1), np.deg2rad(lat2)
    dy = y2 - y1
    dx = np.deg2rad(lon2) - np.deg2rad(lon1)
    h = np.sin(dy / 2) ** 2 + np.cos(y1) * np.cos(y2) * np.sin(dx / 2) ** 2
    h = np.minimum(1, h)
    return 2 * np.arcsin(np.sqrt(h)) * EARTH_RADIUS_M


@njit(cache=True)
def _walk_chains(is_end: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray,
                 indptr: np.ndarray, inc: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                              np.ndarray, np.ndarray]:
    """Follow every segment chain from an endpoint to the next endpoint, each chain once.

    Returns node sequences and segment sequences of the chains with their offsets.
    """
    m = len(seg_a)
    used = np.zeros(m, np.bool_)
    nodes = np.empty(2 * m + 1, np.int64)
    segs = np.empty(m + 1, np.int64)
    node_ptr = np.zeros(m + 1, np.int64)
    seg_ptr = np.zeros(m + 1, np.int64)
    pn = 0
    ps = 0
    nc = 0
    for e in range(len(is_end)):
        if not is_end[e]:
            continue
        for j in range(indptr[e], indptr[e + 1]):
            s = inc[j]
            if used[s]:
                continue
            nodes[pn] = e
            pn += 1
            cur = e
            while True:
                used[s] = True
                segs[ps] = s
                ps += 1
                nxt = seg_b[s] if seg_a[s] == cur else seg_a[s]
                nodes[pn] = nxt
                pn += 1
                if is_end[nxt]:
                    break
                found = -1
                for k in range(indptr[nxt], indptr[nxt + 1]):
                    if not used[inc[k]]:
                        found = inc[k]
                        break
                if found < 0:
                    break
                s = found
                cur = nxt
            nc += 1
            node_ptr[nc] = pn
            seg_ptr[nc] = ps
    return nodes[:pn], node_ptr[:nc + 1], segs[:ps], seg_ptr[:nc + 1]


def _utm_crs(lon: np.ndarray, lat: np.ndarray) -> pyproj.CRS:
    """The metric CRS osmnx's ``project_graph`` chooses for these node coordinates."""
    cy = float(np.mean(lat))  # only decides between UTM and the polar UPS zones
    if cy < -80:
        return pyproj.CRS("epsg:32761")
    if cy > 84:
        return pyproj.CRS("epsg:32661")
    # geopandas picks the zone from the centre of the total bounds: two corner points do
    pts = gpd.GeoSeries(gpd.points_from_xy([lon.min(), lon.max()], [lat.min(), lat.max()]),
                        crs=4326)
    return pts.estimate_utm_crs()


def _merged_values(values: np.ndarray, chain_of_seg: np.ndarray, way_of_seg: np.ndarray,
                   n_chain: int) -> np.ndarray:
    """One tag value per chain: :func:`merge_tag_values` of its segments' way values.

    ``values`` holds one raw tag value per way. Chains whose segments share one value (most
    of them) take it directly; the others are merged in Python.
    """
    try:  # few distinct values over many ways: normalise each distinct value once
        raw_codes, raw_uniq = pd.factorize(values, use_na_sentinel=True)
        per_value = [merge_tag_values([v]) for v in raw_uniq] + [merge_tag_values([None])]
        norm = np.array(per_value, dtype=object)[raw_codes]
    except TypeError:  # unhashable values (lists)
        norm = np.array([merge_tag_values([v]) for v in values], dtype=object)
    codes, uniq = pd.factorize(norm)
    seg_code = codes[way_of_seg]
    starts = np.flatnonzero(np.r_[True, chain_of_seg[1:] != chain_of_seg[:-1]])
    lo = np.minimum.reduceat(seg_code, starts)
    hi = np.maximum.reduceat(seg_code, starts)
    out = np.asarray(uniq, dtype=object)[lo]
    for c in np.flatnonzero(lo != hi):
        sel = seg_code[starts[c]:(starts[c + 1] if c + 1 < len(starts) else len(seg_code))]
        out[c] = merge_tag_values(list(np.asarray(uniq, dtype=object)[np.unique(sel)]))
    assert len(out) == n_chain
    return out


def build_walk_network_arrays(tables: OsmTables, speed_mps: float, steps_factor: float,
                              walkable: tuple[str, ...], *,
                              min_share: float = 0.5, where: str = "",
                              exclude_motorroad: bool = True, exclude_elevated: bool = True,
                              elevated_highways: tuple[str, ...] = DEFAULT_ELEVATED_HIGHWAYS,
                              elevated_min_length_m: float = 60.0,
                              crossing_delay_s: float = 0.0,
                              crossing_roads: tuple[str, ...] = DEFAULT_CROSSING_ROADS
                              ) -> WalkNetwork:
    """Prepare a walking network from streamed OSM arrays.

    Parameters
    ----------
    tables : OsmTables
        Nodes and highway ways as read by :func:`geoplan.sources.osm_read.read_osm`.
    speed_mps : float
        Walking speed in metres per second.
    steps_factor : float
        Time multiplier for ``highway=steps``.
    walkable : tuple of str
        Walkable ``highway`` values.
    min_share : float, default 0.5
        Smallest share of walkable way length the largest connected part must hold.
    where : str, optional
        Where the ways were read (for the error message), e.g. " inside the study boundary".
    exclude_motorroad, exclude_elevated, elevated_highways, elevated_min_length_m
        The walking policy, see :func:`geoplan.network.walkgraph.walk_policy`.
    crossing_delay_s : float, default 0
        Seconds paid for walking through a crossing node (0: off), see
        :func:`geoplan.network.walkgraph.build_walk_network`.
    crossing_roads : tuple of str
        Major-road classes of :func:`geoplan.network.walkgraph.crossing_nodes`.

    Returns
    -------
    WalkNetwork
        Same content as :func:`geoplan.network.walkgraph.build_walk_network` on the osmnx
        graph of the same data.

    Raises
    ------
    NetworkError
        If no walkable way remains or the network falls apart into pieces.
    """
    report: dict[str, Any] = {"raw_nodes": len(tables.node_id)}
    n_ways = len(tables.way_id)
    lens = np.diff(tables.way_offsets)
    pos = tables.node_index(tables.refs)
    # segment k joins refs k and k+1 of the same way
    way_of_ref = np.repeat(np.arange(n_ways), lens)
    last = np.zeros(len(tables.refs), dtype=bool)
    last[tables.way_offsets[1:] - 1] = True
    first_ref = np.flatnonzero(~last)
    seg_way = way_of_ref[first_ref]
    a, b = pos[first_ref], pos[first_ref + 1]
    valid = (a >= 0) & (b >= 0) & (a != b)
    seg_way, a, b = seg_way[valid], a[valid], b[valid]
    report["raw_edges"] = 2 * len(a)
    length = great_circle_m(tables.lat[a], tables.lon[a], tables.lat[b], tables.lon[b])
    # the walking policy of the osmnx path: tag rules once per way, bridge runs on the
    # segments (given in both directions, as the bidirectional osmnx graph has them)
    w_reason, w_bridge, w_run = tag_policy(tables.way_tags, walkable,
                                           exclude_motorroad=exclude_motorroad,
                                           exclude_elevated=exclude_elevated,
                                           elevated_highways=elevated_highways)
    reason = np.concatenate([w_reason[seg_way]] * 2)
    settle_bridges(reason, np.concatenate([w_bridge[seg_way]] * 2),
                   np.concatenate([w_run[seg_way]] * 2), np.concatenate([a, b]),
                   np.concatenate([b, a]), np.concatenate([length, length]),
                   elevated_min_length_m)
    reason = reason[:len(a)]
    keep = reason == ""
    report["non_walkable_edges_dropped"] = 2 * int((~keep).sum())
    report["policy_dropped"] = policy_summary(reason, length, tables.way_id[seg_way],
                                              directions=1)
    seg_way, a, b, length = seg_way[keep], a[keep], b[keep], length[keep]
    if len(a) == 0:
        raise NetworkError(f"no walkable way in the OSM source{where} (checked highway=* against "
                           "walking.walkable_highways and the walking policy); is this a "
                           "street network?")
    # raw OSM tags are plain text or missing: _first is fillna("") here, vectorised
    hw = tables.way_tags["highway"].fillna("").astype(str).to_numpy(dtype=object)
    factor = np.where((hw == "steps")[seg_way], steps_factor, 1.0)
    used, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    marked = _crossings(tables, seg_way, tables.node_id[a], tables.node_id[b],
                        tables.node_id[used], crossing_delay_s, crossing_roads, report)

    # connected parts, largest (by node count) first, ties by their smallest OSM id
    la, lb = inv[:len(a)], inv[len(a):]
    nu = len(used)
    adj = coo_matrix((np.ones(len(la)), (la, lb)), shape=(nu, nu))
    n_comp, label = connected_components(adj, directed=False)
    sizes = np.bincount(label, minlength=n_comp)
    # ``used`` is sorted by OSM id: the first node of each part is its smallest id
    first_node = np.full(n_comp, nu, dtype=np.int64)
    np.minimum.at(first_node, label, np.arange(nu))
    order = np.lexsort((first_node, -sizes))
    rank = np.empty(n_comp, dtype=np.int64)
    rank[order] = np.arange(n_comp)
    part = rank[label]  # per used node
    comp_len = np.bincount(part[la], weights=length, minlength=n_comp)
    total_len = float(comp_len.sum())
    main_len = float(comp_len[0])
    report.update(components=int(n_comp), other_parts=int(n_comp - 1),
                  other_parts_nodes=int(nu - sizes[order[0]]),
                  other_parts_length_m=round(total_len - main_len, 1),
                  kept_length_share=round(main_len / total_len, 4) if total_len else 0.0)
    if total_len and main_len / total_len < min_share:
        raise NetworkError(f"the walking network is disconnected: its largest part holds only "
                           f"{main_len / total_len:.0%} of {total_len / 1000:.1f} km of ways in "
                           f"{n_comp} parts; use OSM extracts that adjoin or one larger area")

    # endpoints: osmnx's rules on a bidirectional graph, plus a change of walking-time
    # factor (steps meet other ways): simplification never merges across it
    mult = np.bincount(la, minlength=nu) + np.bincount(lb, minlength=nu)
    # distinct neighbour pairs as one int64 key each: a 1-D unique, far cheaper than
    # np.unique(axis=0) on rows (which sorts a void view)
    pairs = np.unique(np.minimum(la, lb).astype(np.int64) * nu + np.maximum(la, lb))
    n_nb = np.bincount(pairs // nu, minlength=nu) + np.bincount(pairs % nu, minlength=nu)
    f_lo = np.full(nu, np.inf)
    f_hi = np.full(nu, -np.inf)
    for ends in (la, lb):
        np.minimum.at(f_lo, ends, factor)
        np.maximum.at(f_hi, ends, factor)
    # crossing nodes (marked only when the delay is on) stay nodes
    is_end = (~((n_nb == 2) & (mult == 2)) | (f_lo != f_hi) | marked) & (mult > 0)
    ends = np.concatenate([la, lb])
    inc_seg = np.concatenate([np.arange(len(la)), np.arange(len(la))])
    srt = np.argsort(ends, kind="stable")
    inc = inc_seg[srt].astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=nu))]).astype(np.int64)
    cn, cnp, cs, csp = _walk_chains(is_end, la.astype(np.int64), lb.astype(np.int64),
                                    indptr, inc)
    # rings without any endpoint stay as they are, one edge per segment (osmnx's
    # simplify_graph with remove_rings=False leaves them untouched)
    ring = np.ones(len(la), dtype=bool)
    ring[cs] = False
    ring_seg = np.flatnonzero(ring)
    if len(ring_seg):
        cn = np.concatenate([cn, np.stack([la[ring_seg], lb[ring_seg]], axis=1).ravel()])
        cnp = np.concatenate([cnp, cnp[-1] + 2 * np.arange(1, len(ring_seg) + 1)])
        cs = np.concatenate([cs, ring_seg])
        csp = np.concatenate([csp, csp[-1] + np.arange(1, len(ring_seg) + 1)])
    n_chain = len(cnp) - 1
    seg_count = np.diff(csp)
    chain_u = cn[cnp[:-1]]
    chain_v = cn[cnp[1:] - 1]
    first_seg = cs[csp[:-1]]
    chain_way = seg_way[first_seg]
    # two copies of one segment between endpoints from the same way are one edge
    single = seg_count == 1
    dup = np.zeros(n_chain, dtype=bool)
    if single.any():
        idx = np.flatnonzero(single)
        # first of each (end pair, way id): a stable lexsort on an int64 pair key and the
        # way id (np.unique(axis=0) on stacked rows sorts a void view, several times slower)
        pair = (np.minimum(chain_u, chain_v)[idx].astype(np.int64) * nu
                + np.maximum(chain_u, chain_v)[idx])
        wid = tables.way_id[chain_way[idx]]
        o = np.lexsort((wid, pair))
        new_key = np.ones(len(o), dtype=bool)
        new_key[1:] = (pair[o][1:] != pair[o][:-1]) | (wid[o][1:] != wid[o][:-1])
        dup[idx] = True
        dup[idx[o[new_key]]] = False
    chain_of_seg = np.repeat(np.arange(n_chain), seg_count)
    name_tags = (tables.way_tags["name"] if "name" in tables.way_tags
                 else pd.Series("", index=tables.way_tags.index))
    chain_hw = _merged_values(tables.way_tags["highway"].to_numpy(dtype=object),
                              chain_of_seg, seg_way[cs], n_chain)
    chain_name = _merged_values(name_tags.to_numpy(dtype=object), chain_of_seg, seg_way[cs],
                                n_chain)

    # nodes: the endpoints and ring nodes, ordered by OSM id; project as osmnx does
    end_local = np.unique(np.concatenate([chain_u, chain_v]))
    gidx = used[end_local]  # positions in tables.node_id (sorted by id)
    crs = _utm_crs(tables.lon[gidx], tables.lat[gidx])
    tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    all_x, all_y = tr.transform(tables.lon[used], tables.lat[used])
    all_x, all_y = np.asarray(all_x), np.asarray(all_y)
    node_pos = np.full(nu, -1, dtype=np.int64)
    node_pos[end_local] = np.arange(len(end_local))

    keep_c = np.flatnonzero(~dup)
    counts = np.diff(cnp)[keep_c]
    take = np.flatnonzero(~dup[np.repeat(np.arange(n_chain), np.diff(cnp))])
    coords = np.stack([all_x[cn[take]], all_y[cn[take]]], axis=1)
    geom = shapely.linestrings(coords, indices=np.repeat(np.arange(len(keep_c)), counts))
    length_m = shapely.length(geom)
    nodes_x, nodes_y = all_x[end_local], all_y[end_local]
    osmid = tables.node_id[gidx]
    u = node_pos[chain_u[keep_c]]
    v = node_pos[chain_v[keep_c]]
    # times from the projected lengths, at the chain's one walking-time factor
    time_s = length_m / speed_mps * factor[first_seg[keep_c]]
    is_cross = marked[end_local]
    cross_u = np.where(is_cross[u], crossing_delay_s / 2.0, 0.0)
    cross_v = np.where(is_cross[v], crossing_delay_s / 2.0, 0.0)
    time_s = time_s + cross_u + cross_v
    out_edges = gpd.GeoDataFrame({
        "u": u.astype(np.int64), "v": v.astype(np.int64),
        "osm_u": osmid[u], "osm_v": osmid[v],
        "length_m": length_m, "time_s": time_s, "cross_u_s": cross_u, "cross_v_s": cross_v,
        "highway": chain_hw[keep_c], "name": chain_name[keep_c],
        "part": part[chain_u[keep_c]].astype(np.int64),
    }, geometry=geom, crs=crs)
    out_nodes = gpd.GeoDataFrame({"osmid": osmid, "x": nodes_x, "y": nodes_y,
                                  "crossing": is_cross},
                                 geometry=gpd.points_from_xy(nodes_x, nodes_y), crs=crs)
    report.update(nodes=len(out_nodes), edges=len(out_edges),
                  length_km=round(float(length_m.sum()) / 1000, 3), crs=str(crs),
                  part_length_m=[round(float(x), 1) for x in comp_len])
    return WalkNetwork(nodes=out_nodes, edges=out_edges, crs=crs, report=report)


def _crossings(tables: OsmTables, seg_way: np.ndarray, osm_a: np.ndarray, osm_b: np.ndarray,
               node_ids: np.ndarray, delay_s: float, crossing_roads: tuple[str, ...],
               report: dict[str, Any]) -> np.ndarray:
    """Crossing nodes of the walkable segments, marked only when the delay is on.

    The array side of ``walkgraph._mark_crossings``: the same rules
    (:func:`~geoplan.network.walkgraph.crossing_nodes`), report keys
    (``crossing_delay_s``, ``crossing_nodes``, ``crossing_major``, ``crossing_mapped``)
    and log lines.

    Returns
    -------
    ndarray of bool
        One per node of ``node_ids``: a node where the delay is paid (all False when
        the delay is off or no node qualifies).
    """
    hw = _tag(tables.way_tags, "highway").to_numpy(dtype=object)[seg_way]
    foot = _tag(tables.way_tags, "footway").to_numpy(dtype=object)[seg_way]
    major, mapped = crossing_nodes(osm_a, osm_b, hw, foot, node_ids,
                                   tables.node_tag("highway", node_ids),
                                   tables.node_tag("crossing", node_ids), crossing_roads)
    return settle_crossings(major, mapped, delay_s, crossing_roads, report)
