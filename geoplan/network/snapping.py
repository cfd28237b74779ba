"""Snap points (facilities, demand) to the nearest walkable edge.

A point is attached to the closest point on the closest edge, not merely to the
nearest node: on long blocks the nearest node can be hundreds of metres from the
true access point. The straight-line distance from the point to the edge is walked
at the profile speed and counted as travel time ("off-network" time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from geoplan.network.walkgraph import WalkNetwork


@dataclass(frozen=True)
class SnappedPoints:
    """Points attached to network edges.

    All arrays have one entry per point. Times are seconds.

    Attributes
    ----------
    edge : ndarray of int64
        Row position of the edge in ``WalkNetwork.edges``.
    u, v : ndarray of int64
        Node positions of the edge's ends (the edge geometry runs from ``u`` to ``v``).
    frac : ndarray of float64
        Position of the attachment point along the edge, 0 at ``u`` and 1 at ``v``.
    off_m : ndarray of float64
        Straight-line distance from the point to the edge, metres.
    off_s : ndarray of float64
        Time to walk ``off_m``.
    edge_time : ndarray of float64
        Walking time of the whole edge, without its crossing delays.
    cross_u, cross_v : ndarray of float64, optional
        Half the crossing delay at node ``u`` / ``v`` of the edge (0 when the node is no
        crossing node or the delay is off; default all 0). It is added to the time to
        that node, so a walk through the node pays the whole delay (the other half is on
        the next edge) and a walk along the point's own edge pays none.
    """

    edge: np.ndarray
    u: np.ndarray
    v: np.ndarray
    frac: np.ndarray
    off_m: np.ndarray
    off_s: np.ndarray
    edge_time: np.ndarray
    cross_u: np.ndarray | None = field(default=None)
    cross_v: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        for name in ("cross_u", "cross_v"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros(len(self.edge), dtype=np.float64))

    def __len__(self) -> int:
        return int(self.edge.shape[0])

    @property
    def t_u(self) -> np.ndarray:
        """Seconds from each point to node ``u`` (off-network plus along the edge)."""
        return self.off_s + self.frac * self.edge_time + self.cross_u

    @property
    def t_v(self) -> np.ndarray:
        """Seconds from each point to node ``v``."""
        return self.off_s + (1.0 - self.frac) * self.edge_time + self.cross_v

    def subset(self, index: np.ndarray) -> SnappedPoints:
        """Return the points at positions ``index`` (integer or boolean array)."""
        return SnappedPoints(*(getattr(self, f)[index] for f in
                               ("edge", "u", "v", "frac", "off_m", "off_s", "edge_time",
                                "cross_u", "cross_v")))


def snap_points(network: WalkNetwork, points: np.ndarray, speed_mps: float) -> SnappedPoints:
    """Attach points to their nearest walkable edge.

    Parameters
    ----------
    network : WalkNetwork
        The prepared walking network (metric CRS).
    points : ndarray of shapely Points
        Points in the network's CRS.
    speed_mps : float
        Walking speed used for the off-network distance.

    Returns
    -------
    SnappedPoints
        The attachment of every point (all points are attached; compare ``off_m``
        with the profile's ``snap_max_m`` to find points too far from any way).
    """
    points = np.asarray(points, dtype=object)
    edges = network.edges
    if len(points) == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0, dtype=np.float64)
        return SnappedPoints(empty_i, empty_i, empty_i, empty_f, empty_f, empty_f, empty_f)
    geoms = edges.geometry.values
    tree = network.edge_tree
    # Vectorised nearest search (GEOS STRtree); ties resolved to the lowest edge id
    # so results are deterministic.
    pidx, eidx = tree.query_nearest(points, all_matches=True, return_distance=False)
    order = np.lexsort((eidx, pidx))
    pidx, eidx = pidx[order], eidx[order]
    first = np.ones(len(pidx), dtype=bool)
    first[1:] = pidx[1:] != pidx[:-1]
    edge = np.full(len(points), -1, dtype=np.int64)
    edge[pidx[first]] = eidx[first]
    line = np.asarray(geoms)[edge]
    off_m = shapely.distance(points, line)
    frac = shapely.line_locate_point(line, points, normalized=True)
    frac = np.nan_to_num(np.clip(frac, 0.0, 1.0))
    u = edges["u"].to_numpy()[edge]
    v = edges["v"].to_numpy()[edge]
    # The edge's crossing halves are paid at its ends, not spread along it.
    half_u, half_v = network.crossing_halves()
    cross_u, cross_v = half_u[edge], half_v[edge]
    edge_time = edges["time_s"].to_numpy()[edge] - cross_u - cross_v
    return SnappedPoints(edge=edge, u=u.astype(np.int64), v=v.astype(np.int64),
                         frac=frac.astype(np.float64), off_m=off_m.astype(np.float64),
                         off_s=(off_m / speed_mps).astype(np.float64),
                         edge_time=edge_time.astype(np.float64),
                         cross_u=cross_u.astype(np.float64), cross_v=cross_v.astype(np.float64))
