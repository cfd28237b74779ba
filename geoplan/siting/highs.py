"""A thin, typed wrapper over HiGHS (``highspy``) for sparse MILPs built as CSR arrays.

Models hand over the constraint matrix row-wise (CSR arrays), so no modelling layer and no
dense matrix stands between the reach engine's sparse output and the solver; building a
100,000-row model is a few numpy operations.

Nothing HiGHS reports is taken on trust. Every returned vector is checked here with numpy
before a model sees it: column bounds, integrality, every row, the objective recomputed as
``c·x + offset`` and compared with the objective HiGHS reports, and the dual bound compared
with the recomputed objective. HiGHS 1.16 can hand back the MIP start as its solution while
reporting the (better) objective and bound of another point; when any check fails the model
is solved again without the start, then also without presolve, and only a verified vector
is returned. "Optimal" then means: the recomputed objective meets the bound within the
requested gap.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    import highspy

log = logging.getLogger(__name__)

#: HiGHS's infinity (``highspy.kHighsInf``, IEEE infinity; highspy itself is imported only
#: when a model is solved, so that loading the siting modules stays light).
INF = math.inf

#: Absolute feasibility tolerance for rows, bounds and integrality (HiGHS's default primal
#: feasibility tolerance is 1e-7; rows are checked with this, scaled by the row's size).
FEAS_TOL = 1e-6

#: Statuses of :class:`MilpSolution`, in the words of the reports.
#: ``optimal``: verified vector whose objective meets the proven bound within the gap.
#: ``time_limit``: a limit stopped the search; a verified incumbent and its gap.
#: ``no_solution``: a limit stopped the search before any verified solution.
#: ``unproven``: HiGHS stopped, but its verified solution does not meet its bound.
#: ``infeasible``: HiGHS proved that no solution satisfies the constraints.
#: ``error``: HiGHS failed (or returned no verifiable vector).
MILP_STATUSES = ("optimal", "time_limit", "no_solution", "unproven", "infeasible", "error")



@cache
def _statuses() -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """HiGHS model statuses meaning "a limit stopped the search" and "infeasible"."""
    import highspy

    status = highspy.HighsModelStatus
    return ((status.kTimeLimit, status.kInterrupt, status.kIterationLimit,
             status.kSolutionLimit, status.kMemoryLimit, status.kObjectiveBound,
             status.kObjectiveTarget),
            (status.kInfeasible, status.kUnboundedOrInfeasible))


@dataclass
class MilpSolution:
    """Verified result of :func:`solve_milp`.

    Attributes
    ----------
    x : ndarray (n_cols,) or None
        The solution vector (integer columns rounded), ``None`` without a verified one.
    objective : float
        ``c·x + offset`` recomputed from ``x`` (``nan`` without a solution).
    bound : float
        HiGHS's dual bound (upper for maximisation, lower for minimisation), kept only when
        it is on the right side of ``objective``; else ``nan``.
    gap : float
        Relative gap ``|bound - objective| / max(|bound|, |objective|)``; ``inf`` when unknown.
    status : str
        One of :data:`MILP_STATUSES`.
    seconds : float
        Wall time of all attempts.
    nodes : int
        Branch-and-bound nodes of the attempt returned.
    attempts : list of str
        One line per HiGHS run (start/presolve setting, HiGHS status, what the check found).
    """

    x: np.ndarray | None
    objective: float
    bound: float
    gap: float
    status: str
    seconds: float
    nodes: int
    attempts: list[str] = field(default_factory=list)

    @property
    def has_solution(self) -> bool:
        """True when a verified vector is held."""
        return self.x is not None


@dataclass
class _Run:
    """What one HiGHS run returned, and what the checks found."""

    model_status: highspy.HighsModelStatus
    x: np.ndarray | None
    objective: float           # recomputed
    reported: float            # HiGHS's objective
    bound: float
    nodes: int
    problems: list[str]


def _gap(objective: float, bound: float) -> float:
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.inf
    diff = abs(bound - objective)
    scale = max(abs(bound), abs(objective))
    return 0.0 if diff <= 1e-9 * max(1.0, scale) else diff / max(scale, 1e-12)


def check_vector(x: np.ndarray, c: np.ndarray, a: sp.csr_matrix, row_lo: np.ndarray,
                 row_hi: np.ndarray, col_lo: np.ndarray, col_hi: np.ndarray,
                 integer: np.ndarray, offset: float = 0.0) -> tuple[np.ndarray, float, list[str]]:
    """Check a MILP vector independently of the solver.

    Parameters
    ----------
    x : ndarray (n_cols,)
        The vector to check.
    c, a, row_lo, row_hi, col_lo, col_hi, integer, offset
        The model, as given to :func:`solve_milp`.

    Returns
    -------
    x : ndarray (n_cols,)
        ``x`` with integer columns rounded (the vector reported).
    objective : float
        ``c·x + offset`` of the rounded vector.
    problems : list of str
        What is violated (empty when feasible): bounds, integrality, rows, non-finite values.
    """
    x = np.asarray(x, dtype=np.float64).copy()
    problems: list[str] = []
    if x.shape != (a.shape[1],) or not np.all(np.isfinite(x)):
        return x, math.nan, ["vector has the wrong size or non-finite values"]
    integer = np.asarray(integer, dtype=bool)
    frac = np.abs(x[integer] - np.round(x[integer]))
    if frac.size and frac.max() > FEAS_TOL:
        problems.append(f"{int((frac > FEAS_TOL).sum())} integer columns are fractional "
                        f"(up to {frac.max():.3g})")
    x[integer] = np.round(x[integer])
    lo_v = np.maximum(np.asarray(col_lo, dtype=np.float64) - x, 0.0)
    hi_v = np.maximum(x - np.asarray(col_hi, dtype=np.float64), 0.0)
    col_tol = FEAS_TOL * np.maximum(1.0, np.abs(x))
    bad_cols = int(((lo_v > col_tol) | (hi_v > col_tol)).sum())
    if bad_cols:
        problems.append(f"{bad_cols} columns outside their bounds")
    act = np.asarray(a @ x).ravel()
    # tolerance scaled by the size of the row's terms (sums of many persons' weights)
    scale = np.maximum(1.0, np.asarray(abs(a) @ np.abs(x)).ravel())
    viol = np.maximum(np.asarray(row_lo, dtype=np.float64) - act,
                      act - np.asarray(row_hi, dtype=np.float64))
    bad_rows = np.flatnonzero(viol > FEAS_TOL * scale)
    if len(bad_rows):
        problems.append(f"{len(bad_rows)} constraint rows violated (first row {bad_rows[0]}, "
                        f"by {viol[bad_rows[0]]:.6g})")
    objective = float(np.dot(np.asarray(c, dtype=np.float64), x) + offset)
    return x, objective, problems


def solve_milp(c: np.ndarray, a: sp.csr_matrix, row_lo: np.ndarray, row_hi: np.ndarray,
               col_lo: np.ndarray, col_hi: np.ndarray, integer: np.ndarray, *,
               maximise: bool, time_limit: float = 300.0, mip_gap: float = 1e-4,
               seed: int = 0, threads: int | None = None, start: np.ndarray | None = None,
               offset: float = 0.0, verbose: bool = False,
               mip_abs_gap: float | None = None,
               options: dict[str, bool | int | float | str] | None = None) -> MilpSolution:
    """Solve ``max/min c·x`` s.t. ``row_lo <= A x <= row_hi``, bounds and integrality.

    The answer is verified (see the module docstring); when HiGHS's vector, objective and
    bound disagree, the model is solved again without the start, then without presolve.

    Parameters
    ----------
    c : ndarray (n_cols,)
        Objective coefficients.
    a : csr_matrix (n_rows, n_cols)
        Constraint matrix.
    row_lo, row_hi, col_lo, col_hi : ndarray
        Bounds (use ``numpy.inf`` for none).
    integer : ndarray of bool (n_cols,)
        Integer columns.
    maximise : bool
        Sense of the objective.
    time_limit : float
        Seconds for all attempts together (> 0); on expiry the best verified solution is
        returned with status ``"time_limit"``.
    mip_gap : float
        Relative gap at which HiGHS stops (``mip_rel_gap``), in [0, 1).
    seed : int
        HiGHS ``random_seed`` (same seed, same answer).
    threads : int, optional
        HiGHS threads (default: HiGHS's choice).
    start : ndarray, optional
        A feasible starting solution (e.g. from the heuristic).
    offset : float
        Constant added to the objective.
    verbose : bool
        Show the HiGHS log.
    mip_abs_gap : float, optional
        Absolute gap at which HiGHS stops (``mip_abs_gap``; HiGHS default when not given).
        With integer objective values, a value just below 1 stops exactly when the
        incumbent is proven optimal.
    options : dict, optional
        Further HiGHS tuning options by name (e.g. ``{"mip_heuristic_effort": 0.0}`` when a
        strong start is given), set last; one that this HiGHS version rejects is skipped
        (logged), since tuning never changes the optimum.

    Returns
    -------
    MilpSolution

    Raises
    ------
    ValueError
        For a time limit that is not a positive finite number or a gap outside [0, 1).
    """
    if not (math.isfinite(time_limit) and time_limit > 0):
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit}")
    if not (math.isfinite(mip_gap) and 0 <= mip_gap < 1):
        raise ValueError(f"mip_gap must be in [0, 1), got {mip_gap}")
    t0 = time.perf_counter()
    a = sp.csr_matrix(a)
    a.sort_indices()
    c = np.asarray(c, dtype=np.float64)
    model = (c, a, row_lo, row_hi, col_lo, col_hi, integer, offset)
    plans: list[tuple[str, np.ndarray | None, dict]] = []
    if start is not None:
        plans.append(("with start", start, {}))
    plans.append(("without start", None, {}))
    plans.append(("without start or presolve", None, {"presolve": "off"}))
    attempts: list[str] = []
    best: _Run | None = None
    for label, x0, extra in plans:
        remaining = time_limit - (time.perf_counter() - t0)
        if remaining <= 0 and attempts:
            break
        run = _run_highs(model, maximise=maximise, time_limit=max(remaining, 1e-3),
                         mip_gap=mip_gap, seed=seed, threads=threads, start=x0,
                         verbose=verbose, mip_abs_gap=mip_abs_gap,
                         options={**(options or {}), **extra})
        attempts.append(f"{label}: HiGHS {run.model_status.name}"
                        + (f"; {'; '.join(run.problems)}" if run.problems else "; verified"))
        if not run.problems:
            best = run
            break
        log.info("HiGHS answer failed verification (%s): %s; solving again",
                    label, "; ".join(run.problems))
        if run.x is not None and (best is None or best.x is None or (
                run.objective > best.objective if maximise else run.objective < best.objective)):
            best = run  # a feasible vector whose report disagreed: keep its recomputed value
        elif best is None:
            best = run
    assert best is not None
    return _finish(best, maximise, mip_gap, mip_abs_gap, attempts,
                   time.perf_counter() - t0)


def _finish(run: _Run, maximise: bool, mip_gap: float, mip_abs_gap: float | None,
            attempts: list[str], seconds: float) -> MilpSolution:
    """Turn a run into a verified :class:`MilpSolution` with an honest status."""
    import highspy

    limits, infeasible = _statuses()
    ms = run.model_status
    if run.x is None:
        if ms in infeasible:
            status = "infeasible"
        elif ms in limits:
            status = "no_solution"
        else:
            status = "error"
        return MilpSolution(x=None, objective=math.nan, bound=run.bound, gap=math.inf,
                            status=status, seconds=seconds, nodes=run.nodes,
                            attempts=attempts)
    obj = run.objective
    bound = run.bound
    tol = 1e-6 * max(1.0, abs(obj))
    if not math.isfinite(bound) or (bound < obj - tol if maximise else bound > obj + tol):
        bound = math.nan  # a bound on the wrong side of an achieved value proves nothing
    elif (bound < obj) if maximise else (bound > obj):
        bound = obj       # rounding noise within the tolerance
    gap = _gap(obj, bound)
    proven = False  # without a finite bound nothing is proven (inf <= gap × inf is True!)
    if math.isfinite(bound):
        diff = abs(bound - obj)
        proven = diff <= mip_gap * max(abs(bound), abs(obj)) + 1e-9 * max(1.0, abs(obj)) or (
            mip_abs_gap is not None and diff <= mip_abs_gap)
    if ms == highspy.HighsModelStatus.kOptimal:
        status = "optimal" if proven else "unproven"
    elif ms in limits:
        status = "optimal" if proven else "time_limit"
    else:
        status = "unproven"
    if status == "unproven":
        log.warning("HiGHS stopped (%s) but its verified solution %.6g does not meet the "
                    "bound %.6g within the gap; reported as not proven", ms.name, obj, bound)
    return MilpSolution(x=run.x, objective=obj, bound=bound, gap=gap, status=status,
                        seconds=seconds, nodes=run.nodes, attempts=attempts)


_BANNER_SHOWN = False


def _new_highs() -> highspy.Highs:
    """A HiGHS instance, without the licence banner HiGHS (>= 1.15) prints to stdout once per
    process on its first construction: it would land in the middle of the CLI's tables.

    The banner goes to file descriptor 1 from C++, so Python's ``sys.stdout`` cannot catch
    it; descriptor 1 is pointed at ``/dev/null`` for that first construction only.
    """
    import highspy

    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return highspy.Highs()
    _BANNER_SHOWN = True
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h


def _run_highs(model: tuple, *, maximise: bool, time_limit: float, mip_gap: float, seed: int,
               threads: int | None, start: np.ndarray | None, verbose: bool,
               mip_abs_gap: float | None, options: dict) -> _Run:
    """One HiGHS run and the independent check of what it returned."""
    import highspy

    c, a, row_lo, row_hi, col_lo, col_hi, integer, offset = model
    h = _new_highs()
    h.setOptionValue("output_flag", bool(verbose))
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("random_seed", int(seed))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    if mip_abs_gap is not None:
        h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
    for name, value in options.items():
        # Options are tuning choices (heuristics, LP solver, presolve); an older HiGHS
        # that lacks one still solves the same model correctly, only slower.
        if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            log.info("HiGHS %s does not accept option %s=%r; solving without it",
                     h.version(), name, value)
    lp = highspy.HighsLp()
    lp.num_col_ = int(a.shape[1])
    lp.num_row_ = int(a.shape[0])
    lp.col_cost_ = c
    lp.col_lower_ = np.where(np.isneginf(col_lo), -INF, col_lo).astype(np.float64)
    lp.col_upper_ = np.where(np.isposinf(col_hi), INF, col_hi).astype(np.float64)
    lp.row_lower_ = np.where(np.isneginf(row_lo), -INF, row_lo).astype(np.float64)
    lp.row_upper_ = np.where(np.isposinf(row_hi), INF, row_hi).astype(np.float64)
    lp.offset_ = float(offset)
    lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    lp.a_matrix_.num_col_ = lp.num_col_
    lp.a_matrix_.num_row_ = lp.num_row_
    is_int = np.asarray(integer, dtype=bool)
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                       for i in is_int]
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64)
        sol.value_valid = True
        h.setSolution(sol)
    # HiGHS asks regularly whether to stop: yes once SIGINT/SIGTERM arrived (the CLI
    # records them), so an interrupted run does not wait for the time limit
    from geoplan import interrupts

    def _stop_on_signal(event: Any) -> None:
        if interrupts.pending() is not None:
            event.interrupt()

    h.cbMipInterrupt += _stop_on_signal
    h.run()
    interrupts.check()
    ms = h.getModelStatus()
    info = h.getInfo()
    mip = bool(is_int.any())
    # HighsSolutionStatus: 0 none, 1 an infeasible point, 2 feasible (HiGHS documentation)
    feasible = int(highspy.SolutionStatus.kSolutionStatusFeasible)
    has_sol = int(info.primal_solution_status) == feasible
    reported = float(info.objective_function_value) if has_sol else math.nan
    if mip:
        bound = float(info.mip_dual_bound)
        nodes = int(info.mip_node_count)
    else:  # an LP's optimum is its own bound (checked like any other)
        bound = reported if ms == highspy.HighsModelStatus.kOptimal else math.nan
        nodes = 0
    if not math.isfinite(bound) or abs(bound) >= INF:
        bound = math.nan
    log.debug("HiGHS %s: %s, objective %.9g, bound %.9g, %d nodes", h.version(),
              h.modelStatusToString(ms), reported, bound, nodes)
    if not has_sol:
        return _Run(ms, None, math.nan, reported, bound, nodes, [])
    x, obj, problems = check_vector(np.asarray(h.getSolution().col_value), *model)
    if abs(obj - reported) > 1e-6 * max(1.0, abs(obj)):
        problems.append(f"HiGHS reports objective {reported:.9g} but its vector gives "
                        f"{obj:.9g}")
    tol = 1e-6 * max(1.0, abs(obj))
    if math.isfinite(bound) and (bound < obj - tol if maximise else bound > obj + tol):
        problems.append(f"HiGHS's bound {bound:.9g} is on the wrong side of its solution "
                        f"{obj:.9g}")
    if problems and any("constraint" in p or "bounds" in p or "fractional" in p
                        or "non-finite" in p for p in problems):
        return _Run(ms, None, math.nan, reported, bound, nodes, problems)
    return _Run(ms, x, obj, reported, bound, nodes, problems)
