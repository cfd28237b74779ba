"""Independent check of every siting answer before it is reported.

Each model (MCLP, LSCP, p-median, capacitated MCLP, multi-type with the 1+N link) ends by
handing its chosen sites to this module. Here the objective is recomputed from the sites on
the *original* :class:`~geoplan.siting.problem.SitingProblem` (not the reduced matrices the
model solved), every rule is checked again (site count, budget, minimum spacing, coverage
target, capacities and flows, the 1+N link), and the bound is compared with the achieved
value. Only then is a status given:

``optimal``
    the recomputed objective meets the proven bound within the requested gap;
``time_limit``
    a limit stopped the search: a verified incumbent with its gap;
``no_solution``
    a limit stopped the search before any solution was found;
``unproven``
    the solver stopped, but its verified answer does not meet the bound within the gap;
``infeasible``
    no set of sites satisfies the rules (``info["limited_by"]`` names them and
    ``info["best_share"]`` gives the best achievable share);
``heuristic``
    a heuristic answer with its bound and gap;
``error``
    the solver failed.

A disagreement between a model's own figure and the recomputation is a defect in geoplan,
not in the user's input: :class:`VerificationError` is raised and nothing is reported.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp

from geoplan.errors import InputDataError
from geoplan.siting.highs import MilpSolution
from geoplan.siting.problem import SitingProblem
from geoplan.siting.result import SitingResult, relative_gap

#: Every status a :class:`~geoplan.siting.result.SitingResult` can carry.
SITING_STATUSES = ("optimal", "time_limit", "no_solution", "unproven", "infeasible",
                   "heuristic", "error")

#: Relative tolerance for comparing recomputed figures (sums of person weights).
REL_TOL = 1e-6


def check_solver_options(time_limit: float, mip_gap: float) -> None:
    """Reject a time limit or gap that no solve can honour, before any work.

    Raises
    ------
    InputDataError
        For a time limit that is not a positive finite number of seconds, or a relative
        gap outside [0, 1).
    """
    if isinstance(time_limit, bool) or not (isinstance(time_limit, numbers.Real) and
                                            math.isfinite(time_limit) and time_limit > 0):
        raise InputDataError(f"solver time limit {time_limit!r} s: give a positive number of "
                             "seconds (e.g. time_limit_s = 300 or --time-limit 300)")
    if isinstance(mip_gap, bool) or not (isinstance(mip_gap, numbers.Real) and
                                         math.isfinite(mip_gap) and 0 <= mip_gap < 1):
        raise InputDataError(f"optimality gap {mip_gap!r}: give a share in [0, 1), e.g. "
                             "mip_gap = 0.0001 for 0.01 %")


class VerificationError(RuntimeError):
    """A model's answer failed its independent check (a defect; the answer is withheld)."""


def _tol(value: float) -> float:
    return REL_TOL * max(1.0, abs(value))


def covered_mask(problem: SitingProblem, selected: np.ndarray, cutoff: float) -> np.ndarray:
    """Demand points reached within ``cutoff`` by an existing facility or a selected site.

    Parameters
    ----------
    problem : SitingProblem
        Demand, candidate and existing time matrices (minutes).
    selected : ndarray of int (k,)
        Candidate positions.
    cutoff : float
        Catchment in minutes (stored times ``<= cutoff`` count, explicit zeros included).

    Returns
    -------
    ndarray of bool (n_demand,)
    """
    out = np.zeros(problem.n_demand, dtype=bool)
    for m in (problem.existing_times, problem.times[np.asarray(selected, dtype=np.int64)]):
        m = sp.csr_matrix(m)
        out[m.indices[m.data <= cutoff + 1e-9]] = True
    return out


def rule_violations(problem: SitingProblem, selected: np.ndarray, *,
                    max_sites: int | None = None, exact_sites: int | None = None,
                    budget: float | None = None, conflicts: np.ndarray | None = None,
                    forbidden: np.ndarray | None = None) -> list[str]:
    """The rules a set of new sites breaks (empty when it keeps them all).

    Parameters
    ----------
    problem : SitingProblem
    selected : ndarray of int (k,)
        Candidate positions.
    max_sites, exact_sites : int, optional
        At most / exactly this many sites.
    budget : float, optional
        Upper limit on the summed ``problem.candidate_cost``.
    conflicts : ndarray (k, 2), optional
        Candidate pairs that may not both be chosen (minimum spacing).
    forbidden : ndarray of bool (n_candidates,), optional
        Candidates that may not be chosen.

    Returns
    -------
    list of str
    """
    sel = np.asarray(selected, dtype=np.int64)
    out: list[str] = []
    if len(sel) and (sel.min() < 0 or sel.max() >= problem.n_candidates):
        return [f"site positions outside 0..{problem.n_candidates - 1}"]
    if len(np.unique(sel)) != len(sel):
        out.append("a site is chosen twice")
    if max_sites is not None and len(sel) > max_sites:
        out.append(f"{len(sel)} sites where at most {max_sites} are allowed")
    if exact_sites is not None and len(sel) != exact_sites:
        out.append(f"{len(sel)} sites where exactly {exact_sites} are required")
    if budget is not None and problem.candidate_cost is not None:
        spent = float(problem.candidate_cost[sel].sum())
        if spent > budget + _tol(budget):
            out.append(f"cost {spent:,.2f} above the budget {budget:,.2f}")
    if conflicts is not None and len(conflicts):
        chosen = np.zeros(problem.n_candidates, dtype=bool)
        chosen[sel] = True
        pairs = np.asarray(conflicts, dtype=np.int64)
        both = chosen[pairs[:, 0]] & chosen[pairs[:, 1]]
        if both.any():
            out.append(f"{int(both.sum())} pairs of sites closer than the minimum spacing")
    if forbidden is not None and np.asarray(forbidden, dtype=bool)[sel].any():
        out.append("a site that the rules exclude is chosen")
    return out


def check_coverage(problem: SitingProblem, selected: np.ndarray, cutoff: float
                   ) -> tuple[float, float]:
    """Recompute ``(covered_total, covered_by_existing)`` in persons for a set of sites."""
    w = problem.weights
    base = float(w[covered_mask(problem, np.zeros(0, dtype=np.int64), cutoff)].sum())
    return float(w[covered_mask(problem, selected, cutoff)].sum()), base


def check_pmedian(problem: SitingProblem, selected: np.ndarray, penalty_min: float
                  ) -> float:
    """Recompute Σ w·t (persons × minutes) to the nearest open site, capped at the penalty."""
    d = np.full(problem.n_demand, float(penalty_min))
    for m in (problem.existing_times, problem.times[np.asarray(selected, dtype=np.int64)]):
        m = sp.csr_matrix(m)
        if m.nnz:
            np.minimum.at(d, m.indices, m.data)
    return float(np.dot(problem.weights, d))


def flow_violations(problem: SitingProblem, selected: np.ndarray, cutoff: float,
                    assignment: pd.DataFrame) -> tuple[list[str], float, float]:
    """Check the persons assigned to sites of a capacitated answer.

    Every flow must be non-negative, between a demand point and an open site within the
    cutoff; no point sends more than its weight and no site serves more than its capacity.

    Returns
    -------
    problems : list of str
    served_total, served_existing : float
        Persons served by all sites, and by existing facilities.
    """
    out: list[str] = []
    if assignment is None or not len(assignment):
        return out, 0.0, 0.0
    dem = assignment["demand"].to_numpy(np.int64)
    site = assignment["site"].to_numpy(np.int64)
    ex = assignment["existing"].to_numpy(bool)
    persons = assignment["persons"].to_numpy(np.float64)
    if (persons < -1e-9).any():
        out.append("a negative flow")
    sel = np.asarray(selected, dtype=np.int64)
    if (~ex).any() and not np.isin(site[~ex], sel).all():
        out.append("persons assigned to a site that is not opened")
    t = np.full(len(dem), np.inf)
    for flag, mat in ((False, problem.times), (True, problem.existing_times)):
        k = ex == flag
        if k.any():
            t[k] = np.asarray(sp.csr_matrix(mat)[site[k], dem[k]]).ravel()
            stored = np.asarray(sp.csr_matrix(mat).astype(bool)[site[k], dem[k]]).ravel()
            t[np.flatnonzero(k)[~stored]] = np.inf
    far = (t > cutoff + 1e-9) & (persons > 1e-9)
    if far.any():
        out.append(f"{int(far.sum())} flows beyond the {cutoff:g}-min catchment")
    sent = np.bincount(dem, weights=persons, minlength=problem.n_demand)
    over = sent - problem.weights
    if (over > 1e-6 * np.maximum(1.0, problem.weights)).any():
        out.append("a demand point serves more persons than live there")
    for flag, cap in ((False, problem.candidate_capacity), (True, problem.existing_capacity)):
        k = ex == flag
        if k.any() and cap is not None:
            load = np.bincount(site[k], weights=persons[k], minlength=len(cap))
            if (load - cap > 1e-6 * np.maximum(1.0, cap)).any():
                out.append("a site serves more persons than its capacity")
    return out, float(persons.sum()), float(persons[ex].sum())


def finalise(result: SitingResult, *, recomputed: float, maximise: bool, mip_gap: float,
             violations: list[str]) -> SitingResult:
    """Reconcile a model's answer with its independent recomputation.

    Parameters
    ----------
    result : SitingResult
        The model's answer (objective, bound, status as the model saw them).
    recomputed : float
        The objective recomputed from the sites on the original problem.
    maximise : bool
        Sense of the objective.
    mip_gap : float
        The relative gap requested: "optimal" only when the answer meets the bound within it.
    violations : list of str
        Rules the answer breaks (from :func:`rule_violations`, :func:`flow_violations` ...).

    Returns
    -------
    SitingResult
        The same object, with the verified objective, a bound that is never on the wrong
        side of it, the recomputed gap and an honest status; ``info["verified"]`` is True.

    Raises
    ------
    VerificationError
        When the answer breaks a rule, its objective differs from the recomputation, or its
        bound is on the wrong side of the achieved value (each a defect in geoplan).
    """
    what = f"{result.model} ({result.method})"
    if violations:
        raise VerificationError(f"{what}: the answer breaks {'; '.join(violations)}; "
                                "it is withheld (please report this defect)")
    obj = float(result.objective)
    if not math.isfinite(recomputed) or abs(recomputed - obj) > _tol(recomputed):
        raise VerificationError(f"{what}: objective {obj:.9g} but the sites give "
                                f"{recomputed:.9g}; the answer is withheld (please report "
                                "this defect)")
    result.objective = recomputed
    bound = result.bound
    if bound is not None and not math.isfinite(bound):
        bound = None
    if bound is not None:
        wrong = bound < recomputed if maximise else bound > recomputed
        if wrong and abs(bound - recomputed) > _tol(recomputed):
            raise VerificationError(
                f"{what}: the bound {bound:.9g} is {'below' if maximise else 'above'} the "
                f"achieved {recomputed:.9g}; the answer is withheld (please report this "
                "defect)")
        if wrong:
            bound = recomputed
    result.bound = bound
    result.gap = relative_gap(recomputed, bound, maximise)
    if result.status == "optimal":
        if bound is None:
            result.status = "unproven"
            result.warnings.append("the solver stopped without a proven bound: the answer is "
                                   "not proven optimal")
        elif abs(bound - recomputed) > (mip_gap * max(abs(bound), abs(recomputed))
                                        + _tol(recomputed) * 1e-3):
            result.status = "unproven"
            result.warnings.append(
                "the solver stopped, but its answer does not meet the proven bound within "
                f"the requested gap ({100 * (result.gap or 0):.3f} % > "
                f"{100 * mip_gap:.3f} %): not proven optimal")
    result.info["verified"] = True
    return result


def milp_status(sol: MilpSolution, warnings: list[str], time_limit: float) -> str:
    """A model's status after its MILP, with a warning for anything short of optimal.

    The model always holds a verified incumbent (its heuristic answer) besides the MILP's,
    so a limit without a MILP solution still reports that incumbent with its gap.
    """
    if sol.status == "optimal":
        return "optimal"
    if sol.status in ("time_limit", "no_solution"):
        if math.isfinite(sol.bound):
            warnings.append(f"solver time limit ({time_limit:g} s) reached: the best verified "
                            "solution is returned with its gap")
        else:
            warnings.append(f"solver time limit ({time_limit:g} s) reached before any bound "
                            "was proven: the best verified solution is returned without a gap")
        return "time_limit"
    if sol.status == "unproven":
        return "unproven"
    warnings.append(f"the MILP solver ended with status '{sol.status}'; the heuristic "
                    "answer is reported with its bound")
    return "heuristic"
