"""The p-median model: place p new sites to minimise the weighted walking time.

Each demand point walks to the nearest open site: one of the p new sites or one of the fixed
existing facilities (always open). A point that no open site reaches within the search
cutoff is charged a penalty time. The objective is the total weighted minutes (or their
mean over the demand weight).

Two methods:

* ``"exact"``: a heuristic solution and a Lagrangian bound first; candidates whose forced
  opening (closing) provably cannot beat the heuristic solution are fixed closed (open);
  the rest is solved by HiGHS as a sparse MILP in the "radius" formulation of
  Cornuéjols, Nemhauser & Wolsey (1980) / Elloumi (2010), written with chained (telescoped)
  rows so that each candidate–client pair appears once in the matrix. The heuristic
  answer is the MIP start.
* ``"heuristic"``: greedy and random-greedy starts, each improved by the fast swap
  (interchange) local search, then variable neighbourhood search; the Lagrangian bound
  gives the gap.

Only the stored (within-cutoff) candidate–client pairs are used: no dense demand ×
candidate matrix is built.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from geoplan.errors import InputDataError
from geoplan.siting import pmedian_kernels as kern
from geoplan.siting.highs import solve_milp
from geoplan.siting.problem import SitingProblem, min_time
from geoplan.siting.result import SitingResult, relative_gap
from geoplan.siting.verify import check_pmedian, check_solver_options, finalise, rule_violations

log = logging.getLogger(__name__)

#: Penalty for an unreached demand point, as a multiple of the largest stored time.
DEFAULT_PENALTY_FACTOR = 2.0
#: HiGHS options for the radius MILP, measured on the OR-Library instances with small p
#: (their LP gap needs branching): the heuristic start is already near-optimal, so HiGHS's
#: primal heuristics (sub-MIPs) rarely pay; the interior-point method solves the degenerate
#: root LP about twice as fast as dual simplex; and trusting pseudocosts at once instead of
#: strong branching each candidate 8 times cut pmed35 from 62 s to 22 s.
HIGHS_OPTIONS: dict[str, float | bool | int | str] = {
    "mip_heuristic_effort": 0.0, "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False, "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_zi_round": False, "mip_heuristic_run_shifting": False,
    "mip_heuristic_run_feasibility_jump": False, "mip_lp_solver": "ipm",
    "mip_pscost_minreliable": 0}
#: Subgradient iterations without a better bound before the step size halves.
LAGRANGIAN_STALL = 30
#: Rounds of candidate fixing and re-bounding before the MILP, and the subgradient
#: iterations of each re-bounding.
FIX_ROUNDS = 4
FIX_LAGRANGIAN_ITERATIONS = 1000
#: VNS iterations between two looks at the clock.
VNS_CHUNK = 50
#: Largest candidate × p table of swap scores the heuristic keeps (8 bytes an entry).
SCORE_TABLE_MAX = 25_000_000


# ------------------------------------------------------------------------ instance


@dataclass
class _Instance:
    """A p-median instance on its useful pairs (time below the client's cap).

    ``cand, cli, t`` are the pairs sorted by (client, time); ``cap`` is each client's time
    when no new site serves it; ``w`` the client weights (all positive).
    """

    n_cand: int
    w: np.ndarray
    cap: np.ndarray
    cand: np.ndarray
    cli: np.ndarray
    t: np.ndarray

    @classmethod
    def from_pairs(cls, n_cand: int, w: np.ndarray, cap: np.ndarray, cand: np.ndarray,
                   cli: np.ndarray, t: np.ndarray, p: int) -> _Instance:
        """Keep the useful pairs, sorted by (client, time), with the k-th nearest cap.

        With exactly ``p`` sites open among ``n_cand``, each client's nearest open site is
        among its ``n_cand - p + 1`` nearest candidates, so its time never exceeds the time
        of that candidate: the cap is lowered to it and pairs at or beyond it dropped.
        """
        keep = t < cap[cli]
        cand, cli, t = cand[keep], cli[keep], t[keep]
        order = np.lexsort((cand, t, cli))
        cand, cli, t = cand[order], cli[order], t[order]
        cap = cap.copy()
        k = n_cand - p  # 0-based rank of the (n_cand - p + 1)-th nearest
        if 0 <= k and len(cli):
            counts = np.bincount(cli, minlength=len(w))
            start = np.concatenate([[0], np.cumsum(counts)[:-1]])
            rank = np.arange(len(cli)) - start[cli]
            at = rank == k
            np.minimum.at(cap, cli[at], t[at])
            keep = t < cap[cli]
            cand, cli, t = cand[keep], cli[keep], t[keep]
        return cls(n_cand=n_cand, w=w, cap=cap, cand=cand.astype(np.int64),
                   cli=cli.astype(np.int64), t=t.astype(np.float64))

    @property
    def n_cli(self) -> int:
        return int(self.w.shape[0])

    def client_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Client-major CSR, each client's candidates by increasing time."""
        counts = np.bincount(self.cli, minlength=self.n_cli)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return ptr, self.cand, self.t

    def candidate_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate-major CSR (clients in increasing order within a candidate)."""
        order = np.argsort(self.cand, kind="stable")
        counts = np.bincount(self.cand, minlength=self.n_cand)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return ptr, self.cli[order], self.t[order]

    def restrict(self, free: np.ndarray, fixed_open: np.ndarray, p: int) -> _Instance:
        """The instance over candidates ``free`` (renumbered) with ``fixed_open`` always open
        (folded into the caps) and ``p`` sites still to choose."""
        cap = self.cap.copy()
        is_fixed = np.zeros(self.n_cand, dtype=bool)
        is_fixed[fixed_open] = True
        sel = is_fixed[self.cand]
        np.minimum.at(cap, self.cli[sel], self.t[sel])
        new_id = np.full(self.n_cand, -1, dtype=np.int64)
        new_id[free] = np.arange(len(free))
        keep = new_id[self.cand] >= 0
        return _Instance.from_pairs(len(free), self.w, cap, new_id[self.cand[keep]],
                                    self.cli[keep], self.t[keep], p)

    def integral(self) -> bool:
        """True when every objective value is an integer (integer weights and times)."""
        return bool(np.all(self.w == np.round(self.w)) and np.all(self.t == np.round(self.t))
                    and np.all(self.cap == np.round(self.cap)))


class _Search:
    """Working arrays of the heuristic on one instance."""

    def __init__(self, inst: _Instance, p: int, seed: int) -> None:
        self.inst = inst
        self.p = p
        self.qptr, self.qcand, self.qt = inst.client_csr()
        self.cptr, self.ccli, self.ct = inst.candidate_csr()
        m, n = inst.n_cand, inst.n_cli
        self.is_open = np.zeros(m, dtype=np.bool_)
        self.open_list = np.zeros(p, dtype=np.int64)
        self.pos = np.full(m, -1, dtype=np.int64)
        self.phi1 = np.full(n, -1, dtype=np.int64)
        self.phi2 = np.full(n, -1, dtype=np.int64)
        self.d1 = inst.cap.copy()
        self.d2 = inst.cap.copy()
        self.loss = np.zeros(m)
        self.extra = np.zeros(m)
        self.gain = np.zeros(m)
        # incremental swap scores need a candidate × p table; beyond SCORE_TABLE_MAX
        # entries each sweep is evaluated from scratch instead (same moves, slower)
        self.extra2 = np.zeros((m, p) if m * p <= SCORE_TABLE_MAX else (1, 1))
        self.buf = np.zeros(n, dtype=np.int64)
        self.mark = np.zeros(n, dtype=np.int64)
        self.stamp = 1
        # splitmix64 state, seeded by a fixed mix of the user seed
        mixed = (int(seed) * 0x2545F4914F6CDD1D + 0x632BE59BD9B4E019) % (1 << 64)
        self.rng = np.array([mixed], dtype=np.uint64)
        scale = float(np.sum(inst.w * inst.cap)) if n else 1.0
        self.tol = 1e-9 * max(1.0, scale)

    def cost(self) -> float:
        return float(kern.total_cost(self.inst.w, self.d1))

    def greedy(self, rcl: int) -> None:
        s = self
        s.stamp = kern.greedy(s.p, rcl, s.rng, s.is_open, s.open_list, s.pos, s.inst.w, s.cptr,
                              s.ccli, s.ct, s.qptr, s.qcand, s.qt, s.inst.cap, s.phi1, s.phi2,
                              s.d1, s.d2, s.mark, s.stamp)

    def local_search(self) -> int:
        s = self
        if s.extra2.shape[0] == s.inst.n_cand:
            moves, s.stamp = kern.local_search_scored(
                s.is_open, s.open_list, s.pos, s.inst.w, s.cptr, s.ccli, s.ct, s.qptr, s.qcand,
                s.qt, s.inst.cap, s.phi1, s.phi2, s.d1, s.d2, s.gain, s.loss, s.extra2, s.mark,
                s.stamp, s.buf, s.tol, 1 << 30)
        else:
            moves, s.stamp = kern.local_search(
                s.is_open, s.open_list, s.pos, s.inst.w, s.cptr, s.ccli, s.ct, s.qptr, s.qcand,
                s.qt, s.inst.cap, s.phi1, s.phi2, s.d1, s.d2, s.loss, s.extra, s.mark, s.stamp,
                s.tol, 1 << 30)
        return int(moves)

    def vns(self, best_sel: np.ndarray, best_cost: float, n_iter: int, stall: int,
            since: int, k_max: int) -> tuple[float, int, int, int]:
        s = self
        cost, imp, done, since, s.stamp = kern.vns(
            best_sel, best_cost, n_iter, stall, since, k_max, s.rng, s.is_open, s.open_list,
            s.pos, s.inst.w, s.cptr, s.ccli, s.ct, s.qptr, s.qcand, s.qt, s.inst.cap, s.phi1,
            s.phi2, s.d1, s.d2, s.loss, s.extra, s.gain, s.extra2, s.buf, s.mark, s.stamp, s.tol)
        return float(cost), int(imp), int(done), int(since)


@dataclass
class _HeuristicOutcome:
    sel: np.ndarray  # open candidates (instance numbering), sorted
    cost: float
    bound: float  # Lagrangian bound, rounded up when the objective is integral
    lb_in: np.ndarray  # per candidate: bound on solutions that open it
    lb_out: np.ndarray  # per candidate: bound on solutions that keep it closed
    lam: np.ndarray  # multipliers of the best bound
    info: dict


def _heuristic(inst: _Instance, p: int, seed: int, deadline: float, starts: int,
               vns_iterations: int, vns_stall: int, lagrangian_iterations: int
               ) -> _HeuristicOutcome:
    """Solution and bound: multistart swap search, Lagrangian bound, Lagrangian start, VNS.

    1. ``starts`` constructions (greedy, then random-greedy), each improved by the swap
       local search.
    2. The Lagrangian bound by subgradient, multipliers starting at the clients' weighted
       times in the best solution.
    3. The p candidates with the smallest Lagrangian costs at the best multipliers, improved
       by local search (a Lagrangian heuristic, Beasley 1993); for p-median instances with a
       tight relaxation this often lands on the optimum.
    4. Unless the bound already proves the best solution optimal, VNS: at most
       ``vns_iterations`` iterations, stopping after ``vns_stall`` in a row without
       improvement.

    The work is fixed by these counts, so the same seed gives the same answer; ``deadline``
    (a ``time.perf_counter()`` value) only cuts it short, and then
    ``info["stopped_by_time"]`` is set.
    """
    integral = inst.integral()
    total_cap = float(np.sum(inst.w * inst.cap))
    if p == 0 or inst.n_cand == 0:
        inf = np.full(inst.n_cand, np.inf)
        return _HeuristicOutcome(np.zeros(0, dtype=np.int64), total_cap, total_cap, inf, inf,
                                 inst.w * inst.cap, {})
    s = _Search(inst, p, seed)
    best_sel = np.zeros(p, dtype=np.int64)
    best_cost = np.inf
    info: dict = {"starts": 0, "vns_iterations": 0, "vns_improvements": 0,
                  "stopped_by_time": False}
    for k in range(max(1, starts)):
        s.greedy(1 if k == 0 else 3)
        s.local_search()
        c = s.cost()
        info["starts"] += 1
        if c < best_cost - s.tol:
            best_cost, best_sel = c, s.open_list.copy()
        if time.perf_counter() > deadline:
            info["stopped_by_time"] = k + 1 < starts
            break
    info["start_objective"] = best_cost

    # Lagrangian bound; multipliers start at the clients' weighted times
    kern.set_open(best_sel, s.is_open, s.open_list, s.pos, s.qptr, s.qcand, s.qt, inst.cap,
                  s.phi1, s.phi2, s.d1, s.d2)
    lag, lam, lb_in, lb_out, lag_it = kern.lagrangian(
        p, inst.w, inst.cap, s.cptr, s.ccli, s.ct, inst.w * s.d1, float(best_cost),
        int(lagrangian_iterations), LAGRANGIAN_STALL, integral)
    lag = _round_bound(float(lag), integral)
    info["lagrangian_iterations"] = int(lag_it)

    # Lagrangian start: the p candidates of least Lagrangian cost, then local search
    cand_of = np.repeat(np.arange(inst.n_cand), np.diff(s.cptr))
    rho = np.bincount(cand_of, weights=np.minimum(0.0, inst.w[s.ccli] * s.ct - lam[s.ccli]),
                      minlength=inst.n_cand)
    kern.set_open(np.argsort(rho, kind="stable")[:p].astype(np.int64), s.is_open, s.open_list,
                  s.pos, s.qptr, s.qcand, s.qt, inst.cap, s.phi1, s.phi2, s.d1, s.d2)
    s.local_search()
    c = s.cost()
    info["lagrangian_start_objective"] = c
    if c < best_cost - s.tol:
        best_cost, best_sel = c, s.open_list.copy()

    closed = relative_gap(best_cost, min(lag, best_cost), False) == 0.0
    if p < inst.n_cand and not closed and not info["stopped_by_time"]:
        k_max = max(1, min(p, inst.n_cand - p, 10))
        done = since = 0
        while done < vns_iterations and since < vns_stall:
            if time.perf_counter() > deadline:
                info["stopped_by_time"] = True
                break
            best_cost, imp, n, since = s.vns(best_sel, best_cost,
                                             min(VNS_CHUNK, vns_iterations - done), vns_stall,
                                             since, k_max)
            done += n
            info["vns_improvements"] += imp
        info["vns_iterations"] = done
    return _HeuristicOutcome(np.sort(best_sel), float(best_cost), lag, lb_in, lb_out, lam,
                             info)


def _round_bound(bound: float, integral: bool) -> float:
    """With integral objective values, any bound can be rounded up (a relative 1e-9 of
    slack absorbs rounding errors in the bound's sum)."""
    if integral and np.isfinite(bound):
        return float(np.ceil(bound - 1e-9 * max(1.0, abs(bound))))
    return bound


def _round_bounds(bounds: np.ndarray, integral: bool) -> np.ndarray:
    """:func:`_round_bound` for an array."""
    if not integral:
        return bounds
    fin = np.isfinite(bounds)
    out = bounds.copy()
    out[fin] = np.ceil(bounds[fin] - 1e-9 * np.maximum(1.0, np.abs(bounds[fin])))
    return out


# --------------------------------------------------------------------------- MILP


def _radius_milp(inst: _Instance, p: int, start: np.ndarray | None, time_limit: float,
                 mip_gap: float, seed: int, threads: int | None, verbose: bool = False,
                 serve_by: np.ndarray | None = None):
    """Solve the instance exactly with HiGHS in the chained radius formulation.

    For client ``i`` with distinct times ``D_1 < … < D_K`` below its cap ``D_{K+1}``, a
    variable ``z_k`` (k = 1..K) is 1 when no open site is within ``D_k``. Rows
    ``z_k - z_{k-1} + Σ_{j: t_ij = D_k} x_j >= 0`` (``z_0 = 1``) and the objective
    ``Σ_i w_i (D_1 + Σ_k (D_{k+1} - D_k) z_k)`` give the same LP bound as the cumulative
    rows ``z_k + Σ_{j: t_ij <= D_k} x_j >= 1`` of Elloumi (2010) with each pair stored
    once.

    ``serve_by`` (per client, ``inf`` = none) restricts the model to solutions that serve
    the client within that time: its farther levels are dropped and ``z`` at that time is
    fixed to 0. Returns ``(open candidates or None, MilpSolution, sizes)``.
    """
    w, cap, cand, cli, t = inst.w, inst.cap, inst.cand, inst.cli, inst.t
    if serve_by is not None:
        keep = t <= serve_by[cli]
        cand, cli, t = cand[keep], cli[keep], t[keep]
    m = inst.n_cand
    # pairs are sorted by (client, time): a new level starts where either changes
    new_level = np.ones(len(t), dtype=bool)
    if len(t):
        new_level[1:] = (cli[1:] != cli[:-1]) | (t[1:] != t[:-1])
    level = np.cumsum(new_level) - 1
    n_lev = int(level[-1] + 1) if len(t) else 0
    lev_cli = cli[new_level]
    lev_d = t[new_level]
    first = np.ones(n_lev, dtype=bool)
    if n_lev:
        first[1:] = lev_cli[1:] != lev_cli[:-1]
    last = np.ones(n_lev, dtype=bool)
    if n_lev:
        last[:-1] = lev_cli[1:] != lev_cli[:-1]
    nxt = np.where(last, cap[lev_cli], np.roll(lev_d, -1))
    cost_z = w[lev_cli] * (nxt - lev_d)
    has = np.zeros(inst.n_cli, dtype=bool)
    has[lev_cli] = True
    offset = float(np.sum(w[lev_cli[first]] * lev_d[first]) + np.sum(w[~has] * cap[~has]))
    # columns: x (m) then z (n_lev); rows: one per level, then Σx = p
    rows = np.concatenate([level, np.arange(n_lev), np.nonzero(~first)[0], np.full(m, n_lev)])
    cols = np.concatenate([cand, m + np.arange(n_lev), m + np.nonzero(~first)[0] - 1,
                           np.arange(m)])
    vals = np.concatenate([np.ones(len(t)), np.ones(n_lev), -np.ones(int((~first).sum())),
                           np.ones(m)])
    row_lo = np.concatenate([first.astype(np.float64), [p]])
    a = sp.csr_matrix((vals, (rows, cols)), shape=(n_lev + 1, m + n_lev))
    row_hi = np.concatenate([np.full(n_lev, np.inf), [p]])
    c = np.concatenate([np.zeros(m), cost_z])
    col_lo = np.zeros(m + n_lev)
    col_hi = np.ones(m + n_lev)
    if serve_by is not None:
        col_hi[m:][last & (lev_d == serve_by[lev_cli])] = 0.0
    integer = np.concatenate([np.ones(m, dtype=bool), np.zeros(n_lev, dtype=bool)])
    x0 = None
    if start is not None:
        is_open = np.zeros(m, dtype=bool)
        is_open[start] = True
        # client time under the start: first open pair in each client's sorted list
        d = cap.copy()
        op = is_open[cand]
        np.minimum.at(d, cli[op], t[op])
        z0 = (lev_d < d[lev_cli]).astype(np.float64)
        x0 = np.concatenate([is_open.astype(np.float64), z0])
    sizes = {"milp_candidates": m, "milp_levels": n_lev, "milp_nonzeros": int(a.nnz)}
    sol = solve_milp(c, a, row_lo, row_hi, col_lo, col_hi, integer, maximise=False,
                     time_limit=time_limit, mip_gap=mip_gap, seed=seed, threads=threads,
                     start=x0, offset=offset, verbose=verbose,
                     mip_abs_gap=1.0 - 1e-6 if inst.integral() else None,
                     options=HIGHS_OPTIONS)
    sel = np.nonzero(sol.x[:m] > 0.5)[0] if sol.has_solution else None
    return sel, sol, sizes


@dataclass
class _ExactOutcome:
    sel: np.ndarray
    cost: float
    bound: float
    status: str
    info: dict
    warnings: list[str]


def _fix_rounds(inst: _Instance, p: int, sel: np.ndarray, ub: float, h: _HeuristicOutcome,
                rounds: int, lagrangian_iterations: int):
    """Fix candidates by Lagrangian bounds, re-bound the reduced problem, and repeat.

    A candidate is fixed closed (open) when every solution that opens (closes) it has a
    Lagrangian bound of at least ``ub``: no such solution beats the incumbent. Fixings
    that the incumbent violates are skipped, so it stays feasible. Returns the free and
    fixed-open candidates, the reduced instance and its multipliers, and the smallest
    bound over the excluded solutions.
    """
    integral = inst.integral()
    tol = 1e-9 * max(1.0, abs(ub))
    free = np.arange(inst.n_cand)
    fixed_open = np.zeros(0, dtype=np.int64)
    excluded = np.inf
    lb_in, lb_out, lam = h.lb_in, h.lb_out, h.lam
    sub = inst
    is_open = np.zeros(inst.n_cand, dtype=bool)
    is_open[sel] = True
    for _ in range(rounds):
        thr_in = _round_bounds(lb_in, integral)
        thr_out = _round_bounds(lb_out, integral)
        inc = is_open[free]
        fix_closed = (thr_in >= ub - tol) & ~inc
        fix_open = (thr_out >= ub - tol) & inc
        if not (fix_closed.any() or fix_open.any()):
            break
        excluded = min(excluded, float(np.min(thr_in[fix_closed], initial=np.inf)),
                       float(np.min(thr_out[fix_open], initial=np.inf)))
        fixed_open = np.sort(np.concatenate([fixed_open, free[fix_open]]))
        free = free[~fix_closed & ~fix_open]
        p_rest = p - len(fixed_open)
        sub = inst.restrict(free, fixed_open, p_rest)
        if p_rest == 0 or sub.n_cand <= p_rest:
            break
        cptr, ccli, ct = sub.candidate_csr()
        _lag, lam, lb_in, lb_out, _it = kern.lagrangian(
            p_rest, sub.w, sub.cap, cptr, ccli, ct, lam, float(ub), lagrangian_iterations,
            LAGRANGIAN_STALL, integral)
    return free, fixed_open, sub, lam, excluded


def _exact(inst: _Instance, p: int, sel: np.ndarray, ub: float, h: _HeuristicOutcome,
           deadline: float, mip_gap: float, seed: int, threads: int | None, verbose: bool
           ) -> _ExactOutcome:
    """Reduce the instance with the Lagrangian bounds, then solve the rest with HiGHS.

    Reductions (each removes only solutions whose bound is at least the incumbent's cost):
    candidate fixing (:func:`_fix_rounds`), then per client a time within which it must be
    served (:func:`pmedian_kernels.serve_within`), which drops its farther levels from the
    MILP and adds the cut "an open site within that time". The proven bound is the smaller
    of the MILP's bound and the bounds of all excluded solutions.
    """
    integral = inst.integral()
    info: dict = {}
    warnings: list[str] = []
    tol = 1e-9 * max(1.0, abs(ub))
    free, fixed_open, sub, lam, excluded = _fix_rounds(inst, p, sel, ub, h, FIX_ROUNDS,
                                                      FIX_LAGRANGIAN_ITERATIONS)
    p_rest = p - len(fixed_open)
    info["fixed_closed"] = inst.n_cand - len(free) - len(fixed_open)
    info["fixed_open"] = len(fixed_open)
    start = np.searchsorted(free, sel[np.isin(sel, free)])
    sub_status, sub_bound, sub_sel = "optimal", None, None
    remaining = deadline - time.perf_counter()
    if p_rest == 0 or sub.n_cand <= p_rest:
        sub_sel = np.arange(sub.n_cand)
    elif remaining <= 0:
        sub_status, sub_bound = "time_limit", -np.inf
    else:
        # clients that every better solution serves within some time
        qptr, qcand, qt = sub.client_csr()
        cptr, ccli, ct = sub.candidate_csr()
        cand_of = np.repeat(np.arange(sub.n_cand), np.diff(cptr))
        rho = np.bincount(cand_of, weights=np.minimum(0.0, sub.w[ccli] * ct - lam[ccli]),
                          minlength=sub.n_cand)
        base = float(np.sum(np.minimum(lam, sub.w * sub.cap)))
        is_open = np.zeros(sub.n_cand, dtype=bool)
        is_open[start] = True
        _, d_inc = kern.evaluate_open(is_open, sub.w, qptr, qcand, qt, sub.cap)
        serve_by, cut_bound = kern.serve_within(p_rest, rho, base, qptr, qcand, qt, d_inc,
                                                float(ub), integral)
        info["served_within_cuts"] = int(np.isfinite(serve_by).sum())
        excluded = min(excluded, float(cut_bound.min(initial=np.inf)))
        sub_sel, sol, sizes = _radius_milp(sub, p_rest, start, deadline - time.perf_counter(),
                                           mip_gap, seed, threads, verbose, serve_by=serve_by)
        info.update(sizes)
        info["milp_nodes"] = sol.nodes
        info["milp_seconds"] = sol.seconds
        info["milp_attempts"] = sol.attempts
        sub_status, sub_bound = sol.status, sol.bound
        if sol.status in ("infeasible", "error") or not np.isfinite(sol.bound):
            sub_bound = -np.inf
        if sol.status in ("infeasible", "error"):
            warnings.append(f"HiGHS returned status {sol.status}; the heuristic solution is "
                            "reported")
    cost = ub
    if sub_sel is not None:
        cand_sel = np.sort(np.concatenate([free[sub_sel], fixed_open]))
        sub_cost = PMedian._inst_cost(inst, cand_sel)
        if sub_bound is None:  # no choice left in the reduced problem
            sub_bound = sub_cost
        if sub_cost < cost - tol:
            sel, cost = cand_sel, sub_cost
    # solutions that break a reduction cost at least `excluded`; the others at least the
    # MILP's bound
    bound = min(max(h.bound, min(_round_bound(sub_bound, integral), excluded)), cost)
    gap = relative_gap(cost, bound, False)
    if sub_status == "optimal" and gap is not None and gap <= mip_gap + 1e-12:
        status = "optimal"
    elif sub_status in ("optimal", "unproven"):
        status = "unproven"
    elif sub_status in ("time_limit", "no_solution"):
        status = "time_limit"
    else:
        status = "heuristic"
    return _ExactOutcome(sel, cost, bound, status, info, warnings)


# -------------------------------------------------------------------------- model


class PMedian:
    """p-median: choose ``p`` new sites minimising the weighted time to the nearest site.

    Built like the spopt models (construct, then :meth:`solve`), but on the sparse time
    matrices of a :class:`SitingProblem`.

    Parameters
    ----------
    problem : SitingProblem
        Demand weights, candidate times and existing facilities (always open).
    p : int
        Number of new sites (``1 <= p <= n_candidates``).
    penalty_min : float, optional
        Minutes charged to a demand point that no open site (new or existing) reaches
        within the search cutoff. Default: ``2 ×`` the largest stored time (candidates
        and existing facilities), or 1 minute when no time is stored. It must not be below
        the largest stored time (a reached point would then cost more than an unreached
        one).
    objective : {"total", "mean"}
        Report the total weighted minutes or their mean per unit of demand weight. The
        optimal sites are the same; ``info`` holds both figures.

    Notes
    -----
    A demand point's time is ``min(penalty, nearest existing, nearest new site)``, over
    the stored pairs only. Demand points with zero weight are ignored.
    """

    model_name = "pmedian"

    def __init__(self, problem: SitingProblem, p: int, *, penalty_min: float | None = None,
                 objective: str = "total") -> None:
        if objective not in ("total", "mean"):
            raise InputDataError(f"p-median objective must be 'total' or 'mean', got "
                                 f"{objective!r}")
        if isinstance(p, bool) or int(p) != p or p < 1:
            raise InputDataError(f"p-median needs a whole number of new sites p >= 1, got {p}")
        p = int(p)
        problem.require_candidates(p)
        self.problem = problem
        self.p = p
        self.objective = objective
        largest = 0.0
        for m in (problem.times, problem.existing_times):
            if m.nnz:
                largest = max(largest, float(m.data.max()))
        if penalty_min is None:
            penalty_min = DEFAULT_PENALTY_FACTOR * largest if largest > 0 else 1.0
        penalty_min = float(penalty_min)
        if not np.isfinite(penalty_min) or penalty_min < largest:
            raise InputDataError(
                f"p-median penalty_min {penalty_min:g} min is below the largest stored "
                f"walking time {largest:g} min; use at least that (or leave it unset)")
        self.penalty_min = penalty_min
        self._inst: _Instance | None = None

    # ---------------------------------------------------------------- data
    def _base_cap(self) -> np.ndarray:
        """Each demand point's time with no new site: nearest existing or the penalty."""
        return np.minimum(self.problem.existing_best_time(), self.penalty_min)

    def _instance(self) -> _Instance:
        if self._inst is None:
            pr = self.problem
            times = pr.times
            cand = np.repeat(np.arange(pr.n_candidates, dtype=np.int64), np.diff(times.indptr))
            cli = times.indices.astype(np.int64)
            t = times.data.astype(np.float64)
            pos = pr.weights > 0
            idx = np.full(pr.n_demand, -1, dtype=np.int64)
            idx[pos] = np.arange(int(pos.sum()))
            keep = idx[cli] >= 0
            self._inst = _Instance.from_pairs(pr.n_candidates, pr.weights[pos],
                                              self._base_cap()[pos], cand[keep],
                                              idx[cli[keep]], t[keep], self.p)
        return self._inst

    def demand_times(self, selected: np.ndarray) -> np.ndarray:
        """Minutes from each demand point to its nearest open site for ``selected`` new
        sites (existing facilities open, penalty where nothing is stored)."""
        pr = self.problem
        sel = np.asarray(selected, dtype=np.int64)
        d = np.minimum(min_time(pr.times[sel], pr.n_demand), self._base_cap())
        return d

    def evaluate(self, selected: np.ndarray) -> float:
        """Total weighted minutes Σ w·t for ``selected`` new sites (candidate positions)."""
        return float(np.dot(self.problem.weights, self.demand_times(selected)))

    def order_by_value(self, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Order sites greedily by added value, starting from existing facilities only.

        Returns the sites in that order and the weighted minutes each saves when added.
        """
        pr = self.problem
        rest = np.asarray(selected, dtype=np.int64).copy()
        d = self._base_cap().copy()
        w = pr.weights
        order, saved = [], []
        while len(rest):
            sub = pr.times[rest]
            rows = np.repeat(np.arange(len(rest)), np.diff(sub.indptr))
            s = w[sub.indices] * np.maximum(d[sub.indices] - sub.data, 0.0)
            gains = np.bincount(rows, weights=s, minlength=len(rest))
            k = int(np.argmax(gains))
            order.append(int(rest[k]))
            saved.append(float(gains[k]))
            r = sub.getrow(k)
            np.minimum.at(d, r.indices, r.data)
            rest = np.delete(rest, k)
        return np.array(order, dtype=np.int64), np.array(saved, dtype=np.float64)

    # ---------------------------------------------------------------- solve
    def solve(self, method: str = "auto", time_limit: float = 300.0, mip_gap: float = 1e-4,
              seed: int = 0, threads: int | None = None, *, heuristic_starts: int = 4,
              vns_iterations: int | None = None, vns_stall: int | None = None,
              lagrangian_iterations: int = 3000,
              max_milp_pairs: int = 5_000_000, verbose: bool = False) -> SitingResult:
        """Solve the model.

        Parameters
        ----------
        method : {"exact", "heuristic", "auto"}
            ``"exact"`` proves optimality (within ``mip_gap``) unless the time limit hits;
            ``"heuristic"`` returns a local-search solution with a Lagrangian bound;
            ``"auto"`` is exact unless the model has more than ``max_milp_pairs``
            useful candidate–client pairs.
        time_limit : float
            Seconds for the whole solve. On expiry the best solution is returned with
            status ``"time_limit"`` and its gap.
        mip_gap : float
            Relative gap at which the MILP stops. With integer weights and times the
            solver also stops once the absolute gap is below 1, which proves optimality.
        seed : int
            Seed of the heuristic and of HiGHS: the same seed gives the same answer (unless
            the time limit cuts the search short, which ``warnings`` then says).
        threads : int, optional
            HiGHS threads.
        heuristic_starts : int
            Greedy (first) and random-greedy starts, each followed by local search.
        vns_iterations, vns_stall : int, optional
            Variable neighbourhood search after the starts: at most ``vns_iterations``
            iterations, stopping after ``vns_stall`` in a row without improvement. Defaults:
            20,000 and ``50 p`` clipped to [500, 5,000] for ``"heuristic"``; 5,000 and ``50 p``
            clipped to [500, 1,000] for ``"exact"`` (the MILP closes the rest; a good start
            mainly lets the bound fix more candidates).
        lagrangian_iterations : int
            Cap on subgradient iterations for the bound.
        max_milp_pairs : int
            Size limit of ``"auto"``.
        verbose : bool
            Show the HiGHS log.

        Returns
        -------
        SitingResult
            ``selected`` in greedy order of added value from the existing facilities,
            ``marginal`` the weighted minutes each saves (also for ``objective="mean"``).
            ``status`` is ``"optimal"`` when optimality is proven, by the MILP or already by
            the Lagrangian bound (``info["proof"]``; this can happen for the heuristic too),
            ``"heuristic"`` for an unproven heuristic answer, and ``"time_limit"`` when the
            exact method ran out of time (``gap`` then says how far from proven it is).
            ``info`` holds both objective figures, the heuristic and Lagrangian figures,
            the reductions and the MILP size.

        Notes
        -----
        The subgradient runs (at most ``lagrangian_iterations`` passes over the useful
        pairs, plus up to 4 × 1,000 after candidate fixing) do not look at the clock, so on
        very large instances the time limit can be exceeded by their duration.
        """
        if method not in ("exact", "heuristic", "auto"):
            raise InputDataError(f"p-median method must be 'exact', 'heuristic' or 'auto', "
                                 f"got {method!r}")
        check_solver_options(time_limit, mip_gap)
        t0 = time.perf_counter()
        deadline = t0 + float(time_limit)
        inst = self._instance()
        if method == "auto":
            method = "exact" if len(inst.t) <= max_milp_pairs else "heuristic"
        if vns_iterations is None:
            vns_iterations = 5000 if method == "exact" else 20000
        if vns_stall is None:
            # the shake neighbourhood grows with p: small p converges in few iterations
            vns_stall = int(np.clip(50 * self.p, 500, 1000 if method == "exact" else 5000))
        warnings: list[str] = []
        info: dict = {"penalty_min": self.penalty_min, "pairs": len(inst.t),
                      "demand_points": inst.n_cli}
        p = self.p

        # 1. heuristic solution and Lagrangian bound
        heur_budget = deadline if method == "heuristic" else t0 + 0.5 * float(time_limit)
        h = _heuristic(inst, p, seed, heur_budget, heuristic_starts, vns_iterations,
                       vns_stall, lagrangian_iterations)
        sel, ub, lag = h.sel, h.cost, h.bound
        info["heuristic"] = h.info
        info["heuristic_objective"] = ub
        info["heuristic_seconds"] = time.perf_counter() - t0
        info["lagrangian_bound"] = lag
        bound = min(lag, ub)
        status = "heuristic"
        proof = None
        if relative_gap(ub, bound, False) == 0.0:
            status, proof = "optimal", "lagrangian bound"

        # 2. exact: fix what the bound decides, solve the rest as a MILP
        if method == "exact" and status != "optimal":
            ex = _exact(inst, p, sel, ub, h, deadline, mip_gap, seed, threads, verbose)
            info.update(ex.info)
            warnings.extend(ex.warnings)
            sel, ub, bound, status = ex.sel, ex.cost, ex.bound, ex.status
            if status == "optimal":
                proof = "milp"
        seconds = time.perf_counter() - t0
        if h.info.get("stopped_by_time") and status != "optimal":  # a proof settles it
            warnings.append("the heuristic stopped at the time limit; with more time (or "
                            "another machine) the answer may differ")

        # 3. report on the original data (and check the internal cost against it)
        selected = np.asarray(sel, dtype=np.int64)
        total = self.evaluate(selected)
        if abs(total - ub) > 1e-6 * max(1.0, abs(total)):  # pragma: no cover - self-check
            raise RuntimeError(f"p-median internal cost {ub} differs from evaluation {total}")
        order, marginal = self.order_by_value(selected)
        wsum = self.problem.total_weight
        mean = total / wsum if wsum > 0 else 0.0
        info.update({"total_weighted_minutes": total, "mean_minutes": mean,
                     "proof": proof, "bound_total": bound})
        if self.objective == "mean":
            scale = 1.0 / wsum if wsum > 0 else 0.0
            obj, obj_name = mean, "mean minutes"
        else:
            scale, obj_name, obj = 1.0, "total weighted minutes", total
        res = SitingResult(
            model=self.model_name, method=method, selected=order, marginal=marginal,
            objective=obj, objective_name=obj_name,
            bound=bound * scale, gap=relative_gap(total, bound, False), status=status,
            seconds=seconds, info=info, warnings=warnings)
        return finalise(res, recomputed=check_pmedian(self.problem, order,
                                                      self.penalty_min) * scale,
                        maximise=False, mip_gap=mip_gap,
                        violations=rule_violations(self.problem, order, exact_sites=p))

    @staticmethod
    def _inst_cost(inst: _Instance, sel: np.ndarray) -> float:
        is_open = np.zeros(inst.n_cand, dtype=bool)
        is_open[sel] = True
        qptr, qcand, qt = inst.client_csr()
        cost, _ = kern.evaluate_open(is_open, inst.w, qptr, qcand, qt, inst.cap)
        return float(cost)

