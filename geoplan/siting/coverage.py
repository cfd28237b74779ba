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
    Lagrangian,
    greedy_cover,
    interchange,
    lagrangian,
    order_by_value,
)
from geoplan.siting.highs import MilpSolution, solve_milp
from geoplan.siting.problem import SitingProblem, merge_identical_columns
from geoplan.siting.result import SitingResult, relative_gap
from geoplan.siting.verify import (
    check_coverage,
    check_solver_options,
    finalise,
    milp_status,
    rule_violations,
)

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


def dominated_candidates(a: sp.csr_matrix) -> np.ndarray:
    """Candidates whose cover set another candidate's contains (a standard MCLP reduction).

    Candidate ``j`` is dominated by ``k`` when every group ``j`` covers ``k`` covers too
    and ``k`` covers more, or the same with a lower index (so one of equal sets stays).
    Without cost or spacing rules some optimal solution uses no dominated candidate:
    replace each by its dominator (or drop it when the dominator is already chosen).
    Candidates that cover nothing are dominated as well.

    Parameters
    ----------
    a : csr_matrix (m, g), bool
        Candidate x group coverage.

    Returns
    -------
    ndarray of bool (m,)
    """
    a = sp.csr_matrix(a, dtype=np.float32)
    a.sum_duplicates()
    size = np.diff(a.indptr)
    # |cover(j) & cover(k)| for overlapping pairs, in C; j inside k when it equals |cover(j)|
    ov = sp.coo_matrix(a @ a.T)
    r, c = ov.row, ov.col
    inside = (ov.data == size[r]) & (r != c) & ((size[c] > size[r])
                                                 | ((size[c] == size[r]) & (c < r)))
    dom = size == 0
    dom[r[inside]] = True
    return dom


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
        check_solver_options(time_limit, mip_gap)
        t0 = time.perf_counter()
        if method not in ("auto", "exact", "heuristic"):
            raise ValueError(f"unknown method {method!r}")
        red = reduce_coverage(self.problem, self.cutoff)
        if red.a.nnz == 0:
            if not red.unreachable.any():
                return self._nothing_to_cover(red, method, t0)
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
        coverable = float(red.w.sum())
        if heur_val >= coverable - 1e-9 * max(1.0, coverable):
            # every coverable point is covered: the coverable weight proves it optimal, and
            # the Lagrangian (hundreds of passes over the matrix) has nothing to add
            lag = Lagrangian(bound=coverable, if_open=np.full(m, coverable),
                             best_set=chosen, best_value=heur_val)
        else:
            # the bound need only be as tight as the gap asked for
            lag = lagrangian(red.a, red.w, self.p, lower=heur_val,
                             cost=self.problem.candidate_cost, budget=self.budget,
                             tol=max(1e-4, 0.5 * mip_gap))
        if lag.best_value > heur_val + 1e-9 and self.conflicts is None:
            alt = interchange(red.a, red.w, lag.best_set, feas)
            if _value(red.a, red.w, alt) > heur_val:
                chosen, heur_val = alt, _value(red.a, red.w, alt)
        # The Lagrangian bound is a true upper bound; below the heuristic value only by
        # rounding noise, which finalise() checks. The weight of every group some candidate
        # reaches is one too (L at lam = 0), and the tight one when p sites can cover all
        # of it: the subgradient search starts at lam = w and may not get there.
        bound = min(lag.bound, coverable)
        if method == "auto":
            method = "exact" if red.a.nnz <= AUTO_EXACT_MAX_NNZ else "heuristic"
        warnings: list[str] = []
        obj, status = heur_val, "heuristic"
        if method == "exact":
            if bound - heur_val <= max(1e-9, mip_gap) * max(1.0, bound):
                # the bound proves the heuristic optimal within the requested gap
                status = "optimal"
                red.info["proved_by"] = ("coverable weight" if bound >= coverable
                                         else "lagrangian bound")
            else:
                # Reduced-cost fixing: a candidate whose every solution is bounded by the
                # incumbent cannot improve on it, so the MILP leaves it out.
                keep = lag.if_open > heur_val + 1e-9 * max(1.0, heur_val)
                if self.budget is None and (self.conflicts is None or not len(self.conflicts)):
                    # A candidate covering a subset of another's groups can be swapped for
                    # it at no loss (exact without budget and spacing rules); holds also
                    # when the other one was fixed out above.
                    dom = dominated_candidates(red.a)
                    red.info["dominated_candidates"] = int(dom.sum())
                    keep &= ~dom
                keep[chosen] = True
                red.info["candidates_in_milp"] = int(keep.sum())
                sol, cand = self._milp(red, np.flatnonzero(keep), chosen, time_limit, mip_gap,
                                       seed, threads)
                if sol.has_solution and _value(red.a, red.w, cand) >= heur_val - 1e-9:
                    chosen = cand
                obj = _value(red.a, red.w, chosen)
                # Solutions opening a fixed-out candidate are worth at most the incumbent,
                # so the MILP's bound (over the kept candidates) bounds the whole problem.
                if np.isfinite(sol.bound):
                    bound = min(bound, max(float(sol.bound), obj))
                status = milp_status(sol, warnings, time_limit)
                red.info["milp_nodes"] = sol.nodes
                red.info["milp_attempts"] = sol.attempts
        gap = relative_gap(obj, bound, maximise=True)
        sel, marg = order_by_value(red.a, red.w, chosen)
        if len(sel) and marg[-1] <= 0:
            n_useful = int((marg > 0).sum())
            warnings.append(f"only {n_useful} of the {len(sel)} sites add coverage; the rest "
                            "reach no demand left uncovered")
        elif len(sel) < self.p:
            warnings.append(f"only {len(sel)} sites add coverage (of {self.p} requested): "
                            + self._why_fewer(red, chosen))
        covered, base = check_coverage(self.problem, sel, self.cutoff)
        info = dict(red.info, covered_total=covered, covered_existing=base,
                    total_weight=self.problem.total_weight,
                    unreachable_weight=float(self.problem.weights[red.unreachable].sum()),
                    heuristic_objective=heur_val)
        res = SitingResult(model=self.name, method=method, selected=sel, marginal=marg,
                           objective=obj, objective_name="elderly newly covered",
                           bound=bound, gap=gap, status=status,
                           seconds=time.perf_counter() - t0, info=info, warnings=warnings)
        return finalise(res, recomputed=covered - base, maximise=True, mip_gap=mip_gap,
                        violations=rule_violations(self.problem, sel, max_sites=self.p,
                                                   budget=self.budget,
                                                   conflicts=self.conflicts))

    def _nothing_to_cover(self, red: _Reduced, method: str, t0: float) -> SitingResult:
        """Existing facilities already reach every older resident: no new site is needed."""
        covered, base = check_coverage(self.problem, np.zeros(0, dtype=np.int64), self.cutoff)
        info = dict(red.info, covered_total=covered, covered_existing=base,
                    total_weight=self.problem.total_weight, unreachable_weight=0.0,
                    heuristic_objective=0.0)
        msg = (f"existing facilities already reach every older resident within "
               f"{self.cutoff:g} min: nobody is left uncovered, so no new site is proposed")
        res = SitingResult(model=self.name, method="exact" if method == "auto" else method,
                           selected=np.zeros(0, dtype=np.int64), marginal=np.zeros(0),
                           objective=0.0, objective_name="elderly newly covered", bound=0.0,
                           gap=0.0, status="optimal", seconds=time.perf_counter() - t0,
                           info=info, warnings=[msg])
        return finalise(res, recomputed=0.0, maximise=True, mip_gap=0.0, violations=[])

    def _why_fewer(self, red: _Reduced, chosen: np.ndarray) -> str:
        """Say which rule stops further sites: spacing, budget, or no demand left."""
        gains = np.asarray(red.a @ np.where(_hit(red.a, chosen), 0.0, red.w)).ravel()
        useful = gains > 1e-9
        useful[chosen] = False
        if not useful.any():
            return "no other candidate reaches uncovered demand"
        rules = []
        conf = _conflict_matrix(self.conflicts, red.a.shape[0])
        if conf is not None:
            blocked = np.asarray(conf[:, chosen].sum(axis=1)).ravel() > 0
            if (blocked | ~useful).all():
                rules.append("the minimum spacing rule (min_spacing_m) excludes every other "
                             "useful candidate")
        if self.budget is not None and self.problem.candidate_cost is not None:
            left = self.budget - float(self.problem.candidate_cost[chosen].sum())
            if (self.problem.candidate_cost[useful] > left + 1e-9).all():
                rules.append(f"the budget leaves {left:,.2f}, less than any other useful "
                             "candidate costs")
        return "; ".join(rules) if rules else ("the spacing and budget rules together allow "
                                               "no further useful site")

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
        chosen = keep[np.flatnonzero(sol.x[:m] > 0.5)] if sol.has_solution else start
        return sol, chosen


def _hit(a: sp.csr_matrix, chosen: np.ndarray) -> np.ndarray:
    """Columns (demand groups) that the chosen rows reach."""
    hit = np.zeros(a.shape[1], dtype=bool)
    if len(chosen):
        hit[a[np.asarray(chosen)].indices] = True
    return hit


def _value(a: sp.csr_matrix, w: np.ndarray, chosen: np.ndarray) -> float:
    return float(w[_hit(a, chosen)].sum())




class LSCP:
    """Set covering with a target: the fewest new sites so that a share of demand is covered.

    The target is a share of *all* demand weight (existing facilities count). Demand that no
    candidate reaches within the cutoff cannot be covered; it is reported
    (``info["unreachable_weight"]``, and per point in ``unreachable``) and the model solves
    for the rest: if the target exceeds the best achievable share, the model covers
    everything it can and says so in ``warnings``.

    When the rules (``max_sites``, ``budget``, minimum spacing) make the target unreachable,
    the status is ``"infeasible"``: ``info["limited_by"]`` names the rules that do it,
    ``info["best_share"]`` is the best share any set of sites within the rules achieves, and
    the sites returned are the fewest that achieve it.

    Parameters
    ----------
    problem : SitingProblem
    target : float
        Share in (0, 1]; 1.0 is classic LSCP.
    cutoff : float
        Catchment in minutes.
    max_sites : int, optional
        Upper limit on the count (default: number of candidates).
    budget : float, optional
        Upper limit on the summed ``problem.candidate_cost`` of the new sites.
    conflicts : ndarray (k, 2), optional
        Candidate pairs that may not both be chosen (minimum spacing).
    """

    name = "lscp"

    def __init__(self, problem: SitingProblem, target: float, cutoff: float, *,
                 max_sites: int | None = None, budget: float | None = None,
                 conflicts: np.ndarray | None = None) -> None:
        if not 0 < target <= 1:
            raise InputDataError(f"coverage target must be a share in (0, 1], got {target}; "
                                 "write 0.95 for 95 %")
        if budget is not None and problem.candidate_cost is None:
            raise InputDataError("a budget is set but the candidates carry no cost; add a cost "
                                 "column to the candidate file or remove the budget")
        self.problem, self.target, self.cutoff = problem, float(target), float(cutoff)
        self.max_sites = problem.n_candidates if max_sites is None else int(max_sites)
        self.budget = budget
        self.conflicts = conflicts
        self.unreachable = np.zeros(problem.n_demand, dtype=bool)

    def _rules(self) -> dict[str, dict]:
        """The side rules in force, as keyword arguments of :class:`MCLP` / this model."""
        rules: dict[str, dict] = {}
        if self.max_sites < self.problem.n_candidates:
            rules["max_sites"] = {"max_sites": self.max_sites}
        if self.budget is not None:
            rules["budget"] = {"budget": self.budget}
        if self.conflicts is not None and len(self.conflicts):
            rules["min_spacing_m"] = {"conflicts": self.conflicts}
        return rules

    def solve(self, method: str = "auto", *, time_limit: float = 300.0, mip_gap: float = 0.0,
              seed: int = 0, threads: int | None = None) -> SitingResult:
        """Solve; see :meth:`MCLP.solve` for the parameters.

        Returns
        -------
        SitingResult
            ``objective`` is the number of new sites; ``info`` holds the target, the share
            reached and the best achievable share.
        """
        check_solver_options(time_limit, mip_gap)
        t0 = time.perf_counter()
        if method not in ("auto", "exact", "heuristic"):
            raise ValueError(f"unknown method {method!r}")
        red = reduce_coverage(self.problem, self.cutoff)
        self.unreachable = red.unreachable
        total = self.problem.total_weight
        if total <= 0:
            raise InputDataError("the demand carries no elderly population; nothing to cover")
        best_share = (red.base + red.w.sum()) / total
        warnings: list[str] = []
        limited_by: list[str] = []
        target = self.target
        if target > best_share + 1e-12:
            lost = float(self.problem.weights[red.unreachable].sum())
            warnings.append(
                f"target {100 * target:.1f} % cannot be reached: the best achievable share is "
                f"{100 * best_share:.1f} % because {lost:,.0f} elderly live where no candidate "
                f"site is within {self.cutoff:g} min; solving for everything reachable")
            target = best_share
            limited_by.append("reach")
        need = max(0.0, target * total - red.base)
        if method == "auto":
            method = "exact" if red.a.nnz <= AUTO_EXACT_MAX_NNZ else "heuristic"
        m = red.a.shape[0]
        feas = Feasibility(max_sites=self.max_sites, cost=self.problem.candidate_cost,
                           budget=self.budget,
                           conflicts=_conflict_matrix(self.conflicts, m))
        chosen = np.zeros(0, dtype=np.int64)
        if need > 1e-9:
            chosen, _ = greedy_cover(red.a, red.w, feas, stop_at=need)
            chosen = _drop_redundant(red.a, red.w, chosen, need)
        heur_count = len(chosen)
        heur_ok = _value(red.a, red.w, chosen) >= need - 1e-6 * max(1.0, need)
        status = "heuristic" if method == "heuristic" else "optimal"
        gains_sorted = np.sort(np.asarray(red.a @ red.w).ravel())[::-1]
        # Counting bound: k sites cover at most the sum of their k largest single gains.
        bound = float(np.searchsorted(np.cumsum(gains_sorted), need - 1e-9) + 1) \
            if need > 1e-9 else 0.0
        milp_info: dict = {}
        if method == "exact" and need > 1e-9:
            sol = self._milp(red, chosen if heur_ok else None, need, time_limit, mip_gap, seed,
                             threads)
            milp_info = {"milp_nodes": sol.nodes, "milp_attempts": sol.attempts}
            if sol.status == "infeasible":
                return self._infeasible(red, target, limited_by, warnings, method, time_limit,
                                        mip_gap, seed, threads, t0)
            if sol.has_solution:
                cand = np.flatnonzero(sol.x[:m] > 0.5)
                if (not heur_ok or len(cand) <= len(chosen)) and \
                        _value(red.a, red.w, cand) >= need - 1e-6 * max(1.0, need):
                    chosen, heur_ok = cand, True
            if np.isfinite(sol.bound):
                bound = max(bound, float(np.ceil(sol.bound - 1e-6)))
            if not heur_ok:
                status = "no_solution"
                warnings.append(f"solver time limit ({time_limit:g} s) reached before any set "
                                f"of sites within the rules reached the target; no answer")
            else:
                status = milp_status(sol, warnings, time_limit)
        elif not heur_ok:
            rules = ", ".join(self._rules()) or "the candidates"
            warnings.append(f"the heuristic found no set of sites within {rules} that reaches "
                            f"{100 * target:.1f} %; method = 'exact' tells whether one exists "
                            "and the best achievable share")
        if not heur_ok:
            chosen = np.zeros(0, dtype=np.int64)
        sel, marg = order_by_value(red.a, red.w, chosen)
        covered, base = check_coverage(self.problem, sel, self.cutoff)
        info = dict(red.info, **milp_info, target=self.target, target_used=target,
                    share=covered / total, best_share=best_share, covered_existing=base,
                    covered_total=covered, total_weight=total,
                    unreachable_weight=float(self.problem.weights[red.unreachable].sum()),
                    unreachable_points=int(red.unreachable.sum()),
                    heuristic_objective=heur_count, limited_by=limited_by)
        res = SitingResult(model=self.name, method=method, selected=sel, marginal=marg,
                           objective=float(len(sel)), objective_name="new sites",
                           bound=bound if heur_ok else None,
                           gap=relative_gap(float(len(sel)), bound, maximise=False),
                           status=status, seconds=time.perf_counter() - t0, info=info,
                           warnings=warnings)
        violations = rule_violations(self.problem, sel, max_sites=self.max_sites,
                                     budget=self.budget, conflicts=self.conflicts)
        if heur_ok and covered < target * total - 1e-6 * max(1.0, total):
            violations.append(f"covers {100 * covered / total:.3f} % below the target "
                              f"{100 * target:.3f} %")
        return finalise(res, recomputed=float(len(sel)), maximise=False, mip_gap=mip_gap,
                        violations=violations)

    def _infeasible(self, red: _Reduced, target: float, limited_by: list[str],
                    warnings: list[str], method: str, time_limit: float, mip_gap: float,
                    seed: int, threads: int | None, t0: float) -> SitingResult:
        """The rules make the target unreachable: say which, and the best achievable share.

        The best share within all the rules is an exact MCLP with as many sites as allowed;
        each rule alone is tried the same way to name the ones that make the target
        unreachable by themselves. The sites returned are the fewest that reach the best
        share (a feasible LSCP), and the status stays ``"infeasible"``.
        """
        total = self.problem.total_weight
        rules = self._rules()
        n_all = self.problem.n_candidates

        def best(names: list[str]) -> tuple[float, str]:
            """Best share within the named rules (an exact MCLP with all sites allowed)."""
            kw = {k: v for n in names if n != "max_sites" for k, v in rules[n].items()}
            p = max(1, min(self.max_sites, n_all) if "max_sites" in names else n_all)
            r = MCLP(self.problem, p, self.cutoff, **kw).solve(
                "exact", time_limit=time_limit, mip_gap=0.0, seed=seed, threads=threads)
            return float(r.info["covered_total"]) / total, r.status

        share_all, st_all = best(list(rules))
        alone = list(rules) if len(rules) == 1 else [
            n for n in rules if best([n])[0] < target - 1e-9]
        names = alone or list(rules)
        limited_by = [*limited_by, *names]
        why = " and ".join(names) if alone else "the rules " + " + ".join(names) + " together"
        warnings.append(
            f"target {100 * target:.1f} % cannot be reached within {why}: the best achievable "
            f"share is {100 * share_all:.1f} %"
            + ("" if st_all == "optimal" else f" (as far as the solver got: {st_all})")
            + "; the fewest sites reaching that share are proposed")
        base_share = red.base / total
        if share_all <= base_share + 1e-12:
            sel = np.zeros(0, dtype=np.int64)
            res = SitingResult(model=self.name, method=method, selected=sel,
                               marginal=np.zeros(0), objective=0.0, objective_name="new sites",
                               bound=0.0, gap=0.0, status="infeasible",
                               seconds=time.perf_counter() - t0, info={}, warnings=warnings)
            covered = red.base
        else:
            sub = LSCP(self.problem, min(1.0, share_all), self.cutoff, max_sites=self.max_sites,
                       budget=self.budget, conflicts=self.conflicts)
            res = sub.solve(method, time_limit=time_limit, mip_gap=mip_gap, seed=seed,
                            threads=threads)
            res.info["relaxed_status"] = res.status
            res.status = "infeasible"
            res.warnings = warnings + [w for w in res.warnings if "cannot be reached" not in w]
            covered = float(res.info["covered_total"])
        res.info.update(target=self.target, target_used=target, best_share=share_all,
                        share=covered / total, limited_by=limited_by,
                        covered_total=covered, total_weight=total,
                        unreachable_weight=float(self.problem.weights[red.unreachable].sum()),
                        unreachable_points=int(red.unreachable.sum()))
        res.seconds = time.perf_counter() - t0
        return res

    def _milp(self, red: _Reduced, start: np.ndarray | None, need: float, time_limit: float,
              mip_gap: float, seed: int, threads: int | None) -> MilpSolution:
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
        side_rows, lo, hi = _side_rows(m, n_y, self.max_sites, self.problem.candidate_cost,
                                       self.budget, self.conflicts)
        a = sp.vstack([a, *side_rows], format="csr")
        row_lo = np.concatenate([row_lo, *lo])
        row_hi = np.concatenate([row_hi, *hi])
        c = np.concatenate([np.ones(m), np.zeros(n_y)])
        integer = np.concatenate([np.ones(m, dtype=bool), np.zeros(n_y, dtype=bool)])
        x0 = None
        if start is not None:
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
