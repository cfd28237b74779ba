"""The walking network: an undirected street graph in a metric CRS with edge travel times."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
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
        with penalties), ``highway`` and LineString ``geometry`` running from ``u`` to ``v``.
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

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(u, v, time_s)`` arrays of the undirected edges."""
        return (self.edges["u"].to_numpy(np.int64), self.edges["v"].to_numpy(np.int64),
                self.edges["time_s"].to_numpy(np.float64))
