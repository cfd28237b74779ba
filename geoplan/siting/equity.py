"""Equity-aware siting: no area left behind (全覆盖), not only the largest total.

Three models on the sparse coverage of a :class:`~geoplan.siting.problem.SitingProblem`,
with the demand points grouped into areas (residents' committees, compounds or streets)
and existing facilities fixed:

* :class:`AreaFloors` — the fewest new sites such that every area reaches at least a given
  covered share (a set-covering model with one coverage row per area). Areas that no set of
  candidates can lift to the floor are reported with their best achievable share and the
  rest is solved.
* :class:`Maximin` — ``p`` new sites maximising the smallest covered share over the areas
  with older residents, ties broken by the total covered (two MILPs, lexicographic).
* :func:`weighted_mclp` — the MCLP objective plus ``equity_weight`` times the sum of the
  areas' covered shares (scaled to persons), so one number trades total coverage against
  equity; 0 is the plain MCLP.

Equity figures (:func:`equity_figures`): the smallest area share, the share of areas
below a floor, and the population-weighted Gini index of coverage across areas.

None of spopt, ArcGIS Location-Allocation, access or pandana offers these, hence our own
formulation; the exact answers use HiGHS through :func:`~geoplan.siting.highs.solve_milp`
and every answer passes :func:`~geoplan.siting.verify.finalise`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from geoplan.errors import InputDataError
from geoplan.siting.coverage import MCLP, _conflict_matrix, _side_rows
from geoplan.siting.greedy import Feasibility
from geoplan.siting.highs import MilpSolution, solve_milp
from geoplan.siting.problem import SitingProblem, mask_within
from geoplan.siting.result import SitingResult, relative_gap
from geoplan.siting.verify import (
    check_solver_options,
    covered_mask,
    finalise,
    milp_status,
    rule_violations,
)


def weighted_gini(values: np.ndarray, weights: np.ndarray) -> float:
    """Population-weighted Gini index of ``values`` (0 = equal, 1 = all in one unit).

    Parameters
    ----------
    values : ndarray (k,)
        E.g. the covered share of each area (finite, non-negative).
    weights : ndarray (k,)
        E.g. each area's older residents (persons).

    Returns
    -------
    float
        ``Σ_i Σ_j w_i w_j |x_i − x_j| / (2 W² μ)``, computed in O(k log k) from the sorted
        values; ``nan`` when no unit has weight; ``0.0`` when the weighted mean is 0 (every
        unit at zero is perfectly equal, e.g. the "before" of a district nobody can reach yet).

    Notes
    -----
    The standard weighted Gini (e.g. Lerman & Yitzhaki 1989, the mean-difference form).
    """
    x = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    keep = np.isfinite(x) & (w > 0)
    x, w = x[keep], w[keep]
    total = w.sum()
    if total <= 0:
        return math.nan
    mu = float(np.dot(w, x) / total)
    if mu <= 0:
        return 0.0  # values are non-negative, so all are 0: equal, not undefined
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cw = np.cumsum(w) - w          # weight strictly below (ties contribute 0 either way)
    cwx = np.cumsum(w * x) - w * x
    # Σ_i w_i Σ_{j<i} w_j (x_i − x_j), doubled for both orders
    s = float(np.sum(w * (x * cw - cwx)))
    return max(0.0, 2.0 * s / (2.0 * total * total * mu))  # rounding can dip below 0


def area_shares(problem: SitingProblem, area: np.ndarray, n_areas: int,
                covered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covered share and older residents per area.

    Parameters
    ----------
    problem : SitingProblem
    area : ndarray of int (n_demand,)
        Area position of each demand point (-1: in no area).
    n_areas : int
    covered : ndarray of bool (n_demand,)

    Returns
    -------
    shares : ndarray (n_areas,)
        Covered weight / weight (``nan`` for an area without older residents).
    weight : ndarray (n_areas,)
        Persons per area.
    """
    w = problem.weights
    ok = area >= 0
    tot = np.bincount(area[ok], weights=w[ok], minlength=n_areas)
    cov = np.bincount(area[ok & covered], weights=w[ok & covered], minlength=n_areas)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(tot > 0, cov / np.where(tot > 0, tot, 1.0), np.nan)
    return shares, tot


def equity_figures(shares: np.ndarray, weight: np.ndarray, floor: float | None = None
                   ) -> dict[str, float]:
    """Smallest area share, share of areas below ``floor`` and the weighted Gini.

    Areas without older residents (``nan`` shares) are left out.
    """
    ok = np.isfinite(shares) & (weight > 0)
    s, w = shares[ok], weight[ok]
    out = {"areas": float(ok.sum()),
           "min_area_share": float(s.min()) if len(s) else math.nan,
           "gini": weighted_gini(s, w)}
    if floor is not None:
        out["areas_below_floor"] = float((s < floor - 1e-12).mean()) if len(s) else math.nan
    return out


def _answer_figures(problem: SitingProblem, area: np.ndarray, n_areas: int,
                    selected: np.ndarray, cutoff: float, floor: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Area shares, area weights and the ``info`` figures of a set of new sites."""
    cov = covered_mask(problem, selected, cutoff)
    shares, weight = area_shares(problem, area, n_areas, cov)
    base = covered_mask(problem, np.zeros(0, dtype=np.int64), cutoff)
    return shares, weight, {"covered_total": float(problem.weights[cov].sum()),
                            "covered_existing": float(problem.weights[base].sum()),
                            "total_weight": problem.total_weight, "area_shares": shares,
                            **equity_figures(shares, weight, floor)}


@dataclass
class _Live:
    """Demand left to cover, grouped by area and coverage set."""

    a: sp.csr_matrix      # candidates × groups (bool)
    w: np.ndarray         # group weights
    g_area: np.ndarray    # area position of each group
    base: np.ndarray      # per area: weight covered by existing facilities
    best: np.ndarray      # per area: weight coverable with every candidate open
    total: np.ndarray     # per area: weight


def _live(problem: SitingProblem, area: np.ndarray, n_areas: int, cutoff: float) -> _Live:
    w = problem.weights
    cover = mask_within(problem.times, cutoff)
    already = covered_mask(problem, np.zeros(0, dtype=np.int64), cutoff)
    reach = np.zeros(problem.n_demand, dtype=bool)
    reach[cover.indices] = True
    ok = area >= 0
    tot = np.bincount(area[ok], weights=w[ok], minlength=n_areas)
    base = np.bincount(area[ok & already], weights=w[ok & already], minlength=n_areas)
    can = ok & (already | reach)
    best = np.bincount(area[can], weights=w[can], minlength=n_areas)
    live = np.flatnonzero(ok & ~already & reach & (w > 0))
    sub = sp.csr_matrix(cover[:, live])
    # merge points with the same area and the same covering candidates (exact reduction):
    # the area joins the column's signature as an extra row
    tag = sp.csr_matrix((np.ones(len(live), dtype=bool), (area[live], np.arange(len(live)))),
                        shape=(n_areas, len(live)))
    from geoplan.siting.problem import merge_identical_columns

    merged, wg, grp = merge_identical_columns(sp.vstack([sub, tag], format="csr"), w[live])
    m = problem.n_candidates
    g_area = np.zeros(merged.shape[1], dtype=np.int64)
    g_area[grp] = area[live]
    # (bincount of no points gives integers: keep every per-area figure in float persons)
    return _Live(a=sp.csr_matrix(merged[:m]), w=wg, g_area=g_area,
                 base=base.astype(np.float64), best=best.astype(np.float64),
                 total=tot.astype(np.float64))


def _area_contrib(a: sp.csr_matrix, wr: np.ndarray, g_area: np.ndarray, n_areas: int
                  ) -> sp.csr_matrix:
    """Candidates × areas: weight of still-uncovered groups each candidate would add."""
    ind = sp.csr_matrix((wr, (np.arange(len(wr)), g_area)), shape=(len(wr), n_areas))
    return sp.csr_matrix(a.astype(np.float64) @ ind)


def _coverage_rows(lv: _Live, m: int) -> tuple[sp.csr_matrix, int]:
    """Rows ``y_g - Σ_j a_jg x_j <= 0`` over columns [x (m) | y (groups)]."""
    g = lv.a.shape[1]
    at = sp.csr_matrix(lv.a.T, dtype=np.float64)
    return sp.hstack([-at, sp.identity(g, format="csr")], format="csr"), g


class AreaFloors:
    """The fewest new sites such that every area reaches a covered share ``floor``.

    Parameters
    ----------
    problem : SitingProblem
    area : ndarray of int (n_demand,)
        Area position of each demand point (-1: in no area).
    n_areas : int
    floor : float
        Share in (0, 1] that every area must reach (existing facilities count).
    cutoff : float
        Catchment in minutes.
    max_sites, budget, conflicts
        Rules as for :class:`~geoplan.siting.coverage.LSCP`.

    Notes
    -----
    ``info["unliftable"]`` lists the areas that no set of candidates lifts to the floor,
    with their best achievable share; they are left out of the floor rows.
    """

    name = "floors"

    def __init__(self, problem: SitingProblem, area: np.ndarray, n_areas: int, floor: float,
                 cutoff: float, *, max_sites: int | None = None, budget: float | None = None,
                 conflicts: np.ndarray | None = None) -> None:
        if not (math.isfinite(floor) and 0 < floor <= 1):
            raise InputDataError(f"area floor must be a share in (0, 1], got {floor}; write "
                                 "0.6 for 60 %")
        if budget is not None and problem.candidate_cost is None:
            raise InputDataError("a budget is set but the candidates carry no cost; add a cost "
                                 "column to the candidate file or remove the budget")
        self.problem, self.area, self.n_areas = problem, np.asarray(area, np.int64), n_areas
        self.floor, self.cutoff = float(floor), float(cutoff)
        self.max_sites = problem.n_candidates if max_sites is None else int(max_sites)
        self.budget, self.conflicts = budget, conflicts

    def solve(self, method: str = "auto", *, time_limit: float = 300.0, mip_gap: float = 0.0,
              seed: int = 0, threads: int | None = None) -> SitingResult:
        """Solve; ``objective`` is the number of new sites."""
        check_solver_options(time_limit, mip_gap)
        t0 = time.perf_counter()
        lv = _live(self.problem, self.area, self.n_areas, self.cutoff)
        has = lv.total > 0
        need = np.maximum(0.0, self.floor * lv.total - lv.base)
        unliftable = has & (lv.best < self.floor * lv.total - 1e-9 * np.maximum(1, lv.total))
        need[unliftable | ~has] = 0.0
        m = lv.a.shape[0]
        feas = Feasibility(max_sites=self.max_sites, cost=self.problem.candidate_cost,
                           budget=self.budget, conflicts=_conflict_matrix(self.conflicts, m))
        chosen = self._greedy(lv, need, feas)
        ok_heur = self._meets(lv, chosen, need)
        if method == "auto":
            method = "exact" if lv.a.nnz <= 3_000_000 else "heuristic"
        warnings: list[str] = []
        status = "heuristic"
        bound = None
        info: dict = {}
        if not (need > 1e-9).any():
            status, bound, chosen, ok_heur = "optimal", 0.0, np.zeros(0, np.int64), True
        elif method == "exact":
            sol = self._milp(lv, need, chosen if ok_heur else None, time_limit, mip_gap, seed,
                             threads)
            info["milp_attempts"] = sol.attempts
            if sol.status == "infeasible":
                status = "infeasible"
                rules = [r for r, on in (("max_sites", self.max_sites < m),
                                         ("budget", self.budget is not None),
                                         ("min_spacing_m", self.conflicts is not None))
                         if on]
                info["limited_by"] = rules
                warnings.append("the floors cannot all be met within "
                                + (" + ".join(rules) or "the candidates")
                                + "; no set of sites is proposed")
                chosen, ok_heur = np.zeros(0, np.int64), True
            else:
                if sol.has_solution:
                    cand = np.flatnonzero(sol.x[:m] > 0.5)
                    if self._meets(lv, cand, need) and (not ok_heur or len(cand) <= len(chosen)):
                        chosen, ok_heur = cand, True
                if np.isfinite(sol.bound):
                    bound = float(np.ceil(sol.bound - 1e-6))
                status = milp_status(sol, warnings, time_limit) if ok_heur else "no_solution"
        elif not ok_heur:
            warnings.append("the heuristic found no set of sites within the rules that lifts "
                            "every area to the floor; method = 'exact' tells whether one exists")
        if not ok_heur:
            chosen = np.zeros(0, np.int64)
        sel = np.sort(np.asarray(chosen, dtype=np.int64))
        shares, weight, figures = _answer_figures(self.problem, self.area, self.n_areas, sel,
                                                  self.cutoff, self.floor)
        info.update(unliftable=[(int(a), float(lv.best[a] / lv.total[a]))
                                for a in np.flatnonzero(unliftable)],
                    areas_without_elderly=int((~has).sum()), floor=self.floor, **figures)
        if info["unliftable"]:
            warnings.append(f"{len(info['unliftable'])} areas cannot reach "
                            f"{100 * self.floor:.0f} % with any candidate (best shares in "
                            "info/unliftable); the other areas are solved")
        res = SitingResult(model=self.name, method=method, selected=sel,
                           marginal=np.zeros(len(sel)), objective=float(len(sel)),
                           objective_name="new sites", bound=bound if status != "infeasible"
                           else None, gap=relative_gap(float(len(sel)), bound, False),
                           status=status, seconds=time.perf_counter() - t0, info=info,
                           warnings=warnings)
        violations = rule_violations(self.problem, sel, max_sites=self.max_sites,
                                     budget=self.budget, conflicts=self.conflicts)
        if ok_heur and status != "infeasible":
            short = (need > 1e-9) & (shares * weight < self.floor * weight - 1e-6
                                     * np.maximum(1.0, weight))
            if short.any():
                violations.append(f"{int(short.sum())} areas below the floor")
        return finalise(res, recomputed=float(len(sel)), maximise=False, mip_gap=mip_gap,
                        violations=violations)

    @staticmethod
    def _meets(lv: _Live, chosen: np.ndarray, need: np.ndarray) -> bool:
        hit = np.zeros(lv.a.shape[1], dtype=bool)
        if len(chosen):
            hit[lv.a[np.asarray(chosen)].indices] = True
        got = np.bincount(lv.g_area[hit], weights=lv.w[hit], minlength=len(need))
        return bool((got >= need - 1e-6 * np.maximum(1.0, need)).all())

    def _greedy(self, lv: _Live, need: np.ndarray, feas: Feasibility) -> np.ndarray:
        """Add the site that most reduces the summed shortfall, then drop redundant ones."""
        m = lv.a.shape[0]
        wr = lv.w.copy()
        rem = need.copy()
        chosen: list[int] = []
        while (rem > 1e-9).any() and len(chosen) < feas.max_sites:
            contrib = _area_contrib(lv.a, wr, lv.g_area, len(need))
            c = contrib.tocoo()
            gain = np.bincount(c.row, weights=np.minimum(c.data, np.maximum(rem[c.col], 0.0)),
                               minlength=m)
            ok = feas.allowed(m, np.asarray(chosen, dtype=np.int64), 0.0 if feas.cost is None
                              else float(feas.cost[chosen].sum()))
            score = np.where(ok, gain, -np.inf)
            j = int(np.argmax(score))
            if not ok[j] or gain[j] <= 1e-9:
                break
            hit = lv.a.indices[lv.a.indptr[j]:lv.a.indptr[j + 1]]
            rem -= np.bincount(lv.g_area[hit], weights=wr[hit], minlength=len(need))
            wr[hit] = 0.0
            chosen.append(j)
        keep = list(chosen)
        for j in chosen[::-1]:
            trial = [k for k in keep if k != j]
            if self._meets(lv, np.asarray(trial, dtype=np.int64), need):
                keep = trial
        return np.asarray(keep, dtype=np.int64)

    def _milp(self, lv: _Live, need: np.ndarray, start: np.ndarray | None, time_limit: float,
              mip_gap: float, seed: int, threads: int | None) -> MilpSolution:
        m = lv.a.shape[0]
        cov, g = _coverage_rows(lv, m)
        areas = np.flatnonzero(need > 1e-9)
        pos = np.full(len(need), -1)
        pos[areas] = np.arange(len(areas))
        gi = np.flatnonzero(pos[lv.g_area] >= 0)
        floor_rows = sp.csr_matrix((lv.w[gi], (pos[lv.g_area[gi]], m + gi)),
                                   shape=(len(areas), m + g))
        side, lo, hi = _side_rows(m, g, self.max_sites, self.problem.candidate_cost,
                                  self.budget, self.conflicts)
        a = sp.vstack([cov, floor_rows, *side], format="csr")
        row_lo = np.concatenate([np.full(g, -np.inf), need[areas] - 1e-7, *lo])
        row_hi = np.concatenate([np.zeros(g), np.full(len(areas), np.inf), *hi])
        c = np.concatenate([np.ones(m), np.zeros(g)])
        integer = np.concatenate([np.ones(m, bool), np.zeros(g, bool)])
        x0 = None
        if start is not None:
            x0 = np.zeros(m + g)
            x0[start] = 1.0
            x0[m:] = np.minimum(1.0, np.asarray(lv.a.T.astype(np.float64) @ x0[:m]).ravel())
        return solve_milp(c, a, row_lo, row_hi, np.zeros(m + g), np.ones(m + g), integer,
                          maximise=False, time_limit=time_limit, mip_gap=mip_gap, seed=seed,
                          threads=threads, start=x0)


class Maximin:
    """``p`` new sites maximising the smallest covered share over areas (ties: total).

    Parameters
    ----------
    problem : SitingProblem
    area : ndarray of int (n_demand,)
    n_areas : int
    p : int
        New sites (at most).
    cutoff : float
        Catchment in minutes.

    Notes
    -----
    Areas without older residents are left out (``info["areas_without_elderly"]``), and so
    are areas no candidate reaches within the cutoff (or already fully covered): their share
    is the same whatever is built (``info["areas_unchangeable"]``). The exact method solves
    two MILPs: the largest smallest share ``z*``, then the most persons covered with every
    area at ``z*`` or above.
    """

    name = "maximin"

    def __init__(self, problem: SitingProblem, area: np.ndarray, n_areas: int, p: int,
                 cutoff: float) -> None:
        if p < 1:
            raise InputDataError(f"the number of new sites must be at least 1 (got {p})")
        problem.require_candidates(p)
        self.problem, self.area, self.n_areas = problem, np.asarray(area, np.int64), n_areas
        self.p, self.cutoff = int(p), float(cutoff)

    def solve(self, method: str = "auto", *, time_limit: float = 300.0, mip_gap: float = 1e-5,
              seed: int = 0, threads: int | None = None) -> SitingResult:
        """Solve; ``objective`` is the smallest area share (0–1).

        ``mip_gap`` defaults to 1e-5 (0.001 percentage points of a share): HiGHS proves
        shares only to about 1e-6 in absolute terms, so a tighter relative gap would leave
        a proven optimum labelled "unproven".
        """
        check_solver_options(time_limit, mip_gap)
        t0 = time.perf_counter()
        lv = _live(self.problem, self.area, self.n_areas, self.cutoff)
        if not (lv.total > 0).any():
            raise InputDataError("no area has older residents; maximin needs at least one")
        # Areas that no candidate reaches keep their share whatever is built: they would pin
        # the smallest share, so they are left out (and listed) like areas without elderly.
        has = (lv.total > 0) & (lv.best > lv.base + 1e-9 * np.maximum(1.0, lv.total))
        if not has.any():
            raise InputDataError(f"no candidate site reaches an older resident left uncovered "
                                 f"within {self.cutoff:g} min in any area; add candidates")
        m = lv.a.shape[0]
        chosen = self._greedy(lv, has)
        if method == "auto":
            method = "exact" if lv.a.nnz <= 3_000_000 else "heuristic"
        warnings: list[str] = []
        info: dict = {}
        status, bound = "heuristic", None
        if method == "exact":
            sol1 = self._milp(lv, has, chosen, None, time_limit, mip_gap, seed, threads)
            info["milp_attempts"] = sol1.attempts
            z_star = None
            if sol1.has_solution:
                z_star = float(sol1.x[-1])
                cand = np.flatnonzero(sol1.x[:m] > 0.5)
                if self._min_share(cand, has) >= self._min_share(chosen, has) - 1e-12:
                    chosen = cand
            if np.isfinite(sol1.bound):
                bound = float(sol1.bound)
            status = milp_status(sol1, warnings, time_limit)
            if z_star is not None and status == "optimal":
                z_star = self._min_share(chosen, has)
                sol2 = self._milp(lv, has, chosen, z_star, time_limit, 0.0, seed, threads)
                info["milp_attempts"] += sol2.attempts
                if sol2.has_solution:
                    cand = np.flatnonzero(sol2.x[:m] > 0.5)
                    if self._min_share(cand, has) >= z_star - 1e-9 and \
                            self._covered(cand) >= self._covered(chosen) - 1e-9:
                        chosen = cand
                if sol2.status != "optimal":
                    warnings.append("the tie-break on total coverage is not proven optimal "
                                    f"({sol2.status}); the smallest share is")
        else:
            bound = self._lp_bound(lv, has, time_limit, seed, threads)
        sel = np.sort(np.asarray(chosen, dtype=np.int64))
        shares, _, figures = _answer_figures(self.problem, self.area, self.n_areas, sel,
                                             self.cutoff)
        fixed = (lv.total > 0) & ~has
        info.update(areas_without_elderly=int((lv.total <= 0).sum()),
                    areas_unchangeable=[(int(a), float(lv.base[a] / lv.total[a]))
                                        for a in np.flatnonzero(fixed)], **figures)
        if info["areas_without_elderly"]:
            warnings.append(f"{info['areas_without_elderly']} areas without older residents "
                            "are left out of the smallest share")
        if fixed.any():
            warnings.append(f"{int(fixed.sum())} areas that no candidate reaches (or already "
                            "fully covered) are left out of the smallest share; their shares "
                            "are in info/areas_unchangeable")
        obj = float(np.nanmin(np.where(has, shares, np.nan)))
        res = SitingResult(model=self.name, method=method, selected=sel,
                           marginal=np.zeros(len(sel)), objective=self._min_share(sel, has),
                           objective_name="smallest area share", bound=bound,
                           gap=relative_gap(obj, bound, True), status=status,
                           seconds=time.perf_counter() - t0, info=info, warnings=warnings)
        return finalise(res, recomputed=obj, maximise=True, mip_gap=mip_gap,
                        violations=rule_violations(self.problem, sel, max_sites=self.p))

    def _covered(self, chosen: np.ndarray) -> float:
        return float(self.problem.weights[covered_mask(self.problem, chosen,
                                                       self.cutoff)].sum())

    def _min_share(self, chosen: np.ndarray, has: np.ndarray) -> float:
        cov = covered_mask(self.problem, np.asarray(chosen, dtype=np.int64), self.cutoff)
        shares, _ = area_shares(self.problem, self.area, self.n_areas, cov)
        return float(np.min(shares[has]))

    def _greedy(self, lv: _Live, has: np.ndarray) -> np.ndarray:
        """Each step: the site giving the largest smallest share, then the largest total."""
        wr = lv.w.copy()
        cov = lv.base.copy()
        tot = np.where(has, lv.total, 1.0)
        chosen: list[int] = []
        for _ in range(self.p):
            contrib = _area_contrib(lv.a, wr, lv.g_area, self.n_areas).toarray()
            shares = (cov[None, :] + contrib) / tot[None, :]
            shares[:, ~has] = np.inf
            score = shares.min(axis=1)
            score[chosen] = -np.inf
            gain = contrib.sum(axis=1)
            best = score.max()
            if not np.isfinite(best):
                break
            tie = np.flatnonzero(score >= best - 1e-12)
            j = int(tie[np.argmax(gain[tie])])
            if gain[j] <= 1e-9 and best <= (cov / tot)[has].min() + 1e-12:
                break
            hit = lv.a.indices[lv.a.indptr[j]:lv.a.indptr[j + 1]]
            cov += np.bincount(lv.g_area[hit], weights=wr[hit], minlength=self.n_areas)
            wr[hit] = 0.0
            chosen.append(j)
        return np.asarray(chosen, dtype=np.int64)

    def _rows(self, lv: _Live, has: np.ndarray, z_min: float | None):
        """Columns [x (m) | y (g) | z]; rows: coverage, per-area share >= z, count."""
        m = lv.a.shape[0]
        cov, g = _coverage_rows(lv, m)
        n = m + g + 1
        cov = sp.hstack([cov, sp.csr_matrix((g, 1))], format="csr")
        areas = np.flatnonzero(has)
        pos = np.full(self.n_areas, -1)
        pos[areas] = np.arange(len(areas))
        gi = np.flatnonzero(pos[lv.g_area] >= 0)
        # Σ_{g∈a} w_g y_g - W_a z >= -base_a
        share_rows = sp.csr_matrix(
            (np.r_[lv.w[gi], -lv.total[areas]],
             (np.r_[pos[lv.g_area[gi]], np.arange(len(areas))],
              np.r_[m + gi, np.full(len(areas), n - 1)])), shape=(len(areas), n))
        count = sp.csr_matrix((np.ones(m), (np.zeros(m, dtype=np.int64), np.arange(m))),
                              shape=(1, n))
        a = sp.vstack([cov, share_rows, count], format="csr")
        row_lo = np.concatenate([np.full(g, -np.inf), -lv.base[areas] - 1e-9, [-np.inf]])
        row_hi = np.concatenate([np.zeros(g), np.full(len(areas), np.inf), [float(self.p)]])
        col_lo = np.zeros(n)
        col_hi = np.ones(n)
        if z_min is not None:
            col_lo[-1] = max(0.0, z_min - 1e-9)
        return a, row_lo, row_hi, col_lo, col_hi, m, g

    def _milp(self, lv: _Live, has: np.ndarray, start: np.ndarray, z_min: float | None,
              time_limit: float, mip_gap: float, seed: int, threads: int | None
              ) -> MilpSolution:
        a, row_lo, row_hi, col_lo, col_hi, m, g = self._rows(lv, has, z_min)
        n = m + g + 1
        c = np.zeros(n)
        if z_min is None:
            c[-1] = 1.0
        else:
            c[m:m + g] = lv.w
        integer = np.zeros(n, dtype=bool)
        integer[:m] = True
        x0 = np.zeros(n)
        x0[start] = 1.0
        x0[m:m + g] = np.minimum(1.0, np.asarray(lv.a.T.astype(np.float64) @ x0[:m]).ravel())
        x0[-1] = max(self._min_share(start, has), col_lo[-1])
        # HiGHS's default absolute gap (1e-6) is large for a share: stop on the relative gap
        return solve_milp(c, a, row_lo, row_hi, col_lo, col_hi, integer, maximise=True,
                          time_limit=time_limit, mip_gap=mip_gap, seed=seed, threads=threads,
                          start=x0, mip_abs_gap=1e-10)

    def _lp_bound(self, lv: _Live, has: np.ndarray, time_limit: float, seed: int,
                  threads: int | None) -> float | None:
        a, row_lo, row_hi, col_lo, col_hi, m, g = self._rows(lv, has, None)
        n = m + g + 1
        c = np.zeros(n)
        c[-1] = 1.0
        sol = solve_milp(c, a, row_lo, row_hi, col_lo, col_hi, np.zeros(n, dtype=bool),
                         maximise=True, time_limit=time_limit, mip_gap=0.0, seed=seed,
                         threads=threads)
        return float(sol.objective) if sol.has_solution else None


def equity_weights(problem: SitingProblem, area: np.ndarray, n_areas: int,
                   equity_weight: float) -> np.ndarray:
    """Demand weights of the weighted MCLP: ``w_i (1 + λ W / (A W_a(i)))``.

    With ``A`` areas holding older residents and ``W`` persons in all, the objective
    ``Σ w'_i y_i`` equals the persons covered plus ``λ`` times the *mean* area covered
    share scaled to the population (``λ · W · mean_a share_a``): ``λ = 0`` is the plain
    MCLP; larger values favour the least-covered areas. Points in no area keep ``w_i``.
    """
    if not (math.isfinite(equity_weight) and equity_weight >= 0):
        raise InputDataError(f"equity_weight must be a number >= 0, got {equity_weight}")
    w = problem.weights
    ok = area >= 0
    tot = np.bincount(area[ok], weights=w[ok], minlength=n_areas)
    n_pos = int((tot > 0).sum())
    out = w.copy()
    if n_pos and equity_weight > 0:
        scale = equity_weight * w.sum() / n_pos
        out[ok] = w[ok] * (1.0 + scale / np.where(tot[area[ok]] > 0, tot[area[ok]], np.inf))
    return out


def weighted_mclp(problem: SitingProblem, area: np.ndarray, n_areas: int, p: int,
                  cutoff: float, equity_weight: float, *, budget: float | None = None,
                  conflicts: np.ndarray | None = None, method: str = "auto",
                  time_limit: float = 300.0, mip_gap: float = 1e-4, seed: int = 0,
                  threads: int | None = None) -> SitingResult:
    """MCLP plus ``equity_weight`` × the areas' covered shares (see :func:`equity_weights`).

    Returns
    -------
    SitingResult
        ``model = "wmclp"``; ``objective`` is the weighted objective (persons plus the
        equity term), verified; ``info`` holds the plain persons covered and the equity
        figures.
    """
    wp = equity_weights(problem, area, n_areas, equity_weight)
    re = SitingProblem(weights=wp, times=problem.times, existing_times=problem.existing_times,
                       candidate_cost=problem.candidate_cost,
                       candidate_ids=problem.candidate_ids, demand_ids=problem.demand_ids)
    res = MCLP(re, p, cutoff, budget=budget, conflicts=conflicts).solve(
        method, time_limit=time_limit, mip_gap=mip_gap, seed=seed, threads=threads)
    res.model = "wmclp"
    res.objective_name = "persons newly covered + equity term"
    _, _, figures = _answer_figures(problem, area, n_areas, res.selected, cutoff)
    newly = (covered_mask(problem, res.selected, cutoff)
             & ~covered_mask(problem, np.zeros(0, dtype=np.int64), cutoff))
    res.info.update(equity_weight=equity_weight, weighted_objective=float(wp[newly].sum()),
                    **figures)
    return finalise(res, recomputed=float(wp[newly].sum()), maximise=True,
                    mip_gap=mip_gap, violations=[])
