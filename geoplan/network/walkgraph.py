"""The walking network: an undirected street graph in a metric CRS with edge travel times."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


@dataclass
class WalkNetwork:
    """A prepared walking network.

    Attributes
    ----------
    nodes : GeoDataFrame
        One row per node, positional index ``0..n-1``; columns ``osmid``, ``x``, ``y``
        (metres in ``crs``) and point ``geometry``.
    edges : GeoDataFrame
        One row per undirected edge, positional index ``0..m-1``; columns ``u``, ``v``
        (node positions), ``length_m``, ``time_s`` (walking time at the profile speed,
        with penalties), ``highway``, ``part`` (connected part, 0 = the largest) and
        LineString ``geometry`` running from ``u`` to ``v``.
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

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(u, v, time_s)`` arrays of the undirected edges."""
        return (self.edges["u"].to_numpy(np.int64), self.edges["v"].to_numpy(np.int64),
                self.edges["time_s"].to_numpy(np.float64))


#: Values of ``foot``/``access`` that close a way to pedestrians (unless ``foot`` opens it).
_CLOSED = {"no", "private"}
_OPEN = {"yes", "designated", "permissive", "official"}


def _first(value: Any) -> str:
    """First value of an OSM tag that may be a list after merging; '' when missing."""
    if isinstance(value, list):
        return str(value[0]) if value else ""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _walkable_mask(edges: gpd.GeoDataFrame, walkable: tuple[str, ...]) -> np.ndarray:
    hw = edges["highway"].map(_first) if "highway" in edges else None
    if hw is None:
        return np.zeros(len(edges), dtype=bool)
    ok = hw.isin(set(walkable)).to_numpy()
    foot = edges["foot"].map(_first) if "foot" in edges else hw.map(lambda _: "")
    access = edges["access"].map(_first) if "access" in edges else hw.map(lambda _: "")
    closed = (foot.isin(_CLOSED) | (access.isin(_CLOSED) & ~foot.isin(_OPEN))).to_numpy()
    return ok & ~closed


def build_walk_network(graph: Any, speed_mps: float, steps_factor: float,
                       walkable: tuple[str, ...], *, min_share: float = 0.5) -> WalkNetwork:
    """Prepare a walking network from a raw (unsimplified, WGS84) osmnx graph.

    Steps: keep walkable ways (``highway`` in ``walkable`` and not closed by
    ``foot``/``access``); label the connected parts (``part``, 0 = the largest; every
    part is kept, :func:`geoplan.network.parts.select_parts` chooses which are analysed);
    simplify; project to the local UTM zone; make undirected; compute edge times from
    length, speed and the steps penalty.

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
    keep = _walkable_mask(edges, walkable)
    g = graph.copy()
    g.remove_edges_from(edges.index[~keep].tolist())
    g.remove_nodes_from(list(nx.isolates(g)))
    report["non_walkable_edges_dropped"] = int((~keep).sum())
    if g.number_of_edges() == 0:
        raise NetworkError("no walkable way in the OSM source (checked highway=* against "
                           "walking.walkable_highways); is this a street network?")
    # Edge times before simplification so that steps keep their own penalty.
    hw = nx.get_edge_attributes(g, "highway")
    length = nx.get_edge_attributes(g, "length")
    times = {k: length[k] / speed_mps * (steps_factor if _first(hw.get(k)) == "steps" else 1.0)
             for k in length}
    nx.set_edge_attributes(g, times, "time_s")

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
    main = ox.simplify_graph(g, edge_attr_aggs={"length": sum, "time_s": sum})
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
    time_s = edges["time_s"].to_numpy(np.float64)
    out_edges = gpd.GeoDataFrame({
        "u": u.astype(np.int64), "v": v.astype(np.int64),
        "osm_u": edges.index.get_level_values(0).to_numpy(),
        "osm_v": edges.index.get_level_values(1).to_numpy(),
        "length_m": length_m, "time_s": time_s,
        "highway": edges["highway"].map(_first).to_numpy(),
        "name": edges["name"].map(_first).to_numpy() if "name" in edges else "",
        "part": np.array([part_of[n] for n in edges.index.get_level_values(0)],
                         dtype=np.int64),
    }, geometry=geom, crs=crs)
    out_nodes = gpd.GeoDataFrame({"osmid": nodes.index.to_numpy(),
                                  "x": nodes["x"].to_numpy(), "y": nodes["y"].to_numpy()},
                                 geometry=nodes.geometry.to_numpy(), crs=crs)
    report.update(nodes=len(out_nodes), edges=len(out_edges),
                  length_km=round(float(length_m.sum()) / 1000, 3), crs=str(crs),
                  part_length_m=[round(float(x), 1) for x in comp_len])
    return WalkNetwork(nodes=out_nodes, edges=out_edges, crs=crs, report=report)
