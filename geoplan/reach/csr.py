"""The walking graph as CSR arrays, the form the compiled reach kernels work on."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from geoplan.network.walkgraph import WalkNetwork


@dataclass(frozen=True)
class LocalOrder:
    """A :class:`ReachGraph` renumbered for memory locality (see :attr:`ReachGraph.local`).

    Attributes
    ----------
    indptr, indices, weights : ndarray
        The CSR arrays in the new numbering.
    new_of_old : ndarray of int64
        New id of each original node.
    old_of_new : ndarray of int64
        Original id of each new node.
    median_w : float
        Median of the positive arc times (0 if none): sizes the kernels' bucket queue.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    new_of_old: np.ndarray
    old_of_new: np.ndarray
    median_w: float


@dataclass(frozen=True)
class ReachGraph:
    """An undirected graph in compressed sparse row form.

    Attributes
    ----------
    indptr : ndarray of int64
        Row pointers (length ``n_nodes + 1``).
    indices : ndarray of int64
        Neighbour of each arc.
    weights : ndarray of float64
        Travel time of each arc, seconds.
    n_nodes : int
        Number of nodes.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    n_nodes: int

    @classmethod
    def from_edges(cls, u: np.ndarray, v: np.ndarray, w: np.ndarray, n_nodes: int) -> ReachGraph:
        """Build from undirected edges; each becomes two arcs, parallel arcs keep the minimum.

        Parameters
        ----------
        u, v : ndarray of int
            Edge end nodes (0-based).
        w : ndarray of float
            Edge travel times (non-negative).
        n_nodes : int
            Number of nodes.
        """
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        w = np.asarray(w, dtype=np.float64)
        if len(w) and (w.min() < 0 or not np.isfinite(w).all()):
            raise ValueError("edge times must be finite and non-negative")
        loops = u == v  # self-loops never shorten a path
        u, v, w = u[~loops], v[~loops], w[~loops]
        rows = np.concatenate([u, v])
        cols = np.concatenate([v, u])
        data = np.concatenate([w, w])
        # keep the cheapest of parallel arcs: sort by (row, col, weight), take the first
        order = np.lexsort((data, cols, rows))
        rows, cols, data = rows[order], cols[order], data[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        rows, cols, data = rows[first], cols[first], data[first]
        indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_nodes), out=indptr[1:])
        return cls(indptr=indptr, indices=cols.astype(np.int64), weights=data, n_nodes=n_nodes)

    @classmethod
    def from_network(cls, net: WalkNetwork) -> ReachGraph:
        """Build from a prepared :class:`~geoplan.network.walkgraph.WalkNetwork`."""
        u, v, w = net.edge_arrays()
        return cls.from_edges(u, v, w, net.n_nodes)

    @cached_property
    def local(self) -> LocalOrder:
        """The graph renumbered by reverse Cuthill–McKee, computed once per graph.

        The reach kernels search in this numbering: neighbours then get nearby ids, so a
        search touches few cache lines and consecutive sources (taken in id order) reuse
        them. Node ids of a network read from OSM follow the file, not the geometry: on the
        benchmark grid with scrambled ids the searches took 1.8x the CPU time, and
        renumbering (23 ms for 202,500 nodes) brought them back to the ordered grid's.
        Times do not depend on the numbering.
        """
        n = self.n_nodes
        positive = self.weights[self.weights > 0]
        median_w = float(np.median(positive)) if len(positive) else 0.0
        if n == 0 or len(self.indices) == 0:
            ident = np.arange(n, dtype=np.int64)
            return LocalOrder(self.indptr, self.indices, self.weights, ident, ident, median_w)
        old_of_new = reverse_cuthill_mckee(self.to_scipy(), symmetric_mode=True).astype(np.int64)
        new_of_old = np.empty(n, dtype=np.int64)
        new_of_old[old_of_new] = np.arange(n, dtype=np.int64)
        deg = np.diff(self.indptr)[old_of_new]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(deg, out=indptr[1:])
        # arc k of new row i is arc k of old row old_of_new[i]
        arc = np.arange(indptr[-1], dtype=np.int64) + np.repeat(
            self.indptr[old_of_new] - indptr[:-1], deg)
        return LocalOrder(indptr, new_of_old[self.indices[arc]], self.weights[arc],
                          new_of_old, old_of_new, median_w)

    def to_scipy(self) -> sp.csr_matrix:
        """The graph as a scipy CSR matrix (for scipy.sparse.csgraph)."""
        return sp.csr_matrix((self.weights, self.indices, self.indptr),
                             shape=(self.n_nodes, self.n_nodes))
