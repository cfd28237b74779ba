"""Coverage location models: maximal covering (MCLP) and set covering with a target (LSCP).

Both follow spopt's "build a model, then ``solve()``" pattern and work on the sparse
coverage matrix of a :class:`~geoplan.siting.problem.SitingProblem`. Existing facilities are
fixed: demand they already cover adds nothing and is removed before solving, and demand
points that the same candidates cover are merged (an exact reduction). Exact solutions come
from HiGHS; the heuristic is greedy plus best-improvement interchange, with a Lagrangian
(MCLP) or counting (LSCP) bound so that it reports a gap.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from geoplan.errors import InputDataError
from geoplan.siting.greedy import (
    Feasibility,
    greedy_cover,
    interchange,
    lagrangian,
    order_by_value,
)
from geoplan.siting.highs import solve_milp
from geoplan.siting.problem import SitingProblem, merge_identical_columns
from geoplan.siting.result import SitingResult, relative_gap

log = logging.getLogger(__name__)

#: Above this many coverage non-zeros ``method="auto"`` uses the heuristic.
AUTO_EXACT_MAX_NNZ = 3_000_000


@dataclass
class _Reduced:
    """Coverage restricted to demand not yet covered, with identical points merged."""

    a: sp.csr_matrix          # candidates × groups (bool)
    w: np.ndarray             # group weights
    group: np.ndarray         # group of each original demand point (-1: not in the model)
    base: float               # weight already covered by existing facilities
    unreachable: np.ndarray   # bool per demand point: not covered and no candidate reaches it
    info: dict = field(default_factory=dict)


def reduce_coverage(problem: SitingProblem, cutoff: float) -> _Reduced:
    """Drop demand already covered by existing sites or unreachable; merge identical points."""
    cover = problem.covers(cutoff)
    w = problem.weights
    already = problem.covered_by_existing(cutoff)
    reach = problem.reachable(cutoff)
    live = np.flatnonzero(~already & reach & (w > 0))
    sub = sp.csr_matrix(cover[:, live])
    a, wg, grp = merge_identical_columns(sub, w[live])
    group = np.full(problem.n_demand, -1, dtype=np.int64)
    group[live] = grp
    info = {"demand_points": problem.n_demand, "demand_in_model": len(live),
            "demand_groups": int(a.shape[1]), "coverage_nnz": int(cover.nnz),
            "model_nnz": int(a.nnz)}
    return _Reduced(a=a, w=wg, group=group, base=float(w[already].sum()),
                    unreachable=~already & ~reach & (w > 0), info=info)


def _conflict_matrix(pairs: np.ndarray | None, m: int) -> sp.csr_matrix | None:
    if pairs is None or len(pairs) == 0:
        return None
    pairs = np.asarray(pairs, dtype=np.int64)
    r = np.concatenate([pairs[:, 0], pairs[:, 1]])
    c = np.concatenate([pairs[:, 1], pairs[:, 0]])
    mat = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(m, m))
    mat.sum_duplicates()
    mat.data[:] = 1.0
    return mat


def _side_rows(m: int, n_y: int, p: int, cost: np.ndarray | None, budget: float | None,
               conflicts: np.ndarray | None
               ) -> tuple[list[sp.csr_matrix], list[np.ndarray], list[np.ndarray]]:
    """Rows over [x | y] for the count, budget and spacing constraints."""
    rows, lo, hi = [], [], []
    width = m + n_y
    rows.append(sp.csr_matrix((np.ones(m), (np.zeros(m, dtype=np.int64), np.arange(m))),
                              shape=(1, width)))
    lo.append(np.array([-np.inf]))
    hi.append(np.array([float(p)]))
    if budget is not None and cost is not None:
        rows.append(sp.csr_matrix((cost, (np.zeros(m, dtype=np.int64), np.arange(m))),
                                  shape=(1, width)))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(budget)]))
    if conflicts is not None and len(conflicts):
        k = len(conflicts)
        r = np.repeat(np.arange(k), 2)
        rows.append(sp.csr_matrix((np.ones(2 * k), (r, np.asarray(conflicts).ravel())),
                                  shape=(k, width)))
        lo.append(np.full(k, -np.inf))
        hi.append(np.ones(k))
    return rows, lo, hi


class MCLP:
    """Maximal covering location: place ``p`` new sites to cover the most uncovered demand.

    Parameters
    ----------
    problem : SitingProblem
        Demand weights and the candidate / existing time matrices.
    p : int
        Number of new sites (at most; fewer when no further site adds coverage).
    cutoff : float
        Catchment in minutes.
    budget : float, optional
        Upper limit on the summed ``problem.candidate_cost`` of the new sites.
    conflicts : ndarray (k, 2), optional
        Candidate pairs that may not both be chosen (minimum spacing).

    Examples
    --------
    >>> result = MCLP(problem, p=7, cutoff=15).solve()          # doctest: +SKIP
    >>> result.selected, result.objective, result.gap           # doctest: +SKIP
    """

    name = "mclp"

    def __init__(self, problem: SitingProblem, p: int, cutoff: float, *,
                 budget: float | None = None, conflicts: np.ndarray | None = None) -> None:
        if p < 1:
            raise InputDataError(f"the number of new sites must be at least 1 (got {p})")
        problem.require_candidates(p)
        if budget is not None and problem.candidate_cost is None:
            raise InputDataError("a budget is set but the candidates carry no cost; add a cost "
                                 "column to the candidate file or remove the budget")
        self.problem, self.p, self.cutoff = problem, int(p), float(cutoff)
        self.budget, self.conflicts = budget, conflicts

    def _feasibility(self, m: int) -> Feasibility:
        return Feasibility(max_sites=self.p, cost=self.problem.candidate_cost,
                           budget=self.budget,
                           conflicts=_conflict_matrix(self.conflicts, m))

    def solve(self, method: str = "auto", *, time_limit: float = 300.0, mip_gap: float = 1e-4,
              seed: int = 0, threads: int | None = None) -> SitingResult:
        """Solve the model.

        Parameters
        ----------
        method : {"auto", "exact", "heuristic"}
            ``exact`` = HiGHS MILP (warm-started with the heuristic), ``heuristic`` = greedy +
            interchange with a Lagrangian bound; ``auto`` picks exact unless the coverage
            matrix is very large.
        time_limit : float
            Seconds for the MILP; on expiry the best solution is returned with its gap.
        mip_gap : float
            Relative gap at which the MILP stops.
        seed : int
            Random seed (HiGHS); the heuristic is deterministic.
        threads : int, optional
            HiGHS threads.

        Returns
        -------
        SitingResult
            ``objective`` is the elderly weight newly covered; ``info["covered_total"]``
            adds what existing facilities already cover.
        """
        t0 = time.perf_counter()
        red = reduce_coverage(self.problem, self.cutoff)
        if red.a.nnz == 0:
            raise InputDataError(
                f"no candidate site reaches any older resident left uncovered within "
                f"{self.cutoff:g} min; add candidates nearer the gaps or raise the cutoff")
        m = red.a.shape[0]
        feas = self._feasibility(m)
        use_ratio = self.budget is not None
        chosen, _ = greedy_cover(red.a, red.w, feas, by_ratio=use_ratio)
        if use_ratio:  # also try plain greedy and keep the better start
            alt, _ = greedy_cover(red.a, red.w, feas)
            if _value(red.a, red.w, alt) > _value(red.a, red.w, chosen):
                chosen = alt
        chosen = interchange(red.a, red.w, chosen, feas)
        heur_val = _value(red.a, red.w, chosen)
        lag = lagrangian(red.a, red.w, self.p, lower=heur_val,
                         cost=self.problem.candidate_cost, budget=self.budget)
        if lag.best_value > heur_val + 1e-9 and self.conflicts is None:
            alt = interchange(red.a, red.w, lag.best_set, feas)
            if _value(red.a, red.w, alt) > heur_val:
                chosen, heur_val = alt, _value(red.a, red.w, alt)
        bound = max(lag.bound, heur_val)
        if method == "auto":
            method = "exact" if red.a.nnz <= AUTO_EXACT_MAX_NNZ else "heuristic"
        warnings: list[str] = []
        obj, status = heur_val, "heuristic"
        if method == "exact":
            if bound - heur_val <= 1e-9 * max(1.0, bound):
                status = "optimal"  # the Lagrangian bound proves the heuristic optimal
                red.info["proved_by"] = "lagrangian bound"
            else:
                # Reduced-cost fixing: a candidate whose every solution is bounded by the
                # incumbent cannot improve on it, so the MILP leaves it out.
                keep = lag.if_open > heur_val + 1e-9 * max(1.0, heur_val)
                keep[chosen] = True
                red.info["candidates_in_milp"] = int(keep.sum())
                sol, cand = self._milp(red, np.flatnonzero(keep), chosen, time_limit, mip_gap,
                                       seed, threads)
                if sol.x is not None and _value(red.a, red.w, cand) >= heur_val - 1e-9:
                    chosen = cand
                obj = _value(red.a, red.w, chosen)
                bound = min(bound, max(float(sol.bound), obj))
                status = "optimal" if sol.status == "optimal" else "time_limit"
                red.info["milp_nodes"] = sol.nodes
            gap = relative_gap(obj, bound, maximise=True)
            if status == "time_limit":
                warnings.append(f"solver time limit ({time_limit:.0f} s) reached: best solution "
                                f"returned, within {100 * (gap or 0):.2f} % of the optimum")
        elif method == "heuristic":
            gap = relative_gap(obj, bound, maximise=True)
        else:
            raise ValueError(f"unknown method {method!r}")
        sel, marg = order_by_value(red.a, red.w, chosen)
        if len(sel) and marg[-1] <= 0:
            n_useful = int((marg > 0).sum())
            warnings.append(f"only {n_useful} of the {len(sel)} sites add coverage; the rest "
                            "reach no demand left uncovered")
        elif len(sel) < self.p:
            warnings.append(f"only {len(sel)} sites add coverage (of {self.p} requested): "
                            + self._why_fewer(red, sel))
        info = dict(red.info, covered_total=red.base + obj, covered_existing=red.base,
                    total_weight=self.problem.total_weight,
                    unreachable_weight=float(self.problem.weights[red.unreachable].sum()),
                    heuristic_objective=heur_val)
        return SitingResult(model=self.name, method=method, selected=sel, marginal=marg,
                            objective=obj, objective_name="elderly newly covered",
                            bound=bound, gap=gap, status=status,
                            seconds=time.perf_counter() - t0, info=info, warnings=warnings)

    def _why_fewer(self, red: _Reduced, sel: np.ndarray) -> str:
        """Why fewer sites than requested: no candidate left, or a rule blocks the rest."""
        hit = np.zeros(red.a.shape[1], dtype=bool)
        if len(sel):
            hit[red.a[np.asarray(sel)].indices] = True
        gain = (red.a != 0).astype(np.float64) @ np.where(hit, 0.0, red.w)
        gain[np.asarray(sel, dtype=np.int64)] = 0.0
        if not (gain > 0).any():
            return "no other candidate reaches uncovered demand"
        rules = [(text, key) for text, key, on in (
            ("the spacing rule", "min_spacing_m",
             self.conflicts is not None and len(self.conflicts) > 0),
            ("the budget", "budget", self.budget is not None)) if on]
        if not rules:
            return "no other candidate reaches uncovered demand"
        n = int((gain > 0).sum())
        return (f"{' and '.join(t for t, _ in rules)} rule{'' if len(rules) > 1 else 's'} "
                f"out the {n} other candidate{'s' if n > 1 else ''} that reach uncovered "
                f"demand; lower {' or raise '.join(k for _, k in rules)} to place more sites")

    def _milp(self, red: _Reduced, keep: np.ndarray, start: np.ndarray, time_limit: float,
              mip_gap: float, seed: int, threads: int | None):
        """MILP over the candidates ``keep``; returns the solution and the chosen positions."""
        sub = sp.csr_matrix(red.a[keep])
        hit = np.zeros(sub.shape[1], dtype=bool)
        hit[sub.indices] = True
        sub_a, wg, _ = merge_identical_columns(sp.csr_matrix(sub[:, np.flatnonzero(hit)]),
                                               red.w[hit])
        red.info["groups_in_milp"] = int(sub_a.shape[1])
        m, g = sub_a.shape
        at = sp.csr_matrix(sub_a.T, dtype=np.float64)
        # Row i: y_i - sum_j a_ij x_j <= 0, columns [x (m) | y (g)].
        cover_rows = sp.hstack([-at, sp.identity(g, format="csr")], format="csr")
        cost = None if self.problem.candidate_cost is None else self.problem.candidate_cost[keep]
        conflicts = None
        if self.conflicts is not None and len(self.conflicts):
            pos = np.full(red.a.shape[0], -1)
            pos[keep] = np.arange(len(keep))
            cp = pos[np.asarray(self.conflicts)]
            conflicts = cp[(cp >= 0).all(axis=1)]
        side, lo, hi = _side_rows(m, g, self.p, cost, self.budget, conflicts)
        a = sp.vstack([cover_rows, *side], format="csr")
        row_lo = np.concatenate([np.full(g, -np.inf), *lo])
        row_hi = np.concatenate([np.zeros(g), *hi])
        c = np.concatenate([np.zeros(m), wg])
        integer = np.concatenate([np.ones(m, dtype=bool), np.zeros(g, dtype=bool)])
        x0 = np.zeros(m + g)
        x0[np.searchsorted(keep, start)] = 1.0
        x0[m:] = np.minimum(1.0, np.asarray(at @ x0[:m]).ravel())
        sol = solve_milp(c, a, row_lo, row_hi, np.zeros(m + g), np.ones(m + g), integer,
                         maximise=True, time_limit=time_limit, mip_gap=mip_gap, seed=seed,
                         threads=threads, start=x0)
        chosen = keep[np.flatnonzero(sol.x[:m] > 0.5)] if sol.x is not None else start
        return sol, chosen


def _value(a: sp.csr_matrix, w: np.ndarray, chosen: np.ndarray) -> float:
    if len(chosen) == 0:
        return 0.0
    hit = np.zeros(a.shape[1], dtype=bool)
    hit[a[np.asarray(chosen)].indices] = True
    return float(w[hit].sum())


class LSCP:
    """Set covering with a target: the fewest new sites so that a share of demand is covered.

    The target is a share of *all* demand weight (existing facilities count). Demand that no
    candidate reaches within the cutoff cannot be covered; it is reported
    (``info["unreachable_weight"]``, and per point in ``unreachable``) and the model solves
    for the rest: if the target exceeds the best achievable share, the model covers
    everything it can and says so in ``warnings``.

    Parameters
    ----------
    problem : SitingProblem
    target : float
        Share in (0, 1]; 1.0 is classic LSCP.
    cutoff : float
        Catchment in minutes.
    max_sites : int, optional
        Upper limit on the count (default: number of candidates).
    conflicts : ndarray (k, 2), optional
        Candidate pairs that may not both be chosen.
    """

    name = "lscp"

    def __init__(self, problem: SitingProblem, target: float, cutoff: float, *,
                 max_sites: int | None = None, conflicts: np.ndarray | None = None) -> None:
        if not 0 < target <= 1:
            raise InputDataError(f"coverage target must be a share in (0, 1], got {target}; "
                                 "write 0.95 for 95 %")
        self.problem, self.target, self.cutoff = problem, float(target), float(cutoff)
        self.max_sites = problem.n_candidates if max_sites is None else int(max_sites)
        self.conflicts = conflicts
        self.unreachable = np.zeros(problem.n_demand, dtype=bool)

    def solve(self, method: str = "auto", *, time_limit: float = 300.0, mip_gap: float = 0.0,
              seed: int = 0, threads: int | None = None) -> SitingResult:
        """Solve; see :meth:`MCLP.solve` for the parameters.

        Returns
        -------
        SitingResult
            ``objective`` is the number of new sites; ``info`` holds the target, the share
            reached and the best achievable share.
        """
        t0 = time.perf_counter()
        red = reduce_coverage(self.problem, self.cutoff)
        self.unreachable = red.unreachable
        total = self.problem.total_weight
        if total <= 0:
            raise InputDataError("the demand carries no elderly population; nothing to cover")
        best_share = (red.base + red.w.sum()) / total
        warnings: list[str] = []
        target = self.target
        if target > best_share + 1e-12:
            lost = float(self.problem.weights[red.unreachable].sum())
            warnings.append(
                f"target {100 * target:.1f} % cannot be reached: the best achievable share is "
                f"{100 * best_share:.1f} % because {lost:,.0f} elderly live where no candidate "
                f"site is within {self.cutoff:g} min; solving for everything reachable")
            target = best_share
        need = max(0.0, target * total - red.base)
        feas = Feasibility(max_sites=self.max_sites,
                           conflicts=_conflict_matrix(self.conflicts, red.a.shape[0]))
        chosen = np.zeros(0, dtype=np.int64)
        if need > 1e-9:
            chosen, _ = greedy_cover(red.a, red.w, feas, stop_at=need)
            chosen = _drop_redundant(red.a, red.w, chosen, need)
        heur_count = len(chosen)
        if method == "auto":
            method = "exact" if red.a.nnz <= AUTO_EXACT_MAX_NNZ else "heuristic"
        status = "heuristic"
        gains_sorted = np.sort(np.asarray(red.a @ red.w).ravel())[::-1]
        # Counting bound: k sites cover at most the sum of their k largest single gains.
        lb = float(np.searchsorted(np.cumsum(gains_sorted), need - 1e-9) + 1) if need > 1e-9 \
            else 0.0
        bound = lb
        if method == "exact" and need > 1e-9:
            sol = self._milp(red, chosen, need, time_limit, mip_gap, seed, threads)
            if sol.x is not None:
                cand = np.flatnonzero(sol.x[:red.a.shape[0]] > 0.5)
                if len(cand) <= len(chosen) and _value(red.a, red.w, cand) >= need - 1e-6:
                    chosen = cand
            bound = max(lb, float(np.ceil(sol.bound - 1e-6)))
            status = "optimal" if sol.status == "optimal" else "time_limit"
            if status == "time_limit":
                warnings.append(f"solver time limit ({time_limit:.0f} s) reached: best solution "
                                f"has {len(chosen)} sites; at least {bound:.0f} are needed")
        elif method == "exact":
            status = "optimal"
        elif method != "heuristic":
            raise ValueError(f"unknown method {method!r}")
        if len(chosen) > self.max_sites:
            warnings.append(f"the target needs {len(chosen)} sites, more than max_sites")
        covered = red.base + _value(red.a, red.w, chosen)
        if covered < need + red.base - 1e-6:
            warnings.append(f"with at most {self.max_sites} sites only "
                            f"{100 * covered / total:.1f} % is reached")
        sel, marg = order_by_value(red.a, red.w, chosen)
        gap = relative_gap(float(len(chosen)), bound, maximise=False)
        if status == "optimal":
            gap = 0.0 if len(chosen) <= bound + 1e-9 else gap
        info = dict(red.info, target=self.target, target_used=target, share=covered / total,
                    best_share=best_share, covered_existing=red.base, covered_total=covered,
                    total_weight=total,
                    unreachable_weight=float(self.problem.weights[red.unreachable].sum()),
                    unreachable_points=int(red.unreachable.sum()),
                    heuristic_objective=heur_count)
        return SitingResult(model=self.name, method=method, selected=sel, marginal=marg,
                            objective=float(len(sel)), objective_name="new sites",
                            bound=bound, gap=gap, status=status,
                            seconds=time.perf_counter() - t0, info=info, warnings=warnings)

    def _milp(self, red: _Reduced, start: np.ndarray, need: float, time_limit: float,
              mip_gap: float, seed: int, threads: int | None):
        m, g = red.a.shape
        at = sp.csr_matrix(red.a.T, dtype=np.float64)
        full = need >= red.w.sum() - 1e-9
        if full:
            # Classic LSCP: every reachable group covered at least once.
            a = at
            row_lo, row_hi = np.ones(g), np.full(g, np.inf)
            n_y = 0
        else:
            a = sp.vstack([sp.hstack([-at, sp.identity(g, format="csr")]),
                           sp.hstack([sp.csr_matrix((1, m)), sp.csr_matrix(red.w[None, :])])],
                          format="csr")
            row_lo = np.concatenate([np.full(g, -np.inf), [need - 1e-7]])
            row_hi = np.concatenate([np.zeros(g), [np.inf]])
            n_y = g
        side_rows, lo, hi = _side_rows(m, n_y, self.max_sites, None, None, self.conflicts)
        a = sp.vstack([a, *side_rows], format="csr")
        row_lo = np.concatenate([row_lo, *lo])
        row_hi = np.concatenate([row_hi, *hi])
        c = np.concatenate([np.ones(m), np.zeros(n_y)])
        integer = np.concatenate([np.ones(m, dtype=bool), np.zeros(n_y, dtype=bool)])
        x0 = np.zeros(m + n_y)
        x0[start] = 1.0
        if n_y:
            x0[m:] = np.minimum(1.0, np.asarray(at @ x0[:m]).ravel())
        return solve_milp(c, a, row_lo, row_hi, np.zeros(m + n_y), np.ones(m + n_y), integer,
                          maximise=False, time_limit=time_limit, mip_gap=mip_gap, seed=seed,
                          threads=threads, start=x0)


def _drop_redundant(a: sp.csr_matrix, w: np.ndarray, chosen: np.ndarray, need: float
                    ) -> np.ndarray:
    """Remove sites (last added first) whose removal keeps the covered weight >= need."""
    keep = list(chosen)
    for j in list(chosen)[::-1]:
        trial = [k for k in keep if k != j]
        if _value(a, w, np.asarray(trial, dtype=np.int64)) >= need - 1e-9:
            keep = trial
    return np.asarray(keep, dtype=np.int64)
