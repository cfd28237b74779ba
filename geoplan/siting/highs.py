"""A thin, typed wrapper over HiGHS (``highspy``) for sparse MILPs built as CSR arrays.

Models hand over the constraint matrix row-wise (CSR arrays), so no modelling layer and no
dense matrix stands between the reach engine's sparse output and the solver; building a
100,000-row model is a few numpy operations.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

INF = highspy.kHighsInf


@dataclass
class MilpSolution:
    """Solution of :func:`solve_milp`."""

    x: np.ndarray | None
    objective: float
    bound: float
    gap: float
    status: str  # "optimal", "time_limit", "infeasible", "error"
    seconds: float
    nodes: int


def solve_milp(c: np.ndarray, a: sp.csr_matrix, row_lo: np.ndarray, row_hi: np.ndarray,
               col_lo: np.ndarray, col_hi: np.ndarray, integer: np.ndarray, *,
               maximise: bool, time_limit: float = 300.0, mip_gap: float = 1e-4,
               seed: int = 0, threads: int | None = None, start: np.ndarray | None = None,
               offset: float = 0.0, verbose: bool = False,
               mip_abs_gap: float | None = None,
               options: dict[str, bool | int | float | str] | None = None) -> MilpSolution:
    """Solve ``max/min c·x`` s.t. ``row_lo <= A x <= row_hi``, bounds and integrality.

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
        Seconds; on expiry the best solution found is returned with status ``"time_limit"``.
    mip_gap : float
        Relative gap at which HiGHS stops (``mip_rel_gap``).
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
        Further HiGHS options by name (e.g. ``{"mip_heuristic_effort": 0.0}`` when a
        strong start is given), set last.

    Returns
    -------
    MilpSolution
    """
    t0 = time.perf_counter()
    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(verbose))
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("random_seed", int(seed))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    if mip_abs_gap is not None:
        h.setOptionValue("mip_abs_gap", float(mip_abs_gap))
    for name, value in (options or {}).items():
        if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            raise ValueError(f"HiGHS rejected option {name}={value!r}")
    a = sp.csr_matrix(a)
    a.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_ = int(a.shape[1])
    lp.num_row_ = int(a.shape[0])
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
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
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                       for i in np.asarray(integer, dtype=bool)]
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
    seconds = time.perf_counter() - t0
    if ms == highspy.HighsModelStatus.kOptimal:
        status = "optimal"
    elif ms in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt,
                highspy.HighsModelStatus.kIterationLimit,
                highspy.HighsModelStatus.kSolutionLimit):
        status = "time_limit"
    elif ms in (highspy.HighsModelStatus.kInfeasible,
                highspy.HighsModelStatus.kUnboundedOrInfeasible):
        status = "infeasible"
    else:
        status = "error"
    has_sol = info.primal_solution_status >= 1 and status in ("optimal", "time_limit")
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_sol else None
    objective = float(info.objective_function_value) if has_sol else np.nan
    if any(integer):
        bound = float(info.mip_dual_bound)
        gap = float(info.mip_gap) if has_sol else np.inf
        nodes = int(info.mip_node_count)
    else:
        bound, gap, nodes = objective, 0.0, 0
    if status == "optimal" and not np.isfinite(gap):
        gap = 0.0
    log.debug("HiGHS: %s, objective %.6g, bound %.6g, gap %.3g, %.2f s, %d nodes",
              h.modelStatusToString(ms), objective, bound, gap, seconds, nodes)
    return MilpSolution(x=x, objective=objective, bound=bound, gap=gap, status=status,
                        seconds=seconds, nodes=nodes)
