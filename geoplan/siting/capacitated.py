"""Capacitated maximal coverage: new sites with limited places, each person served once.

Formulation (flows over the sparse coverage pairs only):

* ``x_j`` ∈ {0, 1}: open candidate ``j``; existing facilities are always open.
* ``z_jg`` ≥ 0: persons of demand group ``g`` served by site ``j`` (only for pairs within the
  cutoff).
* ``Σ_j z_jg ≤ w_g`` (each person at most once), ``Σ_g z_jg ≤ C_j x_j`` (capacity),
  ``z_jg ≤ w_g x_j`` (strengthening; dropped on very large models), ``Σ x ≤ p``.
* Existing facilities' capacities are used first: a first LP finds the most persons the
  existing sites can serve alone, ``S_e``; the siting model then keeps
  ``Σ z_existing ≥ S_e`` and maximises the total served (a lexicographic optimum).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from geoplan.errors import InputDataError
from geoplan.siting.highs import solve_milp
from geoplan.siting.problem import SitingProblem, merge_identical_columns
from geoplan.siting.result import SitingResult, relative_gap
from geoplan.siting.verify import (
    check_solver_options,
    finalise,
    flow_violations,
    milp_status,
    rule_violations,
)

#: Above this many candidate pairs the ``z <= w x`` strengthening rows are left out.
STRONG_ROWS_MAX = 400_000


class CapacitatedMCLP:
    """Place ``p`` new sites with capacities to serve the most older residents within a cutoff.

    Parameters
    ----------
    problem : SitingProblem
        Needs ``candidate_capacity`` (persons per new site); ``existing_capacity`` for
        existing facilities when there are any.
    p : int
        Number of new sites.
    cutoff : float
        Catchment in minutes.
    """

    name = "cmclp"

    def __init__(self, problem: SitingProblem, p: int, cutoff: float) -> None:
        if problem.candidate_capacity is None:
            raise InputDataError("capacitated siting needs a capacity per new site; set "
                                 "capacity = <places> in the scenario")
        if len(problem.candidate_capacity) and problem.candidate_capacity.min() < 1:
            raise InputDataError("site capacity must be at least one person (got "
                                 f"{problem.candidate_capacity.min():g}); check the scenario's "
                                 "capacity setting")
        if problem.n_existing and problem.existing_capacity is None:
            raise InputDataError("existing facilities need a capacity for capacitated siting; "
                                 "set a capacity column for the facility layer or "
                                 "existing_capacity in the scenario")
        if p < 1:
            raise InputDataError(f"the number of new sites must be at least 1 (got {p})")
        problem.require_candidates(p)
        self.problem, self.p, self.cutoff = problem, int(p), float(cutoff)

    def _reduce(self):
        pr = self.problem
        cov_c = pr.covers(self.cutoff)
        cov_e = pr.existing_covers(self.cutoff)
        both = sp.vstack([cov_c, cov_e], format="csr")
        hit = np.zeros(pr.n_demand, dtype=bool)
        hit[both.indices] = True
        live = np.flatnonzero(hit & (pr.weights > 0))
        red, wg, grp = merge_identical_columns(sp.csr_matrix(both[:, live]), pr.weights[live])
        m = pr.n_candidates
        return (sp.csr_matrix(red[:m]), sp.csr_matrix(red[m:]), wg, live, grp)

    def solve(self, method: str = "auto", *, time_limit: float = 300.0, mip_gap: float = 1e-4,
              seed: int = 0, threads: int | None = None) -> SitingResult:
        """Solve; ``method`` is ``"exact"``, ``"heuristic"`` or ``"auto"``.

        Returns
        -------
        SitingResult
            ``objective`` = persons served by the new sites (beyond what existing facilities
            serve); ``assignment`` lists persons per (demand point, site) pair.
        """
        check_solver_options(time_limit, mip_gap)
        t0 = time.perf_counter()
        pr = self.problem
        ac, ae, wg, live, grp = self._reduce()
        m, g = ac.shape
        ke = ae.shape[0]
        cap_c = pr.candidate_capacity
        cap_e = pr.existing_capacity if ke else np.zeros(0)
        # Stage 1: the most the existing facilities serve alone (a transport LP).
        served_e = 0.0
        if ke and ae.nnz:
            sol_e = _flow_lp(ae, wg, cap_e, None, time_limit)
            served_e = sol_e.objective
        if method == "auto":
            method = "exact" if ac.nnz <= 2_000_000 else "heuristic"
        chosen = self._greedy(ac, ae, wg, cap_c, cap_e, served_e, time_limit,
                              self._group_times(ac, live, grp))
        warnings: list[str] = []
        bound = None
        status = "heuristic"
        if method == "exact":
            sol = self._milp(ac, ae, wg, cap_c, cap_e, served_e, chosen, time_limit, mip_gap,
                             seed, threads)
            heur_total = self._assign(ac, ae, wg, cap_c, cap_e, served_e, chosen,
                                      time_limit)[0]
            if sol.has_solution and sol.objective >= heur_total - 1e-6 * max(1.0, heur_total):
                chosen = np.flatnonzero(sol.x[:m] > 0.5)
            bound = float(sol.bound) - served_e if np.isfinite(sol.bound) else None
            status = milp_status(sol, warnings, time_limit)
        elif method != "heuristic":
            raise ValueError(f"unknown method {method!r}")
        total, flows = self._assign(ac, ae, wg, cap_c, cap_e, served_e, chosen, time_limit)
        obj = total - served_e
        if method == "heuristic" and ac.nnz <= 2_000_000:
            lp = self._milp(ac, ae, wg, cap_c, cap_e, served_e, None, time_limit, 0.0, seed,
                            threads, relax=True)
            bound = float(lp.objective) - served_e if lp.has_solution else None
        gap = relative_gap(obj, bound, maximise=True)
        order, marg = self._order(ac, ae, wg, cap_c, cap_e, served_e, chosen, time_limit)
        assignment = self._disaggregate(flows, live, grp, wg, chosen)
        info = {"served_existing": served_e, "served_total": total,
                "total_weight": pr.total_weight, "demand_groups": int(g),
                "capacity_new": float(cap_c[chosen].sum()) if len(chosen) else 0.0,
                "utilisation_new": (obj / cap_c[chosen].sum()) if len(chosen) else 0.0}
        res = SitingResult(model=self.name, method=method, selected=order, marginal=marg,
                           objective=obj, objective_name="persons served by new sites",
                           bound=bound, gap=gap, status=status,
                           seconds=time.perf_counter() - t0, info=info,
                           assignment=assignment, warnings=warnings)
        problems, flow_total, flow_existing = flow_violations(pr, order, self.cutoff,
                                                              assignment)
        if flow_existing < served_e - 1e-6 * max(1.0, served_e):
            problems.append(f"existing facilities serve {flow_existing:,.3f} persons, less "
                            f"than the {served_e:,.3f} they serve alone")
        return finalise(res, recomputed=flow_total - served_e, maximise=True, mip_gap=mip_gap,
                        violations=problems + rule_violations(pr, order, max_sites=self.p))

    # -- pieces ---------------------------------------------------------------------------
    def _greedy(self, ac, ae, wg, cap_c, cap_e, served_e, time_limit, times
                ) -> np.ndarray:
        """Greedy on residual demand: add the site with the largest min(capacity, reachable)."""
        resid = wg.copy()
        if served_e > 0:
            _, fl = _flow_lp(ae, wg, cap_e, None, time_limit, flows=True)
            resid = np.maximum(0.0, wg - np.bincount(ae.indices, weights=fl, minlength=len(wg)))
        chosen: list[int] = []
        for _ in range(self.p):
            gain = np.minimum(np.asarray(ac @ resid).ravel(), cap_c)
            gain[chosen] = -1.0
            j = int(np.argmax(gain))
            if gain[j] <= 1e-9:
                break
            cols = ac.indices[ac.indptr[j]:ac.indptr[j + 1]]
            order = cols[np.argsort(times[ac.indptr[j]:ac.indptr[j + 1]], kind="stable")]
            r = resid[order]
            before = np.cumsum(r) - r
            take = np.clip(cap_c[j] - before, 0.0, r)
            resid[order] -= take
            chosen.append(j)
        return np.asarray(chosen, dtype=np.int64)

    def _group_times(self, ac: sp.csr_matrix, live: np.ndarray, grp: np.ndarray
                     ) -> np.ndarray:
        """Per stored (site, group) pair of ``ac``: the shortest member-point time (minutes).

        Used to serve residual demand nearest-first in the greedy heuristic.
        """
        t = sp.csr_matrix(self.problem.times[:, live])
        rows = np.repeat(np.arange(t.shape[0]), np.diff(t.indptr))
        ok = t.data <= self.cutoff + 1e-9
        g = ac.shape[1]
        keys = rows[ok] * g + grp[t.indices[ok]]
        ac_rows = np.repeat(np.arange(ac.shape[0]), np.diff(ac.indptr))
        ac_keys = ac_rows * g + ac.indices  # ascending: CSR with sorted indices
        out = np.full(ac.nnz, np.inf)
        np.minimum.at(out, np.searchsorted(ac_keys, keys), t.data[ok])
        return out

    def _assign(self, ac, ae, wg, cap_c, cap_e, served_e, chosen, time_limit):
        """Optimal flows for a fixed set of new sites (existing first)."""
        sub = ac[chosen]
        both = sp.vstack([sub, ae], format="csr")
        caps = np.concatenate([cap_c[chosen], cap_e])
        if both.nnz == 0:
            return 0.0, (both, np.zeros(0))
        sol, fl = _flow_lp(both, wg, caps, (len(chosen), served_e), time_limit, flows=True)
        return sol.objective, (both, fl)

    def _order(self, ac, ae, wg, cap_c, cap_e, served_e, chosen, time_limit):
        """Order the chosen sites by added persons served (greedy over the chosen set)."""
        order: list[int] = []
        marg: list[float] = []
        prev = served_e
        rest = list(chosen)
        while rest:
            vals = [self._assign(ac, ae, wg, cap_c, cap_e, served_e,
                                 np.asarray([*order, j], dtype=np.int64), time_limit)[0]
                    for j in rest]
            k = int(np.argmax(vals))
            order.append(rest.pop(k))
            marg.append(vals[k] - prev)
            prev = vals[k]
        return np.asarray(order, dtype=np.int64), np.asarray(marg)

    def _disaggregate(self, flows, live, grp, wg, chosen) -> pd.DataFrame:
        both, fl = flows
        n_new = len(chosen)
        rows = np.repeat(np.arange(both.shape[0]), np.diff(both.indptr))
        keep = fl > 1e-9
        site_row, group, flow = rows[keep], both.indices[keep], fl[keep]
        # Spread each group's flow over its member points in proportion to their weight.
        members = pd.DataFrame({"group": grp, "demand": live,
                                "share": self.problem.weights[live] / wg[grp]})
        pairs = pd.DataFrame({"group": group, "site_row": site_row, "flow": flow})
        out = pairs.merge(members, on="group")
        existing = out["site_row"].to_numpy() >= n_new
        site = np.where(existing, out["site_row"].to_numpy() - n_new,
                        np.asarray(chosen)[np.minimum(out["site_row"].to_numpy(),
                                                      max(n_new - 1, 0))] if n_new else 0)
        persons = out["flow"].to_numpy() * out["share"].to_numpy()
        dem = out["demand"].to_numpy()
        tc, te = self.problem.times, self.problem.existing_times
        t = np.zeros(len(out))
        if (~existing).any():
            t[~existing] = np.asarray(tc[site[~existing], dem[~existing]]).ravel()
        if existing.any():
            t[existing] = np.asarray(te[site[existing], dem[existing]]).ravel()
        res = pd.DataFrame({"demand": dem, "site": site, "existing": existing,
                            "persons": persons, "time_min": t})
        return res.sort_values(["existing", "site", "demand"]).reset_index(drop=True)

    def _milp(self, ac, ae, wg, cap_c, cap_e, served_e, start, time_limit, mip_gap, seed,
              threads, relax: bool = False):
        m, g = ac.shape
        ke = ae.shape[0]
        nc, ne = ac.nnz, ae.nnz
        n_cols = m + nc + ne
        zc = np.arange(nc) + m
        ze = np.arange(ne) + m + nc
        rows_c = np.repeat(np.arange(m), np.diff(ac.indptr))
        rows_e = np.repeat(np.arange(ke), np.diff(ae.indptr))
        blocks = []
        lo, hi = [], []
        # demand: sum of z over pairs of g <= w_g
        blocks.append(sp.csr_matrix((np.ones(nc + ne), (np.r_[ac.indices, ae.indices],
                                                         np.r_[zc, ze])), shape=(g, n_cols)))
        lo.append(np.full(g, -np.inf))
        hi.append(wg)
        # candidate capacity: sum z_jg - C_j x_j <= 0
        blocks.append(sp.csr_matrix((np.r_[np.ones(nc), -cap_c],
                                     (np.r_[rows_c, np.arange(m)], np.r_[zc, np.arange(m)])),
                                    shape=(m, n_cols)))
        lo.append(np.full(m, -np.inf))
        hi.append(np.zeros(m))
        if ke:
            blocks.append(sp.csr_matrix((np.ones(ne), (rows_e, ze)), shape=(ke, n_cols)))
            lo.append(np.full(ke, -np.inf))
            hi.append(cap_e)
        if nc <= STRONG_ROWS_MAX:
            r = np.arange(nc)
            blocks.append(sp.csr_matrix((np.r_[np.ones(nc), -wg[ac.indices]],
                                         (np.r_[r, r], np.r_[zc, rows_c])), shape=(nc, n_cols)))
            lo.append(np.full(nc, -np.inf))
            hi.append(np.zeros(nc))
        blocks.append(sp.csr_matrix((np.ones(m), (np.zeros(m, dtype=np.int64), np.arange(m))),
                                    shape=(1, n_cols)))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(self.p)]))
        if ne and served_e > 0:
            blocks.append(sp.csr_matrix((np.ones(ne), (np.zeros(ne, dtype=np.int64), ze)),
                                        shape=(1, n_cols)))
            lo.append(np.array([served_e * (1 - 1e-9) - 1e-6]))
            hi.append(np.array([np.inf]))
        a = sp.vstack(blocks, format="csr")
        c = np.r_[np.zeros(m), np.ones(nc + ne)]
        integer = np.r_[np.ones(m, dtype=bool), np.zeros(nc + ne, dtype=bool)]
        if relax:
            integer[:] = False
        x0 = None
        if start is not None and not relax:
            x0 = np.zeros(n_cols)
            x0[start] = 1.0
            x0 = None if len(start) == 0 else x0  # HiGHS completes the flows from x
        col_hi = np.r_[np.ones(m), wg[ac.indices], wg[ae.indices]]
        return solve_milp(c, a, np.concatenate(lo), np.concatenate(hi), np.zeros(n_cols),
                          col_hi, integer, maximise=True, time_limit=time_limit,
                          mip_gap=mip_gap, seed=seed, threads=threads, start=x0)


def _flow_lp(cover: sp.csr_matrix, wg: np.ndarray, caps: np.ndarray,
             existing_floor: tuple[int, float] | None, time_limit: float, flows: bool = False):
    """Max persons served by open sites (rows of ``cover``) with capacities: a transport LP.

    ``existing_floor = (first_existing_row, S_e)`` keeps at least ``S_e`` on the rows from
    ``first_existing_row`` on (existing facilities used first).
    """
    k, g = cover.shape
    nnz = cover.nnz
    rows = np.repeat(np.arange(k), np.diff(cover.indptr))
    blocks = [sp.csr_matrix((np.ones(nnz), (cover.indices, np.arange(nnz))), shape=(g, nnz)),
              sp.csr_matrix((np.ones(nnz), (rows, np.arange(nnz))), shape=(k, nnz))]
    lo = [np.full(g, -np.inf), np.full(k, -np.inf)]
    hi = [wg, caps]
    if existing_floor is not None and existing_floor[1] > 0:
        first, floor = existing_floor
        sel = rows >= first
        blocks.append(sp.csr_matrix((np.ones(int(sel.sum())),
                                     (np.zeros(int(sel.sum()), dtype=np.int64),
                                      np.flatnonzero(sel))), shape=(1, nnz)))
        lo.append(np.array([floor * (1 - 1e-9) - 1e-6]))
        hi.append(np.array([np.inf]))
    sol = solve_milp(np.ones(nnz), sp.vstack(blocks, format="csr"), np.concatenate(lo),
                     np.concatenate(hi), np.zeros(nnz), wg[cover.indices],
                     np.zeros(nnz, dtype=bool), maximise=True, time_limit=time_limit)
    if not sol.has_solution:  # a transport LP with zero flows feasible always has one
        raise RuntimeError(f"HiGHS found no solution of a transport LP ({sol.status})")
    if flows:
        return sol, sol.x
    return sol
