"""The walking network: an undirected street graph in a metric CRS with edge travel times."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.config import DEFAULT_CROSSING_ROADS, DEFAULT_ELEVATED_HIGHWAYS

log = logging.getLogger(__name__)


@dataclass
class WalkNetwork:
    """A prepared walking network.

    Attributes
    ----------
    nodes : GeoDataFrame
        One row per node, positional index ``0..n-1``; columns ``osmid``, ``x``, ``y``
        (metres in ``crs``), ``crossing`` (a node where the crossing delay is paid, see
        :func:`crossing_nodes`; all False when the delay is off) and point ``geometry``.
    edges : GeoDataFrame
        One row per undirected edge, positional index ``0..m-1``; columns ``u``, ``v``
        (node positions), ``length_m``, ``time_s`` (walking time at the profile speed,
        with penalties, plus ``cross_u_s`` and ``cross_v_s``), ``cross_u_s`` /
        ``cross_v_s`` (half the crossing delay when node ``u`` / ``v`` is a crossing node,
        else 0), ``highway``, ``part`` (connected part, 0 = the largest) and LineString
        ``geometry`` running from ``u`` to ``v``.
    crs : pyproj.CRS
        The metric CRS (local UTM zone) of ``nodes`` and ``edges``.
    report : dict
        What preparation did: ways kept and dropped, components dropped, and so on.
    """

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    crs: Any
    report: dict[str, Any] = field(default_factory=dict)
    _tree: shapely.STRtree | None = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return len(self.edges)

    @property
    def edge_tree(self) -> shapely.STRtree:
        """Spatial index over edge geometries (built on first use)."""
        if self._tree is None:
            self._tree = shapely.STRtree(self.edges.geometry.values)
        return self._tree

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tree"] = None  # rebuilt on demand; GEOS trees are not pickled
        return state

    def subset(self, keep_edges: np.ndarray, report: dict[str, Any] | None = None
               ) -> WalkNetwork:
        """The network made of the edges ``keep_edges`` (boolean mask), nodes renumbered.

        Parameters
        ----------
        keep_edges : ndarray of bool
            One entry per edge.
        report : dict, optional
            Report of the new network (default: a copy of this one).
        """
        keep_edges = np.asarray(keep_edges, dtype=bool)
        edges = self.edges[keep_edges]
        used = np.unique(np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()]))
        new_pos = np.full(len(self.nodes), -1, dtype=np.int64)
        new_pos[used] = np.arange(len(used))
        edges = edges.assign(u=new_pos[edges["u"].to_numpy()],
                             v=new_pos[edges["v"].to_numpy()]).reset_index(drop=True)
        nodes = self.nodes.iloc[used].reset_index(drop=True)
        return WalkNetwork(nodes=nodes, edges=edges, crs=self.crs,
                           report=dict(self.report) if report is None else report)

    def crossing_halves(self) -> tuple[np.ndarray, np.ndarray]:
        """Half crossing delays ``(cross_u_s, cross_v_s)`` of every edge (zeros without)."""
        if "cross_u_s" not in self.edges:  # networks built without a crossing delay
            zero = np.zeros(len(self.edges))
            return zero, zero
        return (self.edges["cross_u_s"].to_numpy(np.float64),
                self.edges["cross_v_s"].to_numpy(np.float64))

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(u, v, time_s)`` arrays of the undirected edges."""
        return (self.edges["u"].to_numpy(np.int64), self.edges["v"].to_numpy(np.int64),
                self.edges["time_s"].to_numpy(np.float64))


#: Values of ``foot``/``access`` that close a way to pedestrians (unless ``foot`` opens it).
_CLOSED = {"no", "private"}
_OPEN = {"yes", "designated", "permissive", "official"}
#: ``sidewalk=*`` values saying the carriageway itself has a sidewalk (``separate`` means
#: the sidewalk is its own way, so the carriageway has none).
_SIDEWALK = {"yes", "both", "left", "right"}
_SIDEWALK_KEYS = ("sidewalk:both", "sidewalk:left", "sidewalk:right")
_MOTORWAYS = {"motorway", "motorway_link"}
#: ``bridge``/``tunnel`` values that do not lift or sink the way off the street level
#: (``building_passage``: a street running under a building through an arch).
_NOT_RAISED = {"", "no", "building_passage"}


def _first(value: Any) -> str:
    """First value of an OSM tag that may be a list after merging; '' when missing."""
    if isinstance(value, list):
        return str(value[0]) if value else ""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def merge_tag_values(values: list[Any]) -> str:
    """One tag value for an edge merged from several OSM ways: sorted unique values.

    osmnx keeps the differing values of merged segments as ``list(set(...))``, whose order
    changes with Python's string hashing, so the first value differed between runs. Here
    the distinct non-empty values are sorted and joined with ``;`` (OSM's separator for
    several values), e.g. ``"footway;residential"``; a single value stays as it is.

    Parameters
    ----------
    values : list
        The tag values of the merged segments (strings, lists of strings or missing).

    Returns
    -------
    str
        ``""`` when every value is missing.
    """
    flat: set[str] = set()
    for v in values:
        for item in v if isinstance(v, list | tuple | set) else [v]:
            text = _first(item).strip()
            if text:
                flat.update(p.strip() for p in text.split(";") if p.strip())
    return ";".join(sorted(flat))


def _tag(edges: pd.DataFrame, key: str) -> pd.Series:
    """Tag ``key`` of every edge as stripped lower-case text ('' when missing)."""
    if key not in edges:
        return pd.Series("", index=edges.index, dtype=object)
    col = edges[key]
    try:  # a few distinct values over many ways: normalise each distinct value once
        codes, uniq = pd.factorize(col, use_na_sentinel=True)
    except TypeError:  # lists (osmnx's merged edges) are unhashable
        return col.map(_first).str.strip().str.lower()
    vals = np.array([_first(u).strip().lower() for u in uniq] + [""], dtype=object)
    return pd.Series(vals[codes], index=col.index, dtype=object)


def _short_runs(u: np.ndarray, v: np.ndarray, length: np.ndarray, min_length: float
                ) -> np.ndarray:
    """Which edges belong to a connected run of edges shorter than ``min_length`` in all.

    ``u``/``v``/``length`` describe the candidate edges of a bidirectional graph (each way
    appears once per direction, so a run's way length is half its summed length).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(u) == 0 or min_length <= 0:
        return np.zeros(len(u), dtype=bool)
    ids, inv = np.unique(np.concatenate([u, v]), return_inverse=True)
    a, b = inv[:len(u)], inv[len(u):]
    adj = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(ids), len(ids)))
    _, label = connected_components(adj, directed=False)
    run_len = np.bincount(label[a], weights=length, minlength=label.max() + 1) / 2.0
    return run_len[label[a]] < min_length


def walk_policy(edges: gpd.GeoDataFrame, walkable: tuple[str, ...], *,
                exclude_motorroad: bool = True, exclude_elevated: bool = True,
                elevated_highways: tuple[str, ...] = DEFAULT_ELEVATED_HIGHWAYS,
                elevated_min_length_m: float = 60.0) -> pd.Series:
    """Why each raw OSM edge is left out of the walking network ('' when it is kept).

    Rules, in order (the first that applies is reported):

    ``highway``
        ``highway`` is not one of ``walkable``.
    ``closed``
        ``foot=no|private``, or ``access=no|private`` without ``foot=yes|designated|
        permissive|official``.
    ``motorroad``
        ``motorroad=yes`` (expressways, 快速路), ``highway=motorway|motorway_link``
        (with ``exclude_motorroad``).
    ``elevated`` / ``tunnel``
        A carriageway of ``elevated_highways`` (trunk, primary and their links) tagged
        ``bridge=*`` or ``tunnel=*`` (any value but ``no``/``building_passage``) and no
        sidewalk on it (``sidewalk=yes|both|left|right`` or ``sidewalk:both|left|right=
        yes``): elevated expressways (高架路) and road tunnels (隧道, 下立交). A bridge run
        (connected bridge ways of these classes or of motorroads) shorter than
        ``elevated_min_length_m`` is kept: a street crossing a creek, not an elevated road.

    Footways, steps, paths and pedestrian streets are never touched by the elevated/
    tunnel rule, so pedestrian bridges (天桥), underpasses (地道) and sidewalks mapped as
    their own ways (``footway=sidewalk``) stay; an explicit ``foot=yes|designated|
    permissive|official`` keeps any way the motorroad and elevated/tunnel rules would drop.

    Parameters
    ----------
    edges : GeoDataFrame
        Raw edges of an unsimplified, bidirectional osmnx graph (index ``u, v, key``)
        with their OSM tags as columns.
    walkable : tuple of str
        Walkable ``highway`` values.
    exclude_motorroad, exclude_elevated : bool, default True
        Apply the ``motorroad`` and ``elevated``/``tunnel`` rules.
    elevated_highways : tuple of str
        ``highway`` values the ``elevated``/``tunnel`` rule applies to.
    elevated_min_length_m : float, default 60
        Bridge runs shorter than this are kept (0: drop every such bridge).

    Returns
    -------
    pandas.Series
        One reason per edge (same index as ``edges``): ``''`` (kept), ``'highway'``,
        ``'closed'``, ``'motorroad'``, ``'elevated'`` or ``'tunnel'``.
    """
    reason, bridge, run = tag_policy(edges, walkable, exclude_motorroad=exclude_motorroad,
                                     exclude_elevated=exclude_elevated,
                                     elevated_highways=elevated_highways)
    uu = edges.index.get_level_values(0).to_numpy()
    vv = edges.index.get_level_values(1).to_numpy()
    settle_bridges(reason, bridge, run, uu, vv, edges["length"].to_numpy(np.float64),
                   elevated_min_length_m)
    return pd.Series(reason, index=edges.index, dtype=object)


def tag_policy(tags: pd.DataFrame, walkable: tuple[str, ...], *,
               exclude_motorroad: bool = True, exclude_elevated: bool = True,
               elevated_highways: tuple[str, ...] = DEFAULT_ELEVATED_HIGHWAYS
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tag-level part of :func:`walk_policy`, for any table of OSM way tags.

    Used on the raw osmnx edges by :func:`walk_policy` and on one row per way by the
    array builder (:mod:`geoplan.network.arraygraph`), so both apply one policy. The bridge
    run length, which needs the network, is applied afterwards by :func:`settle_bridges`.

    Parameters
    ----------
    tags : DataFrame
        One row per edge or way, the OSM tags as columns (missing columns: untagged).
    walkable, exclude_motorroad, exclude_elevated, elevated_highways
        See :func:`walk_policy`.

    Returns
    -------
    (ndarray of object, ndarray of bool, ndarray of bool)
        The reason per row (``'elevated'`` not yet set), the rows that are elevated
        carriageways unless their bridge run is short, and the rows that count towards
        bridge runs (raised carriageways and motorroads).
    """
    hw = _tag(tags, "highway")
    foot, access = _tag(tags, "foot"), _tag(tags, "access")
    foot_open = foot.isin(_OPEN).to_numpy()
    reason = np.full(len(tags), "", dtype=object)
    reason[~hw.isin(set(walkable)).to_numpy()] = "highway"
    closed = (foot.isin(_CLOSED) | (access.isin(_CLOSED) & ~foot.isin(_OPEN))).to_numpy()
    reason[(reason == "") & closed] = "closed"
    motor = (_tag(tags, "motorroad") == "yes").to_numpy() | hw.isin(_MOTORWAYS).to_numpy()
    if exclude_motorroad:
        reason[(reason == "") & motor & ~foot_open] = "motorroad"
    bridge = np.zeros(len(tags), dtype=bool)
    run = np.zeros(len(tags), dtype=bool)
    if exclude_elevated:
        sidewalk = _tag(tags, "sidewalk").isin(_SIDEWALK).to_numpy().copy()
        for key in _SIDEWALK_KEYS:
            sidewalk |= (_tag(tags, key) == "yes").to_numpy()
        raised = ~_tag(tags, "bridge").isin(_NOT_RAISED).to_numpy()
        carriage = (hw.isin(set(elevated_highways)).to_numpy() & ~sidewalk & ~foot_open
                    & (reason == ""))
        bridge = carriage & raised
        tunnel = carriage & ~raised & ~_tag(tags, "tunnel").isin(_NOT_RAISED).to_numpy()
        reason[tunnel] = "tunnel"
        # Runs are measured over every raised carriageway (motorroad parts included), so
        # a short untagged piece of an elevated road is not mistaken for a creek bridge.
        run = raised & (hw.isin(set(elevated_highways)).to_numpy() | motor)
    return reason, bridge, run


def settle_bridges(reason: np.ndarray, bridge: np.ndarray, run: np.ndarray, u: np.ndarray,
                   v: np.ndarray, length: np.ndarray, min_length: float) -> None:
    """Mark the elevated carriageways of :func:`tag_policy` whose bridge run is long.

    Parameters
    ----------
    reason, bridge, run : ndarray
        As returned by :func:`tag_policy`, one entry per directed raw edge; ``reason`` is
        set to ``'elevated'`` in place.
    u, v, length : ndarray
        End nodes and length (metres) of every edge, each way segment present in both
        directions (as in a bidirectional osmnx graph).
    min_length : float
        Bridge runs shorter than this are kept (see :func:`walk_policy`).
    """
    if not bridge.any():
        return
    bridge = bridge.copy()
    idx = np.flatnonzero(run)
    bridge[idx[_short_runs(u[idx], v[idx], length[idx], min_length)]] = False
    reason[bridge] = "elevated"


_POLICY_LABEL = {"motorroad": "motorroad/motorway", "elevated": "elevated carriageway",
                 "tunnel": "road tunnel"}


def _policy_summary(edges: gpd.GeoDataFrame, reason: pd.Series) -> dict[str, dict[str, Any]]:
    """Ways and kilometres each walking-policy rule left out (both directions counted once)."""
    osmid = edges["osmid"].map(_first).to_numpy() if "osmid" in edges else np.arange(len(edges))
    return policy_summary(reason.to_numpy(), edges["length"].to_numpy(np.float64),
                          osmid.astype(str), directions=2)


def policy_summary(reason: np.ndarray, length: np.ndarray, way: np.ndarray, *,
                   directions: int) -> dict[str, dict[str, Any]]:
    """Ways and kilometres each walking-policy rule left out.

    Parameters
    ----------
    reason : ndarray of str
        Reason per edge (see :func:`walk_policy`).
    length : ndarray of float
        Edge lengths in metres.
    way : ndarray
        OSM way id of each edge.
    directions : int
        How many times each segment is present (2 in a bidirectional graph).
    """
    out: dict[str, dict[str, Any]] = {}
    for why in ("closed", "motorroad", "elevated", "tunnel"):
        m = reason == why
        if m.any():
            out[why] = {"ways": len(np.unique(way[m])),
                        "km": round(float(length[m].sum()) / (1000.0 * directions), 3)}
    return out


#: Node tags of a mapped pedestrian crossing or traffic signal (``highway=crossing``,
#: ``highway=traffic_signals``, ``crossing=traffic_signals``).
_MAPPED_HIGHWAY = {"crossing", "traffic_signals"}
_MAPPED_CROSSING = {"traffic_signals"}
#: Ways a pedestrian walks on (not carriageways): a mapped crossing on such a way is
#: walked across, not along.
_FOOT_WAYS = {"footway", "path", "pedestrian", "steps", "cycleway", "corridor", "bridleway",
              "track", "platform"}


def crossing_nodes(u: np.ndarray, v: np.ndarray, highway: np.ndarray, footway: np.ndarray,
                   node_ids: np.ndarray, node_highway: np.ndarray, node_crossing: np.ndarray,
                   crossing_roads: tuple[str, ...] = DEFAULT_CROSSING_ROADS
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Which nodes of a walking network are at-grade crossings of a major road.

    A crossing node is either

    * an *intersection* of a major road: a node with at least three distinct neighbours
      (a junction, not a bend) with at least one way of ``crossing_roads`` (trunk,
      primary, secondary and their links by default) among its ways; or
    * a *mapped crossing*: a node tagged ``highway=crossing``, ``highway=traffic_signals``
      or ``crossing=traffic_signals`` that is a junction (three or more neighbours) or
      lies on a footway-like way (``footway``, ``path``, ``pedestrian``, ``steps``,
      ``cycleway``..., or ``footway=crossing``), where a walk goes *across* the road. A
      signal or crossing on a plain carriageway with two neighbours (the road's own
      sidewalk walks past it) is not a crossing node.

    Parameters
    ----------
    u, v : ndarray
        OSM node ids of the walkable (raw, unsimplified) edges; a way may appear in both
        directions.
    highway, footway : ndarray of str
        ``highway`` and ``footway`` tags of each edge, lower-case ('' when missing).
    node_ids : ndarray
        OSM ids of the nodes to classify; every end of an edge must be among them.
    node_highway, node_crossing : ndarray of str
        ``highway`` and ``crossing`` tags of each node, lower-case ('' when missing).
    crossing_roads : tuple of str
        Major-road ``highway`` classes.

    Returns
    -------
    major : ndarray of bool
        One per node: a major-road intersection.
    mapped : ndarray of bool
        One per node: a mapped crossing or signal walked across (may overlap ``major``).

    Raises
    ------
    ValueError
        If an edge end is not among ``node_ids``.
    """
    node_ids = np.asarray(node_ids)
    n = len(node_ids)
    if len(u) == 0 or n == 0:
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    order = np.argsort(node_ids, kind="stable")
    sorted_ids = node_ids[order]

    def pos(ids: np.ndarray) -> np.ndarray:
        p = np.minimum(np.searchsorted(sorted_ids, ids), n - 1)
        if (sorted_ids[p] != ids).any():
            raise ValueError("an edge end is not among node_ids")
        return order[p]

    a, b = pos(np.asarray(u)), pos(np.asarray(v))
    loop = a == b
    # distinct undirected neighbours: each node pair once, whatever the ways between them
    lo, hi = np.minimum(a, b)[~loop], np.maximum(a, b)[~loop]
    pairs = np.unique(lo * np.int64(n) + hi)
    degree = np.bincount(np.concatenate([pairs // n, pairs % n]), minlength=n)
    major_edge = np.isin(np.asarray(highway, dtype=object), list(crossing_roads))
    foot_edge = (np.isin(np.asarray(highway, dtype=object), list(_FOOT_WAYS))
                 | (np.asarray(footway, dtype=object) == "crossing"))
    on_major = np.zeros(n, dtype=bool)
    on_major[a[major_edge]] = True
    on_major[b[major_edge]] = True
    on_foot = np.zeros(n, dtype=bool)
    on_foot[a[foot_edge]] = True
    on_foot[b[foot_edge]] = True
    junction = degree >= 3
    tagged = (np.isin(np.asarray(node_highway, dtype=object), list(_MAPPED_HIGHWAY))
              | np.isin(np.asarray(node_crossing, dtype=object), list(_MAPPED_CROSSING)))
    return junction & on_major, tagged & (junction | on_foot)


def _node_tag(graph: Any, nodes: list[Any], key: str) -> np.ndarray:
    """Tag ``key`` of ``nodes`` in ``graph`` as stripped lower-case text ('' when missing)."""
    data = graph.nodes
    return np.array([_first(data[n].get(key)).strip().lower() for n in nodes], dtype=object)


def build_walk_network(graph: Any, speed_mps: float, steps_factor: float,
                       walkable: tuple[str, ...], *, min_share: float = 0.5,
                       exclude_motorroad: bool = True, exclude_elevated: bool = True,
                       elevated_highways: tuple[str, ...] = DEFAULT_ELEVATED_HIGHWAYS,
                       elevated_min_length_m: float = 60.0, crossing_delay_s: float = 0.0,
                       crossing_roads: tuple[str, ...] = DEFAULT_CROSSING_ROADS
                       ) -> WalkNetwork:
    """Prepare a walking network from a raw (unsimplified, WGS84) osmnx graph.

    Steps: keep walkable ways (the walking policy of :func:`walk_policy`); label the
    connected parts (``part``, 0 = the largest; every part is kept,
    :func:`geoplan.network.parts.select_parts` chooses which are analysed); simplify,
    never merging ways of different walking-time factors (steps and the rest) and keeping
    a network that is one closed loop; project to the local UTM zone; make undirected;
    compute edge times from the projected length, speed and the steps penalty, so
    ``time_s`` and ``length_m`` agree and time grows evenly along every edge.

    Crossing delay (``crossing_delay_s`` > 0): the crossing nodes of
    :func:`crossing_nodes` stay nodes through simplification, and every edge end at a
    crossing node gets half the delay (``cross_u_s``/``cross_v_s``, included in
    ``time_s``), so a walk *through* a crossing node pays the whole delay once, on the
    graph and from points snapped onto edges (:class:`geoplan.network.snapping.SnappedPoints`
    adds the half at the node to the along-edge time, and a walk between two points of
    the same edge pays none). It is a node-level approximation without turn costs: a
    walk through the node pays whether it crosses the major road or walks along it past
    a side street's mouth; a dual carriageway mapped as two ways is two crossings; a walk
    that starts or ends exactly at a crossing node pays half. Delay 0 leaves the network
    exactly as without the setting.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        Raw graph as returned by :func:`geoplan.sources.osm.graph_from_osm_files`.
    speed_mps : float
        Walking speed in metres per second.
    steps_factor : float
        Time multiplier for ``highway=steps``.
    walkable : tuple of str
        Walkable ``highway`` values.
    min_share : float, default 0.5
        Smallest share of walkable way length the largest connected part must hold;
        below it the network is considered disconnected and an error is raised.
    exclude_motorroad, exclude_elevated : bool, default True
        Walking-policy rules, see :func:`walk_policy`.
    elevated_highways : tuple of str
        Carriageway classes of the elevated/tunnel rule, see :func:`walk_policy`.
    elevated_min_length_m : float, default 60
        Bridge runs shorter than this are kept, see :func:`walk_policy`.
    crossing_delay_s : float, default 0
        Seconds paid for walking through a crossing node (0: off).
    crossing_roads : tuple of str
        Major-road classes of :func:`crossing_nodes`.

    Returns
    -------
    WalkNetwork

    Raises
    ------
    NetworkError
        If no walkable way remains or the network falls apart into pieces.
    """
    import networkx as nx
    import osmnx as ox

    from geoplan.errors import NetworkError

    report: dict[str, Any] = {"raw_nodes": graph.number_of_nodes(),
                              "raw_edges": graph.number_of_edges()}
    if graph.number_of_edges() == 0:
        raise NetworkError("the OSM source holds no ways; check the file or the download area")
    edges = ox.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=False)
    reason = walk_policy(edges, walkable, exclude_motorroad=exclude_motorroad,
                         exclude_elevated=exclude_elevated,
                         elevated_highways=elevated_highways,
                         elevated_min_length_m=elevated_min_length_m)
    keep = (reason == "").to_numpy()
    g = graph.copy()
    g.remove_edges_from(edges.index[~keep].tolist())
    g.remove_nodes_from(list(nx.isolates(g)))
    report["non_walkable_edges_dropped"] = int((~keep).sum())
    report["policy_dropped"] = _policy_summary(edges, reason)
    for why in ("motorroad", "elevated", "tunnel"):
        if why in report["policy_dropped"]:
            d = report["policy_dropped"][why]
            log.info("walking policy: left out %d %s ways (%.1f km)", d["ways"],
                     _POLICY_LABEL[why], d["km"])
    if g.number_of_edges() == 0:
        raise NetworkError("no walkable way in the OSM source (checked highway=* against "
                           "walking.walkable_highways and the walking policy); is this a "
                           "street network?")
    # Walking-time factor of every raw edge: ways of different factors are never merged
    # by the simplification below, so time grows evenly along each simplified edge.
    hw = nx.get_edge_attributes(g, "highway")
    length = nx.get_edge_attributes(g, "length")
    factor = {k: steps_factor if _first(hw.get(k)) == "steps" else 1.0 for k in length}
    nx.set_edge_attributes(g, factor, "walk_factor")
    n_cross = _mark_crossings(g, edges[keep], crossing_delay_s, crossing_roads, report)

    # Connected parts, largest first (ties by their smallest OSM node id: deterministic).
    comps = sorted(nx.weakly_connected_components(g), key=lambda c: (-len(c), min(c)))
    part_of = {n: i for i, c in enumerate(comps) for n in c}
    comp_len = np.zeros(len(comps))
    for (a, _b, _k), ln in length.items():
        comp_len[part_of[a]] += ln / 2.0
    total_len = float(comp_len.sum())
    main_len = float(comp_len[0])
    # Every part is kept here (the cache does not depend on where people live); the
    # pipeline keeps the parts that hold homes or facilities no other part reaches and
    # drops the rest (geoplan.network.parts), so nobody is lost to a "small part".
    report.update(components=len(comps), other_parts=len(comps) - 1,
                  other_parts_nodes=sum(len(c) for c in comps[1:]),
                  other_parts_length_m=round(float(total_len - main_len), 1),
                  kept_length_share=round(float(main_len / total_len), 4) if total_len else 0.0)
    if total_len and main_len / total_len < min_share:
        raise NetworkError(f"the walking network is disconnected: its largest part holds only "
                           f"{main_len / total_len:.0%} of {total_len / 1000:.1f} km of ways in "
                           f"{len(comps)} parts; use OSM extracts that adjoin or one larger area")
    # remove_rings=False: a network that is one closed loop is a network, not clutter;
    # edge_attrs_differ: a node where the walking-time factor changes (footway meets
    # steps) stays a node, so no edge mixes steps with other ways; merged highway/name
    # values are sorted and joined (not hash-order dependent).
    # node_attrs_include: crossing nodes (marked only when the delay is on) stay nodes.
    main = ox.simplify_graph(g, node_attrs_include=["crossing_delay"],
                             edge_attrs_differ=["walk_factor"], remove_rings=False,
                             edge_attr_aggs={"length": sum, "walk_factor": max,
                                             "highway": merge_tag_values,
                                             "name": merge_tag_values})
    main = ox.project_graph(main)
    und = ox.convert.to_undirected(main)
    nodes, edges = ox.graph_to_gdfs(und, fill_edge_geometry=True)
    crs = nodes.crs
    pos = pd.Series(np.arange(len(nodes)), index=nodes.index)
    u = pos.loc[edges.index.get_level_values(0)].to_numpy()
    v = pos.loc[edges.index.get_level_values(1)].to_numpy()
    geom = edges.geometry.to_numpy()
    # osmnx may store an undirected edge's geometry running v->u; orient every line u->v.
    start = shapely.get_point(geom, 0)
    upt = shapely.points(nodes["x"].to_numpy()[u], nodes["y"].to_numpy()[u])
    vpt = shapely.points(nodes["x"].to_numpy()[v], nodes["y"].to_numpy()[v])
    flip = shapely.distance(start, vpt) < shapely.distance(start, upt)
    geom = np.where(flip, shapely.reverse(geom), geom)
    length_m = shapely.length(geom)
    # Times from the projected lengths (the same as length_m), not osmnx's spherical ones.
    walk_factor = edges["walk_factor"].map(
        lambda f: max(f) if isinstance(f, list) else f).to_numpy(np.float64)
    time_s = length_m / speed_mps * walk_factor
    is_cross = np.zeros(len(nodes), dtype=bool)
    if n_cross and "crossing_delay" in nodes:
        is_cross = nodes["crossing_delay"].notna().to_numpy()
    cross_u = np.where(is_cross[u], crossing_delay_s / 2.0, 0.0)
    cross_v = np.where(is_cross[v], crossing_delay_s / 2.0, 0.0)
    time_s = time_s + cross_u + cross_v
    out_edges = gpd.GeoDataFrame({
        "u": u.astype(np.int64), "v": v.astype(np.int64),
        "osm_u": edges.index.get_level_values(0).to_numpy(),
        "osm_v": edges.index.get_level_values(1).to_numpy(),
        "length_m": length_m, "time_s": time_s, "cross_u_s": cross_u, "cross_v_s": cross_v,
        "highway": edges["highway"].map(lambda v: merge_tag_values([v])).to_numpy(),
        "name": (edges["name"].map(lambda v: merge_tag_values([v])).to_numpy()
                 if "name" in edges else ""),
        "part": pd.Series(part_of).reindex(edges.index.get_level_values(0)).to_numpy(
            np.int64),
    }, geometry=geom, crs=crs)
    out_nodes = gpd.GeoDataFrame({"osmid": nodes.index.to_numpy(),
                                  "x": nodes["x"].to_numpy(), "y": nodes["y"].to_numpy(),
                                  "crossing": is_cross},
                                 geometry=nodes.geometry.to_numpy(), crs=crs)
    report.update(nodes=len(out_nodes), edges=len(out_edges),
                  length_km=round(float(length_m.sum()) / 1000, 3), crs=str(crs),
                  part_length_m=[round(float(x), 1) for x in comp_len])
    return WalkNetwork(nodes=out_nodes, edges=out_edges, crs=crs, report=report)


def _mark_crossings(g: Any, edges: gpd.GeoDataFrame, delay_s: float,
                    crossing_roads: tuple[str, ...], report: dict[str, Any]) -> int:
    """Find the crossing nodes of the walkable raw graph ``g``, mark them when the delay is on.

    Marked nodes get the attribute ``crossing_delay`` (kept through simplification). The
    counts go to ``report`` (``crossing_nodes``, ``crossing_major``, ``crossing_mapped``);
    with a delay but no crossing node a note is logged (not an error: a network of
    footways and residential streets has nothing to wait for).

    Returns
    -------
    int
        Number of marked nodes (0 when the delay is off).
    """
    nodes = list(g.nodes)
    major, mapped = crossing_nodes(
        edges.index.get_level_values(0).to_numpy(), edges.index.get_level_values(1).to_numpy(),
        _tag(edges, "highway").to_numpy(), _tag(edges, "footway").to_numpy(),
        np.asarray(nodes), _node_tag(g, nodes, "highway"), _node_tag(g, nodes, "crossing"),
        crossing_roads)
    cross = settle_crossings(major, mapped, delay_s, crossing_roads, report)
    if not cross.any():
        return 0
    import networkx as nx

    nx.set_node_attributes(g, {nodes[i]: delay_s for i in np.flatnonzero(cross)},
                           "crossing_delay")
    return int(cross.sum())


def settle_crossings(major: np.ndarray, mapped: np.ndarray, delay_s: float,
                     crossing_roads: tuple[str, ...], report: dict[str, Any]) -> np.ndarray:
    """Report the crossing nodes and say which pay the delay (both network builders).

    Parameters
    ----------
    major, mapped : ndarray of bool (n_nodes,)
        From :func:`crossing_nodes`.
    delay_s : float
        Seconds per crossing (0: off).
    crossing_roads : tuple of str
        The road classes, for the note.
    report : dict
        Receives ``crossing_delay_s``, ``crossing_nodes``, ``crossing_major`` and
        ``crossing_mapped``.

    Returns
    -------
    ndarray of bool (n_nodes,)
        Nodes where the delay is paid: none when it is off, or (with a logged note, not an
        error: footways and residential streets have nothing to wait for) when no node
        qualifies.
    """
    cross = major | mapped
    report["crossing_delay_s"] = float(delay_s)
    report.update(crossing_nodes=int(cross.sum()), crossing_major=int(major.sum()),
                  crossing_mapped=int((mapped & ~major).sum()))
    if delay_s <= 0:
        return np.zeros(len(cross), dtype=bool)
    if not cross.any():
        log.warning("walking.crossing_delay_s = %g s, but the walking network has no "
                    "intersection of walking.crossing_roads (%s) and no mapped crossing or "
                    "signal: no delay is added", delay_s, ", ".join(crossing_roads))
        return cross
    log.info("crossing delay: %g s at %d nodes (%d major-road intersections, %d more mapped "
             "crossings or signals)", delay_s, int(cross.sum()), int(major.sum()),
             int((mapped & ~major).sum()))
    return cross
