"""The siting problem: weighted demand, candidate sites and existing facilities.

Everything a location model needs is held as sparse *time* matrices from the reach engine
(minutes; an entry exists only where the pair is within the search cutoff). No dense
demand × candidate matrix is ever built: coverage within a cutoff is a mask over the stored
entries, and explicit zero times (a site on the demand point's own edge) are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from geoplan.errors import InputDataError


def _as_csr(m: sp.spmatrix | sp.sparray, shape: tuple[int, int], name: str) -> sp.csr_matrix:
    m = sp.csr_matrix(m)
    if m.shape != shape:
        raise ValueError(f"{name} has shape {m.shape}, expected {shape}")
    m.sort_indices()
    if m.nnz and (not np.all(np.isfinite(m.data)) or m.data.min() < 0):
        raise ValueError(f"{name} must hold finite non-negative times")
    return m


def mask_within(times: sp.csr_matrix, cutoff: float) -> sp.csr_matrix:
    """Boolean CSR of the stored entries with time <= ``cutoff`` (explicit zeros count)."""
    keep = times.data <= cutoff + 1e-9
    rows = np.repeat(np.arange(times.shape[0]), np.diff(times.indptr))
    counts = np.bincount(rows[keep], minlength=times.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = sp.csr_matrix((np.ones(int(keep.sum()), dtype=bool), times.indices[keep], indptr),
                        shape=times.shape)
    return out


def min_time(times: sp.csr_matrix, n_demand: int) -> np.ndarray:
    """Per demand point (column) the smallest stored time over rows; ``inf`` where none."""
    out = np.full(n_demand, np.inf)
    if times.nnz:
        np.minimum.at(out, times.indices, times.data)
    return out


@dataclass
class SitingProblem:
    """Demand, candidate sites and existing facilities on sparse time matrices.

    Parameters
    ----------
    weights : ndarray, shape (n_demand,)
        Demand weight of each point (older residents, 60+ by default).
    times : sparse matrix, shape (n_candidates, n_demand)
        Walking minutes from each candidate to each demand point it reaches within the search
        cutoff. Missing entries mean "not reachable within the search cutoff".
    existing_times : sparse matrix, shape (n_existing, n_demand), optional
        The same for existing facilities, which are fixed and count toward coverage.
    candidate_cost : ndarray, shape (n_candidates,), optional
        Cost of opening each candidate (for budget constraints).
    candidate_capacity, existing_capacity : ndarray, optional
        Persons each site can serve (capacitated models).
    candidate_ids, demand_ids : ndarray, optional
        Labels used in results; default to positions.
    """

    weights: np.ndarray
    times: sp.csr_matrix
    existing_times: sp.csr_matrix | None = None
    candidate_cost: np.ndarray | None = None
    candidate_capacity: np.ndarray | None = None
    existing_capacity: np.ndarray | None = None
    candidate_ids: np.ndarray | None = None
    demand_ids: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, dtype=np.float64)
        if w.ndim != 1 or not np.all(np.isfinite(w)) or (len(w) and w.min() < 0):
            raise ValueError("weights must be a 1-d array of finite non-negative numbers")
        self.weights = w
        n = len(w)
        self.times = _as_csr(self.times, (self.times.shape[0], n), "times")
        if self.existing_times is None:
            self.existing_times = sp.csr_matrix((0, n), dtype=np.float64)
        self.existing_times = _as_csr(self.existing_times, (self.existing_times.shape[0], n),
                                      "existing_times")
        m = self.times.shape[0]
        if self.candidate_ids is None:
            self.candidate_ids = np.arange(m)
        if self.demand_ids is None:
            self.demand_ids = np.arange(n)
        for name, size in (("candidate_cost", m), ("candidate_capacity", m),
                           ("existing_capacity", self.n_existing)):
            arr = getattr(self, name)
            if arr is not None:
                arr = np.asarray(arr, dtype=np.float64)
                if arr.shape != (size,) or not np.all(np.isfinite(arr)) or (
                        size and arr.min() < 0):
                    raise ValueError(f"{name} must be {size} finite non-negative numbers")
                setattr(self, name, arr)

    @property
    def n_demand(self) -> int:
        """Number of demand points."""
        return int(self.weights.shape[0])

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites."""
        return int(self.times.shape[0])

    @property
    def n_existing(self) -> int:
        """Number of existing (fixed) facilities."""
        return int(self.existing_times.shape[0])

    @property
    def total_weight(self) -> float:
        """Total demand weight."""
        return float(self.weights.sum())

    def covers(self, cutoff: float) -> sp.csr_matrix:
        """Boolean candidate × demand matrix: candidate reaches the point within ``cutoff``."""
        key = ("covers", float(cutoff))
        if key not in self._cache:
            self._cache[key] = mask_within(self.times, cutoff)
        return self._cache[key]

    def existing_covers(self, cutoff: float) -> sp.csr_matrix:
        """Boolean existing × demand coverage within ``cutoff``."""
        key = ("existing_covers", float(cutoff))
        if key not in self._cache:
            self._cache[key] = mask_within(self.existing_times, cutoff)
        return self._cache[key]

    def covered_by_existing(self, cutoff: float) -> np.ndarray:
        """Boolean per demand point: an existing facility reaches it within ``cutoff``."""
        cov = self.existing_covers(cutoff)
        out = np.zeros(self.n_demand, dtype=bool)
        out[cov.indices] = True
        return out

    def reachable(self, cutoff: float) -> np.ndarray:
        """Boolean per demand point: at least one candidate reaches it within ``cutoff``."""
        cov = self.covers(cutoff)
        out = np.zeros(self.n_demand, dtype=bool)
        out[cov.indices] = True
        return out

    def existing_best_time(self) -> np.ndarray:
        """Minutes from each demand point to its nearest existing facility (``inf`` if none)."""
        if "existing_best" not in self._cache:
            self._cache["existing_best"] = min_time(self.existing_times, self.n_demand)
        return self._cache["existing_best"]

    def require_candidates(self, count: int) -> None:
        """Raise a clear error when fewer candidates exist than sites requested."""
        if count > self.n_candidates:
            raise InputDataError(
                f"{count} new sites requested but only {self.n_candidates} candidate sites are "
                "available; lower the count or add candidates (file, clusters, buildings, grid)")


def merge_identical_columns(cover: sp.csr_matrix, weights: np.ndarray
                            ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Merge demand points that the same set of candidates covers.

    Such points are interchangeable in every coverage model, so one row with their summed
    weight replaces them (a standard, exact reduction). Returns the reduced candidate × group
    matrix, the group weights, and the group of each original demand point.

    Parameters
    ----------
    cover : csr_matrix (n_candidates, n_demand), bool
    weights : ndarray (n_demand,)
    """
    ct = sp.csr_matrix(cover.T)
    ct.sort_indices()
    n = ct.shape[0]
    lens = np.diff(ct.indptr)
    # Hash each column's candidate set with two independent random projections, then
    # confirm groups exactly by comparing the sorted index lists.
    rng = np.random.default_rng(12345)
    r1 = rng.integers(1, 2**61 - 1, size=cover.shape[0], dtype=np.int64).astype(np.uint64)
    r2 = rng.integers(1, 2**61 - 1, size=cover.shape[0], dtype=np.uint64)
    rows = np.repeat(np.arange(n), lens)
    h1 = np.zeros(n, dtype=np.uint64)
    h2 = np.zeros(n, dtype=np.uint64)
    np.add.at(h1, rows, r1[ct.indices])
    np.add.at(h2, rows, r2[ct.indices] * (ct.indices.astype(np.uint64) + np.uint64(7)))
    key = np.stack([lens.astype(np.uint64), h1, h2], axis=1)
    _, first, group = np.unique(key, axis=0, return_index=True, return_inverse=True)
    group = group.ravel()
    # Exact confirmation (O(nnz)): every point's candidate set equals its group's.
    if (ct != ct[first[group]]).nnz:  # pragma: no cover - needs a 128-bit hash collision
        raise RuntimeError("coverage-set hash collision; please report")
    w = np.bincount(group, weights=weights, minlength=len(first))
    reduced = sp.csr_matrix(ct[first].T)
    return reduced, w, group
