"""Read OR-Library p-median instances (Beasley 1985, ``pmed1.txt`` … ``pmed40.txt``).

Format: first line ``n m p``; then ``m`` lines ``i j cost`` (1-based, undirected). Where the
same pair appears more than once, the last line stands. Distances are shortest-path lengths
on this graph; every vertex is both a demand point (weight 1) and a candidate site.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from geoplan.errors import InputDataError
from geoplan.siting.problem import SitingProblem


def read_orlib_graph(path: str | Path) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    """Read the edge list of an OR-Library p-median file.

    Parameters
    ----------
    path : str or Path
        The ``pmedK.txt`` file.

    Returns
    -------
    n : int
        Number of vertices.
    p : int
        Number of medians.
    u, v : ndarray of int64
        0-based edge ends (``u < v``), one per vertex pair: where a pair is listed more than
        once, the last line stands.
    cost : ndarray of float64
        Edge lengths.
    """
    path = Path(path)
    try:
        tokens = path.read_text().split()
    except OSError as exc:
        raise InputDataError(f"cannot read OR-Library file {path}: {exc}") from exc
    try:
        n, m, p = (int(t) for t in tokens[:3])
        edges = np.array(tokens[3:3 + 3 * m], dtype=np.float64).reshape(m, 3)
    except ValueError as exc:
        raise InputDataError(f"{path}: not an OR-Library p-median file "
                             "(expected 'n m p' then m lines 'i j cost')") from exc
    i = edges[:, 0].astype(np.int64) - 1
    j = edges[:, 1].astype(np.int64) - 1
    if m and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n):
        raise InputDataError(f"{path}: vertex numbers must lie in 1..{n}")
    u, v = np.minimum(i, j), np.maximum(i, j)
    keep = u != v
    u, v, cost = u[keep], v[keep], edges[keep, 2]
    # The last occurrence of each pair stands: unique over the reversed list keeps the first
    # (i.e. the last in file order).
    key = u * n + v
    _, first_rev = np.unique(key[::-1], return_index=True)
    last = len(key) - 1 - first_rev
    last.sort()
    return n, p, u[last], v[last], cost[last]


def read_orlib_pmed(path: str | Path) -> tuple[SitingProblem, int]:
    """Read an OR-Library p-median instance as a :class:`SitingProblem`.

    All-pairs shortest paths (Dijkstra, :func:`scipy.sparse.csgraph.shortest_path`) give the
    vertex × vertex distance matrix, stored as a full CSR matrix that keeps the zero
    diagonal as explicit entries (vertex-to-itself distance 0). Weights are 1.

    Parameters
    ----------
    path : str or Path
        The ``pmedK.txt`` file.

    Returns
    -------
    problem : SitingProblem
        ``n`` candidates × ``n`` demand points, no existing facilities.
    p : int
        Number of medians the instance asks for.
    """
    n, p, u, v, cost = read_orlib_graph(path)
    g = sp.csr_matrix((cost, (u, v)), shape=(n, n))
    dist = csgraph.shortest_path(g, method="D", directed=False)
    finite = np.isfinite(dist)
    counts = finite.sum(axis=1)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.nonzero(finite)[1].astype(np.int32)
    times = sp.csr_matrix((dist[finite], indices, indptr), shape=(n, n))
    return SitingProblem(weights=np.ones(n), times=times), p
