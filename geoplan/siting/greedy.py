"""Vectorised greedy and interchange heuristics, and a Lagrangian bound, for coverage models.

All operations are sparse matrix products or ``numpy.bincount`` over the candidate × demand
coverage matrix, so a step costs O(non-zeros touched), never O(candidates × demand).
Written here rather than taken from a library because no maintained package offers an
interchange heuristic over a sparse coverage matrix with side constraints (budget, spacing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

EPS = 1e-9


@dataclass
class Feasibility:
    """Side constraints on the set of new sites.

    Attributes
    ----------
    max_sites : int
        At most this many sites.
    cost : ndarray or None
        Cost per candidate (with ``budget``).
    budget : float or None
        Upper limit on the total cost of new sites.
    conflicts : csr_matrix or None
        Symmetric candidate × candidate matrix; a non-zero means the two may not both be chosen
        (minimum spacing).
    forbidden : ndarray of bool or None
        Candidates that may not be chosen.
    """

    max_sites: int
    cost: np.ndarray | None = None
    budget: float | None = None
    conflicts: sp.csr_matrix | None = None
    forbidden: np.ndarray | None = None

    def allowed(self, m: int, chosen: np.ndarray, spent: float) -> np.ndarray:
        """Boolean mask of candidates that can be added to ``chosen``."""
        ok = np.ones(m, dtype=bool)
        ok[chosen] = False
        if self.forbidden is not None:
            ok &= ~self.forbidden
        if self.budget is not None and self.cost is not None:
            ok &= spent + self.cost <= self.budget + EPS
        if self.conflicts is not None and len(chosen):
            ok[self.conflicts[chosen].indices] = False
        return ok


def greedy_cover(a: sp.csr_matrix, w: np.ndarray, feas: Feasibility, *,
                 covered: np.ndarray | None = None, stop_at: float | None = None,
                 by_ratio: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Greedy maximal coverage: repeatedly add the site that covers the most uncovered weight.

    Parameters
    ----------
    a : csr_matrix (m, n), bool
        Candidate × demand coverage.
    w : ndarray (n,)
        Demand weights.
    feas : Feasibility
        Side constraints.
    covered : ndarray of bool (n,), optional
        Demand already covered (by existing facilities).
    stop_at : float, optional
        Stop once the newly covered weight reaches this.
    by_ratio : bool
        Rank by gain per unit cost (with a budget).

    Returns
    -------
    chosen, gains : ndarray
        Sites in the order added and the weight each added. Stops early when nothing adds.
    """
    m, n = a.shape
    at = sp.csr_matrix(a.T)
    cov = np.zeros(n, dtype=bool) if covered is None else covered.copy()
    wr = np.where(cov, 0.0, w)
    gains = np.asarray(a @ wr, dtype=np.float64).ravel()
    chosen: list[int] = []
    added: list[float] = []
    spent, total = 0.0, 0.0
    while len(chosen) < feas.max_sites:
        ok = feas.allowed(m, np.asarray(chosen, dtype=np.int64), spent)
        score = np.where(ok, gains, -np.inf)
        if by_ratio and feas.cost is not None:
            score = np.where(ok, gains / np.maximum(feas.cost, EPS), -np.inf)
        j = int(np.argmax(score))  # lowest index wins ties: deterministic
        if not ok[j] or gains[j] <= EPS:
            break
        new = a.indices[a.indptr[j]:a.indptr[j + 1]]
        new = new[~cov[new]]
        cov[new] = True
        rows = at[new]
        gains -= np.bincount(rows.indices, weights=np.repeat(w[new], np.diff(rows.indptr)),
                             minlength=m)
        chosen.append(j)
        added.append(float(w[new].sum()))
        total += added[-1]
        if feas.cost is not None:
            spent += float(feas.cost[j])
        if stop_at is not None and total >= stop_at - EPS:
            break
    return np.asarray(chosen, dtype=np.int64), np.asarray(added, dtype=np.float64)


def coverage_counts(a: sp.csr_matrix, chosen: np.ndarray, n: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per demand point: how many chosen sites cover it, and which (when exactly one)."""
    sub = a[chosen]
    count = np.bincount(sub.indices, minlength=n)
    sole = np.full(n, -1, dtype=np.int64)
    pos = np.repeat(np.arange(len(chosen)), np.diff(sub.indptr))
    one = count[sub.indices] == 1
    sole[sub.indices[one]] = pos[one]
    return count, sole


def _best_swap_sparse(overlap: sp.csr_matrix, gain0: np.ndarray, loss: np.ndarray,
                      chosen: np.ndarray, feas: Feasibility
                      ) -> tuple[int, int, float] | None:
    """The swap (add ``j``, drop position ``k``) of the dense rule, from sparse overlap.

    Row ``j`` of the dense matrix ``gain0[j] + overlap[j, k] - loss[k]`` has its maximum
    either at a stored overlap entry or at ``gain0[j] - min(loss)`` (overlap >= 0), so the
    row maxima come from the stored entries; the winning row is then evaluated densely,
    which gives the same (first) argmax as the dense matrix.
    """
    m = len(gain0)
    overlap.sum_duplicates()
    rows = np.repeat(np.arange(m), np.diff(overlap.indptr))
    vals = (gain0[rows] + overlap.data) - loss[overlap.indices]
    row_max = gain0 - float(loss.min())
    if len(vals):
        np.maximum.at(row_max, rows, vals)
    row_max[chosen] = -np.inf
    if feas.forbidden is not None:
        row_max[feas.forbidden] = -np.inf
    j = int(np.argmax(row_max))
    if not np.isfinite(row_max[j]):
        return None
    ov = overlap[j].toarray().ravel()
    delta = (gain0[j] + ov) - loss
    k = int(np.argmax(delta))
    return j, k, float(delta[k])


def interchange(a: sp.csr_matrix, w: np.ndarray, chosen: np.ndarray, feas: Feasibility, *,
                covered: np.ndarray | None = None, max_rounds: int = 1000
                ) -> np.ndarray:
    """Best-improvement swap local search for maximal coverage.

    Each round evaluates every (add j, drop k) swap at once: the gain of ``j`` on demand
    nobody covers, plus what ``j`` re-covers of the demand only ``k`` covered, minus what
    only ``k`` covered. That is one sparse product, so a round costs O(nnz).

    Returns the improved set (same size).
    """
    m, n = a.shape
    chosen = np.asarray(chosen, dtype=np.int64).copy()
    if len(chosen) == 0:
        return chosen
    base = np.zeros(n, dtype=bool) if covered is None else covered
    af = sp.csr_matrix(a, dtype=np.float64)
    # Without budget or spacing rules the best swap is found from the sparse overlap
    # (candidates x chosen sites): a dense m x p matrix per round is what makes large
    # instances (50,000 candidates, p = 500) slow. Same swap, same tie-breaking.
    sparse_rounds = feas.budget is None and feas.conflicts is None
    for _ in range(max_rounds):
        count, sole = coverage_counts(a, chosen, n)
        free = (count == 0) & ~base
        gain0 = np.asarray(af @ np.where(free, w, 0.0)).ravel()
        only = (count == 1) & ~base
        loss = np.bincount(sole[only], weights=w[only], minlength=len(chosen))
        s = sp.csr_matrix((w[only], (np.flatnonzero(only), sole[only])),
                          shape=(n, len(chosen)))
        if sparse_rounds:
            jk = _best_swap_sparse(sp.csr_matrix(af @ s), gain0, loss, chosen, feas)
            if jk is None:
                break
            j, k, best = jk
            if not best > EPS * max(1.0, float(w.sum())) * 1e-3:
                break
            chosen[k] = j
            continue
        overlap = (af @ s).toarray()
        delta = gain0[:, None] + overlap - loss[None, :]
        delta[chosen, :] = -np.inf
        if feas.forbidden is not None:
            delta[feas.forbidden, :] = -np.inf
        if feas.budget is not None and feas.cost is not None:
            spent = float(feas.cost[chosen].sum())
            over = spent + feas.cost[:, None] - feas.cost[chosen][None, :] > feas.budget + EPS
            delta[over] = -np.inf
        if feas.conflicts is not None:
            sel = np.zeros(m)
            sel[chosen] = 1.0
            nconf = np.asarray(feas.conflicts @ sel).ravel()
            ck = feas.conflicts[:, chosen].toarray()
            delta[(nconf[:, None] - ck) > 0.5] = -np.inf
        flat = int(np.argmax(delta))
        j, k = divmod(flat, len(chosen))
        if not delta[j, k] > EPS * max(1.0, float(w.sum())) * 1e-3:
            break
        chosen[k] = j
    return chosen


def order_by_value(a: sp.csr_matrix, w: np.ndarray, chosen: np.ndarray, *,
                   covered: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Order a chosen set greedily (largest added weight first) with each site's gain."""
    sub = a[np.asarray(chosen, dtype=np.int64)]
    order, gains = greedy_cover(sub, w, Feasibility(max_sites=len(chosen)), covered=covered)
    rest = np.setdiff1d(np.arange(len(chosen)), order)  # sites that add nothing, last
    order = np.concatenate([order, rest])
    gains = np.concatenate([gains, np.zeros(len(rest))])
    return np.asarray(chosen)[order], gains


@dataclass
class Lagrangian:
    """Outcome of :func:`lagrangian`.

    Attributes
    ----------
    bound : float
        Best (smallest) upper bound on the coverage optimum.
    if_open : ndarray (m,)
        Per candidate, an upper bound on every solution that opens it (``inf`` when not
        computed). A candidate with ``if_open <= incumbent`` can be fixed closed.
    best_set : ndarray of int64
        Best feasible site set met among the Lagrangian solutions (count constraint only).
    best_value : float
        Its coverage.
    """

    bound: float
    if_open: np.ndarray
    best_set: np.ndarray
    best_value: float


def lagrangian(a: sp.csr_matrix, w: np.ndarray, p: int, *, lower: float,
               cost: np.ndarray | None = None, budget: float | None = None,
               iterations: int = 400, tol: float = 1e-4) -> Lagrangian:
    """Lagrangian relaxation of maximal coverage: upper bound, reduced-cost fixing, primal sets.

    Relaxing ``y_i <= sum_j a_ij x_j`` with multipliers ``lam_i >= 0`` gives
    ``L(lam) = sum_i max(0, w_i - lam_i) + max_x sum_j (A lam)_j x_j`` over the site
    constraints (at most ``p`` sites; with a budget, the fractional knapsack, also an upper
    bound). Subgradient descent with Polyak steps toward the incumbent ``lower``. Without a
    budget, opening candidate ``j`` is bounded by ``L - v_(p) + v_j`` (``v = A lam``), which
    is tracked for reduced-cost fixing, and each relaxed site set is evaluated as a primal
    solution.

    Parameters
    ----------
    a : csr_matrix (m, n), bool
    w : ndarray (n,)
    p : int
    lower : float
        Objective of a known feasible solution.
    cost, budget : optional
        Budget constraint.
    iterations : int
    tol : float
        Stop when the bound is within ``tol`` (relative) of the incumbent.

    Returns
    -------
    Lagrangian
    """
    m = a.shape[0]
    af = a.astype(np.float64)
    aft = sp.csr_matrix(af.T)
    lam = w.copy()
    best = np.inf
    theta = 1.0
    stall = 0
    if_open = np.full(m, np.inf)
    best_set = np.zeros(0, dtype=np.int64)
    best_value = -np.inf
    use_budget = budget is not None and cost is not None

    def site_part(v: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.zeros(len(v))
        pos = np.flatnonzero(v > 0)
        if len(pos) == 0:
            return 0.0, x
        if use_budget:
            ratio = v[pos] / np.maximum(cost[pos], EPS)
            order = pos[np.argsort(-ratio, kind="stable")]
            cum = np.cumsum(cost[order])
            full = order[cum <= budget + EPS]
            x[full] = 1.0
            k = len(full)
            if k < len(order):
                rem = budget - (cum[k - 1] if k else 0.0)
                x[order[k]] = max(0.0, rem / max(cost[order[k]], EPS))
            if p < len(v):  # the count limit also holds: keep the smaller bound
                val_b = float(v @ x)
                top = np.sort(v[pos])[::-1][:p].sum()
                if top < val_b:
                    x = np.zeros(len(v))
                    x[pos[np.argsort(-v[pos], kind="stable")[:p]]] = 1.0
            return float(v @ x), x
        top = pos[np.argsort(-v[pos], kind="stable")[:p]]
        x[top] = 1.0
        return float(v[top].sum()), x

    for it in range(iterations):
        v = np.asarray(af @ lam).ravel()
        sv, x = site_part(v)
        yv = w > lam
        val = float(np.where(yv, w - lam, 0.0).sum()) + sv
        if not use_budget:
            chosen = np.flatnonzero(x > 0.5)
            vp = float(v[chosen].min()) if len(chosen) == p else 0.0
            np.minimum(if_open, np.where(x > 0.5, val, val - vp + np.maximum(v, 0.0)),
                       out=if_open)
            if it % 5 == 0 and len(chosen):
                hit = np.zeros(a.shape[1], dtype=bool)
                hit[a[chosen].indices] = True
                cv = float(w[hit].sum())
                if cv > best_value:
                    best_value, best_set = cv, chosen
                    lower = max(lower, cv)
        if val < best - 1e-12 * max(1.0, abs(best) if np.isfinite(best) else 1.0):
            best = val
            stall = 0
        else:
            stall += 1
            if stall >= 15:
                theta /= 2
                stall = 0
        if best - lower <= tol * max(abs(lower), 1.0) or theta < 1e-6:
            break
        if use_budget:
            g = np.asarray(aft @ x).ravel() - yv
        else:  # x is 0/1 with at most p ones: count the chosen rows' hits directly
            hits = np.bincount(a[np.flatnonzero(x > 0.5)].indices, minlength=a.shape[1])
            g = hits - yv
        norm = float(g @ g)
        if norm <= 0:
            break
        step = theta * (val - lower) / norm
        lam = np.clip(lam - step * g, 0.0, w)
    return Lagrangian(bound=float(best), if_open=if_open, best_set=best_set,
                      best_value=float(best_value))


def lagrangian_bound(a: sp.csr_matrix, w: np.ndarray, p: int, *, lower: float,
                     cost: np.ndarray | None = None, budget: float | None = None,
                     iterations: int = 400, tol: float = 1e-4) -> float:
    """Upper bound on maximal coverage (see :func:`lagrangian`)."""
    return lagrangian(a, w, p, lower=lower, cost=cost, budget=budget, iterations=iterations,
                      tol=tol).bound
