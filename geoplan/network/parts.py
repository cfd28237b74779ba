"""Which connected parts of the walking network are analysed.

OSM extracts hold, besides the main street network, small disconnected pieces (a footway
inside a campus, a path cut off at the extract's edge) and sometimes whole separate
networks (two extracts that do not adjoin, an island). Dropping every part but the
largest loses the residents and facilities of the others without a word; keeping every
part lets homes snap to a 30 m fragment from which nothing is reachable.

The rule here: a part other than the largest is analysed (on its own: walking times
never cross between parts, as Dijkstra stays inside a connected part) when it is the
nearest way, within ``snap_max_m``, of at least one home or facility that lies farther
than ``snap_max_m`` from the largest part, i.e. a point that only this part can serve;
every other small part is dropped and its points attach to the nearest way that is kept,
as before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import shapely

from geoplan.network.walkgraph import WalkNetwork

__all__ = ["PartSelection", "select_parts"]


@dataclass(frozen=True)
class PartSelection:
    """The network parts kept for the analysis.

    Attributes
    ----------
    network : WalkNetwork
        The network of the kept parts (nodes renumbered; ``edges.part`` keeps the part
        labels of the full network).
    kept : tuple of int
        Part labels kept (0, the largest part, always).
    dropped_parts, dropped_nodes : int
        Parts and nodes left out.
    dropped_length_m : float
        Length of the ways left out.
    """

    network: WalkNetwork
    kept: tuple[int, ...]
    dropped_parts: int
    dropped_nodes: int
    dropped_length_m: float
    part_length_m: dict[int, float] = field(default_factory=dict)


def select_parts(net: WalkNetwork, points: np.ndarray, snap_max_m: float) -> PartSelection:
    """Keep the largest part and every part that alone serves some of ``points``.

    Parameters
    ----------
    net : WalkNetwork
        The prepared network with every part (``edges.part``; 0 = the largest).
    points : ndarray of shapely Points
        Homes (demand points) and facilities, in the network's CRS.
    snap_max_m : float
        Points farther than this from the largest part need another part to be served.

    Returns
    -------
    PartSelection
    """
    edges = net.edges
    part = (edges["part"].to_numpy(np.int64) if "part" in edges
            else np.zeros(len(edges), dtype=np.int64))
    keep_part = np.zeros(int(part.max()) + 1 if len(part) else 1, dtype=bool)
    keep_part[0] = True
    points = np.asarray(points, dtype=object)
    if len(points) and keep_part.size > 1:
        geom = edges.geometry.to_numpy()
        # nearest way of each point, among all parts (ties: lowest edge, deterministic)
        (pidx, eidx), dist = net.edge_tree.query_nearest(points, all_matches=False,
                                                         return_distance=True)
        nearest_part = np.zeros(len(points), dtype=np.int64)
        nearest_part[pidx] = part[eidx]
        d_near = np.full(len(points), np.inf)
        d_near[pidx] = dist
        # a part serves a point within the snap limit of it, and only then
        cand = (nearest_part != 0) & (d_near <= snap_max_m)
        if cand.any():
            main_tree = shapely.STRtree(geom[part == 0])
            _, d_main = main_tree.query_nearest(points[cand], all_matches=False,
                                                return_distance=True)
            d_main_all = np.zeros(len(points))
            d_main_all[np.flatnonzero(cand)] = d_main
            alone = cand & (d_main_all > snap_max_m)
            keep_part[np.unique(nearest_part[alone])] = True
    keep_edges = keep_part[part]
    lengths = edges["length_m"].to_numpy(np.float64)
    part_len = np.bincount(part, weights=lengths, minlength=keep_part.size)
    node_part = np.full(len(net.nodes), -1, dtype=np.int64)
    node_part[edges["u"].to_numpy()] = part
    node_part[edges["v"].to_numpy()] = part
    dropped_nodes = int(((node_part >= 0) & ~keep_part[np.maximum(node_part, 0)]).sum())
    kept = tuple(int(p) for p in np.flatnonzero(keep_part))
    report = dict(net.report)
    report.update(parts_analysed=len(kept), dropped_components=int((~keep_part).sum()),
                  dropped_nodes=dropped_nodes,
                  dropped_length_m=round(float(lengths[~keep_edges].sum()), 1))
    sub = (dataclasses.replace(net, report=report) if keep_edges.all()
           else net.subset(keep_edges, report))
    return PartSelection(network=sub, kept=kept, dropped_parts=int((~keep_part).sum()),
                         dropped_nodes=dropped_nodes,
                         dropped_length_m=float(lengths[~keep_edges].sum()),
                         part_length_m={int(p): float(part_len[p]) for p in kept})
