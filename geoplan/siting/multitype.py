"""Multi-type planning: several facility types in one model, with the 1+N rule.

Each type has its own candidates, catchment and count (a maximal-coverage block per type).
The 1+N rule of the Shanghai plans ("one comprehensive centre plus N stations") links the
blocks: every new station must lie within a set walking time of a comprehensive centre,
existing or new in the same run. The exact model is one MILP with the blocks side by side
and one linking row per station candidate that no existing centre already serves:
``x_station_j <= sum_{k: t(j, k) <= T} x_centre_k``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from geoplan.errors import InputDataError
from geoplan.siting.coverage import _value, reduce_coverage
from geoplan.siting.greedy import (
    Feasibility,
    greedy_cover,
    interchange,
    lagrangian_bound,
    order_by_value,
)
from geoplan.siting.highs import solve_milp
from geoplan.siting.problem import SitingProblem
from geoplan.siting.result import SitingResult
from geoplan.siting.verify import (
    check_coverage,
    check_solver_options,
    finalise,
    milp_status,
    rule_violations,
)


@dataclass
class TypePlan:
    """One facility type's part of a multi-type plan.

    Parameters
    ----------
    key : str
        Facility type key (``"canteen"``, ``"station"``, …).
    problem : SitingProblem
        Demand, this type's candidates and existing facilities.
    cutoff : float
        Catchment in minutes.
    count : int
        New sites of this type.
    weight : float
        Weight of this type's coverage in the joint objective.
    """

    key: str
    problem: SitingProblem
    cutoff: float
    count: int
    weight: float = 1.0


@dataclass
class Link:
    """The 1+N rule: each new ``station`` within ``max_min`` of a ``centre``.

    Parameters
    ----------
    station, centre : str
        Type keys.
    times : csr_matrix (station candidates × centre candidates)
        Walking minutes between candidates (entries within ``max_min`` at least).
    existing : ndarray of bool (station candidates,)
        Station candidates that an existing centre already serves within ``max_min``.
    max_min : float
        The linking time.
    """

    station: str
    centre: str
    times: sp.csr_matrix
    existing: np.ndarray
    max_min: float


@dataclass
class MultiTypeResult:
    """Per-type results plus the joint objective, bound and gap."""

    by_type: dict[str, SitingResult]
    objective: float
    bound: float | None
    gap: float | None
    status: str
    method: str
    seconds: float
    warnings: list[str] = field(default_factory=list)


class MultiTypePlan:
    """Plan several facility types together, optionally with the 1+N link.

    Parameters
    ----------
    plans : list of TypePlan
    link : Link, optional
    """

    def __init__(self, plans: list[TypePlan], link: Link | None = None) -> None:
        keys = [p.key for p in plans]
        if len(set(keys)) != len(keys):
            raise InputDataError(f"a facility type appears twice in the multi-type plan: {keys}")
        if link is not None:
            for k in (link.station, link.centre):
                if k not in keys:
                    raise InputDataError(f"the 1+N link names type '{k}', which is not planned "
                                         f"in this scenario (planned: {', '.join(keys)})")
        for p in plans:
            p.problem.require_candidates(p.count)
        self.plans, self.link = plans, link

    def _allowed_stations(self, centre_sel: np.ndarray) -> np.ndarray:
        lk = self.link
        mask = lk.times.copy()
        mask.data = (mask.data <= lk.max_min + 1e-9).astype(np.float64)
        chosen = np.zeros(mask.shape[1])
        chosen[centre_sel] = 1.0
        return lk.existing | (np.asarray(mask @ chosen).ravel() > 0.5)

    def solve(self, method: str = "auto", *, time_limit: float = 300.0, mip_gap: float = 1e-4,
              seed: int = 0, threads: int | None = None) -> MultiTypeResult:
        """Solve jointly (``exact``) or type by type, centres first (``heuristic``)."""
        check_solver_options(time_limit, mip_gap)
        t0 = time.perf_counter()
        reds = {p.key: reduce_coverage(p.problem, p.cutoff) for p in self.plans}
        heur = self._heuristic(reds)
        if method == "auto":
            method = "exact" if sum(r.a.nnz for r in reds.values()) <= 3_000_000 else "heuristic"
        warnings: list[str] = []
        sel = heur
        if method == "exact":
            sol, offsets = self._milp(reds, heur, time_limit, mip_gap, seed, threads)
            if sol.has_solution:
                cand = {p.key: np.flatnonzero(sol.x[offsets[p.key]:offsets[p.key]
                                                     + p.problem.n_candidates] > 0.5)
                        for p in self.plans}
                if self._objective(reds, cand) >= self._objective(reds, heur) - 1e-9:
                    sel = cand
            bound = float(sol.bound) if np.isfinite(sol.bound) else None
            status = milp_status(sol, warnings, time_limit)
            if status == "heuristic":
                bound = self._lagrangian(reds, heur)
        elif method == "heuristic":
            bound = self._lagrangian(reds, heur)
            status = "heuristic"
        else:
            raise ValueError(f"unknown method {method!r}")
        obj = self._objective(reds, sel)
        by_type = {}
        recomputed = 0.0
        violations: list[str] = []
        for p in self.plans:
            red = reds[p.key]
            order, marg = order_by_value(red.a, red.w, sel[p.key])
            val = _value(red.a, red.w, sel[p.key])
            covered, base = check_coverage(p.problem, order, p.cutoff)
            recomputed += p.weight * (covered - base)
            violations += [f"{p.key}: {v}" for v in
                           rule_violations(p.problem, order, max_sites=p.count)]
            info = dict(red.info, covered_total=covered, covered_existing=base,
                        total_weight=p.problem.total_weight, cutoff=p.cutoff)
            by_type[p.key] = finalise(SitingResult(
                model="multi", method=method, selected=order, marginal=marg, objective=val,
                objective_name="elderly newly covered", bound=None, gap=None,
                status="heuristic", seconds=0.0, info=info), recomputed=covered - base,
                maximise=True, mip_gap=mip_gap, violations=[])  # joint status set below
        if self.link is not None:
            ok = self._allowed_stations(sel[self.link.centre])
            bad = int((~ok[sel[self.link.station]]).sum())
            if bad:
                violations.append(f"{bad} new {self.link.station} sites beyond "
                                  f"{self.link.max_min:g} min of any {self.link.centre}")
        joint = finalise(SitingResult(
            model="multi", method=method, selected=np.zeros(0, dtype=np.int64),
            marginal=np.zeros(0), objective=obj, objective_name="weighted elderly newly "
            "covered", bound=bound, gap=None, status=status, seconds=0.0, warnings=warnings),
            recomputed=recomputed, maximise=True, mip_gap=mip_gap, violations=violations)
        for r in by_type.values():
            r.status = joint.status
        obj, bound, gap, status = joint.objective, joint.bound, joint.gap, joint.status
        return MultiTypeResult(by_type=by_type, objective=obj, bound=bound, gap=gap,
                               status=status, method=method, seconds=time.perf_counter() - t0,
                               warnings=warnings)

    def _lagrangian(self, reds, heur) -> float:
        """Sum of per-type Lagrangian bounds (the link only removes solutions)."""
        return float(sum(p.weight * lagrangian_bound(reds[p.key].a, reds[p.key].w, p.count,
                                                     lower=_value(reds[p.key].a,
                                                                  reds[p.key].w,
                                                                  heur[p.key]))
                         for p in self.plans))

    def _objective(self, reds, sel) -> float:
        return float(sum(p.weight * _value(reds[p.key].a, reds[p.key].w, sel[p.key])
                         for p in self.plans))

    def _heuristic(self, reds) -> dict[str, np.ndarray]:
        order = sorted(self.plans, key=lambda p: 0 if self.link and p.key == self.link.centre
                       else 1)
        sel: dict[str, np.ndarray] = {}
        for p in order:
            red = reds[p.key]
            feas = Feasibility(max_sites=p.count)
            if self.link is not None and p.key == self.link.station:
                feas.forbidden = ~self._allowed_stations(sel.get(self.link.centre,
                                                                 np.zeros(0, dtype=np.int64)))
            chosen, _ = greedy_cover(red.a, red.w, feas)
            sel[p.key] = interchange(red.a, red.w, chosen, feas)
        return sel

    def _milp(self, reds, start, time_limit, mip_gap, seed, threads):
        blocks, row_lo, row_hi, costs, ints = [], [], [], [], []
        offsets: dict[str, int] = {}
        col = 0
        for p in self.plans:
            red = reds[p.key]
            m, g = red.a.shape
            offsets[p.key] = col
            col += m + g
        n_cols = col
        x0 = np.zeros(n_cols)
        for p in self.plans:
            red = reds[p.key]
            m, g = red.a.shape
            off = offsets[p.key]
            at = sp.csr_matrix(red.a.T, dtype=np.float64).tocoo()
            r = np.r_[at.row, np.arange(g)]
            c = np.r_[at.col + off, off + m + np.arange(g)]
            v = np.r_[-at.data, np.ones(g)]
            blocks.append(sp.csr_matrix((v, (r, c)), shape=(g, n_cols)))
            row_lo.append(np.full(g, -np.inf))
            row_hi.append(np.zeros(g))
            blocks.append(sp.csr_matrix((np.ones(m), (np.zeros(m, dtype=np.int64),
                                                      off + np.arange(m))), shape=(1, n_cols)))
            row_lo.append(np.array([-np.inf]))
            row_hi.append(np.array([float(p.count)]))
            costs.append(np.r_[np.zeros(m), p.weight * red.w])
            ints.append(np.r_[np.ones(m, dtype=bool), np.zeros(g, dtype=bool)])
            x0[off + start[p.key]] = 1.0
            x0[off + m:off + m + g] = np.minimum(1.0, np.asarray(
                at.tocsr() @ x0[off:off + m]).ravel())
        if self.link is not None:
            lk = self.link
            so, co = offsets[lk.station], offsets[lk.centre]
            near = lk.times.tocoo()
            keep = (near.data <= lk.max_min + 1e-9) & ~lk.existing[near.row]
            free = np.flatnonzero(~lk.existing)
            k = len(free)
            pos = np.full(len(lk.existing), -1)
            pos[free] = np.arange(k)
            r = np.r_[np.arange(k), pos[near.row[keep]]]
            c = np.r_[so + free, co + near.col[keep]]
            v = np.r_[np.ones(k), -np.ones(int(keep.sum()))]
            blocks.append(sp.csr_matrix((v, (r, c)), shape=(k, n_cols)))
            row_lo.append(np.full(k, -np.inf))
            row_hi.append(np.zeros(k))
        a = sp.vstack(blocks, format="csr")
        sol = solve_milp(np.concatenate(costs), a, np.concatenate(row_lo),
                         np.concatenate(row_hi), np.zeros(n_cols), np.ones(n_cols),
                         np.concatenate(ints), maximise=True, time_limit=time_limit,
                         mip_gap=mip_gap, seed=seed, threads=threads, start=x0)
        return sol, offsets

