"""What a location model returns: sites in order of added value, objective, bound, gap."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class SitingResult:
    """The answer of a location model.

    Attributes
    ----------
    model : str
        ``"mclp"``, ``"lscp"``, ``"pmedian"``, ``"cmclp"`` or ``"multi"``.
    method : str
        ``"exact"`` (HiGHS MILP) or ``"heuristic"``.
    selected : ndarray of int64
        Positions of the chosen candidates, in the order in which they add value
        (greedy order within the chosen set).
    marginal : ndarray of float64
        What each selected site adds, in that order (weight covered for coverage models,
        weighted minutes saved for p-median).
    objective : float
        Objective value of the solution (covered weight, number of sites, total weighted
        minutes, …; see ``objective_name``).
    bound : float or None
        Best proven bound on the optimum (upper for maximisation, lower for minimisation).
    gap : float or None
        Relative gap between ``objective`` and ``bound`` (0 = proven optimal).
    status : str
        ``"optimal"``, ``"time_limit"`` (best solution found, gap stated), ``"heuristic"``.
    seconds : float
        Wall time to build and solve.
    info : dict
        Extra figures (sizes after reduction, iterations, solver log lines, warnings).
    assignment : DataFrame or None
        For capacitated models: demand position, site position (``existing`` flag), persons.
    """

    model: str
    method: str
    selected: np.ndarray
    marginal: np.ndarray
    objective: float
    objective_name: str
    bound: float | None
    gap: float | None
    status: str
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    assignment: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def proven_optimal(self) -> bool:
        """True when the solver proved optimality (within its gap tolerance)."""
        return self.status == "optimal"

    def summary(self) -> str:
        """One line for the log."""
        gap = "n/a" if self.gap is None else f"{100 * self.gap:.3f} %"
        bound = "n/a" if self.bound is None else f"{self.bound:,.1f}"
        return (f"{self.model} ({self.method}): {len(self.selected)} sites, "
                f"{self.objective_name} {self.objective:,.1f}, bound {bound}, gap {gap}, "
                f"{self.status}, {self.seconds:.2f} s")


def relative_gap(objective: float, bound: float | None, maximise: bool) -> float | None:
    """Relative gap ``|bound - objective| / max(|bound|, tiny)``, 0 when they meet."""
    if bound is None or not np.isfinite(bound):
        return None
    diff = (bound - objective) if maximise else (objective - bound)
    diff = max(diff, 0.0)
    return float(diff / max(abs(bound), 1e-9)) if diff > 1e-9 * max(1.0, abs(bound)) else 0.0
