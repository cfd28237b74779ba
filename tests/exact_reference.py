"""Independent references for the exact siting models (not a test module).

Brute force over every set of sites on dense numpy matrices, and networkx maximum flow for
capacities: nothing here shares code with geoplan's models, so an agreement means something.
Used by ``tests/test_exact_properties.py`` and ``scripts/check_exact.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import networkx as nx
import numpy as np
import scipy.sparse as sp

from geoplan.siting.problem import SitingProblem


def dense(m: sp.csr_matrix, big: float = np.inf) -> np.ndarray:
    """Dense copy of a sparse time matrix with ``big`` where no pair is stored."""
    m = sp.csr_matrix(m)
    out = np.full(m.shape, big)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    out[rows, m.indices] = m.data
    return out


def random_problem(rng: np.random.Generator, n: int, m: int, k: int, *, search: float = 20.0,
                   size: float = 3000.0, cost: bool = False, capacity: bool = False
                   ) -> SitingProblem:
    """Random points in a square; times = straight-line metres / 60 m/min up to ``search``.

    Weights are whole persons (1–40), times rounded to 0.1 min, so optima are exact.
    """
    dem = rng.random((n, 2)) * size
    w = rng.integers(1, 41, n).astype(float)

    def times(count: int) -> sp.csr_matrix:
        pts = rng.random((count, 2)) * size
        d = np.round(np.linalg.norm(pts[:, None] - dem[None], axis=2) / 60.0, 1)
        r, c = np.nonzero(d <= search)
        return sp.csr_matrix((d[r, c], (r, c)), shape=(count, n))

    return SitingProblem(
        weights=w, times=times(m), existing_times=times(k),
        candidate_cost=rng.integers(1, 10, m).astype(float) if cost else None,
        candidate_capacity=rng.integers(20, 120, m).astype(float) if capacity else None,
        existing_capacity=rng.integers(20, 120, k).astype(float) if capacity and k else None)


def _subsets(m: int, sizes: range, conflicts: np.ndarray | None, cost: np.ndarray | None,
             budget: float | None) -> Iterator[tuple[int, ...]]:
    bad = {tuple(sorted(map(int, p))) for p in conflicts} if conflicts is not None else set()
    for k in sizes:
        for s in itertools.combinations(range(m), k):
            if bad and any(pair in bad for pair in itertools.combinations(s, 2)):
                continue
            if budget is not None and cost is not None and cost[list(s)].sum() > budget + 1e-9:
                continue
            yield s


def covered_by(problem: SitingProblem, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """Dense boolean coverage: candidates × demand, and per demand by existing facilities."""
    cand = dense(problem.times) <= cutoff + 1e-9
    ex = (dense(problem.existing_times) <= cutoff + 1e-9).any(axis=0)
    return cand, ex


def mclp(problem: SitingProblem, p: int, cutoff: float, *, budget: float | None = None,
         conflicts: np.ndarray | None = None) -> float:
    """Most weight newly covered by at most ``p`` sites within the rules."""
    cand, ex = covered_by(problem, cutoff)
    w = problem.weights
    best = 0.0
    for s in _subsets(len(cand), range(p + 1), conflicts, problem.candidate_cost, budget):
        cov = ex | cand[list(s)].any(axis=0) if s else ex
        best = max(best, float(w[cov & ~ex].sum()))
    return best


def lscp(problem: SitingProblem, target: float, cutoff: float, *,
         max_sites: int | None = None, budget: float | None = None,
         conflicts: np.ndarray | None = None) -> tuple[int | None, float]:
    """Fewest sites reaching ``target`` (a share of all weight) within the rules.

    Returns ``(count, best_share)``: count is ``None`` when no set within the rules reaches
    the target; best_share is the best share any set within the rules reaches.
    """
    cand, ex = covered_by(problem, cutoff)
    w = problem.weights
    total = w.sum()
    top = len(cand) if max_sites is None else min(max_sites, len(cand))
    best_share, count = float(w[ex].sum()) / total, None
    for s in _subsets(len(cand), range(top + 1), conflicts, problem.candidate_cost, budget):
        cov = ex | cand[list(s)].any(axis=0) if s else ex
        share = float(w[cov].sum()) / total
        best_share = max(best_share, share)
        if count is None and share >= target - 1e-9:
            count = len(s)
    return count, best_share


def pmedian(problem: SitingProblem, p: int, penalty: float) -> float:
    """Least Σ w·t over sets of exactly ``p`` sites (t capped at ``penalty``)."""
    tc = np.minimum(dense(problem.times), penalty)
    base = np.minimum(dense(problem.existing_times).min(axis=0, initial=np.inf), penalty)
    w = problem.weights
    return min(float(np.dot(w, np.minimum(base, tc[list(s)].min(axis=0))))
               for s in itertools.combinations(range(len(tc)), p))


def max_flow(problem: SitingProblem, cutoff: float, sites: tuple[int, ...],
             with_existing: bool = True) -> float:
    """Persons served by the open sites with capacities (networkx maximum flow)."""
    g = nx.DiGraph()
    cand, _ = covered_by(problem, cutoff)
    ex_cov = dense(problem.existing_times) <= cutoff + 1e-9
    for i, wi in enumerate(problem.weights):
        g.add_edge("s", ("d", i), capacity=float(wi))
    for j in sites:
        g.add_edge(("c", j), "t", capacity=float(problem.candidate_capacity[j]))
        for i in np.flatnonzero(cand[j]):
            g.add_edge(("d", int(i)), ("c", j))
    if with_existing:
        for e in range(problem.n_existing):
            g.add_edge(("e", e), "t", capacity=float(problem.existing_capacity[e]))
            for i in np.flatnonzero(ex_cov[e]):
                g.add_edge(("d", int(i)), ("e", e))
    if "t" not in g:
        return 0.0
    return float(nx.maximum_flow_value(g, "s", "t"))


def cmclp(problem: SitingProblem, p: int, cutoff: float) -> float:
    """Most persons the new sites add to what the existing ones serve alone.

    An augmenting path never lowers the flow on an existing facility's arc to the sink, so
    the total maximum flow with every site open is also the lexicographic optimum that
    keeps the existing facilities' own maximum.
    """
    alone = max_flow(problem, cutoff, ())
    return max(max_flow(problem, cutoff, s) - alone
               for k in range(p + 1) for s in itertools.combinations(range(problem.n_candidates),
                                                                     k))


def multi_1n(centres: SitingProblem, stations: SitingProblem, n_centres: int, n_stations: int,
             cutoff_c: float, cutoff_s: float, link_ok: np.ndarray,
             weight_c: float = 1.0, weight_s: float = 1.0) -> float:
    """Best weighted coverage of a 1+N plan: each station linked to a chosen centre.

    ``link_ok`` (station candidates × (centre candidates + 1)): column ``j`` True when the
    station lies within the link time of centre candidate ``j``; the last column True when
    an existing centre already serves it.
    """
    cc, ce = covered_by(centres, cutoff_c)
    sc, se = covered_by(stations, cutoff_s)
    wc, ws = centres.weights, stations.weights
    best = 0.0
    for c in _subsets(len(cc), range(n_centres + 1), None, None, None):
        vc = float(wc[(cc[list(c)].any(axis=0) if c else False) & ~ce].sum())
        allowed = link_ok[:, -1] | (link_ok[:, list(c)].any(axis=1) if c else False)
        ok = np.flatnonzero(allowed)
        for s in _subsets(len(ok), range(min(n_stations, len(ok)) + 1), None, None, None):
            pick = ok[list(s)]
            vs = float(ws[(sc[pick].any(axis=0) if len(pick) else False) & ~se].sum())
            best = max(best, weight_c * vc + weight_s * vs)
    return best
