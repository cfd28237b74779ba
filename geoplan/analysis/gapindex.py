"""Composite gap index per area: coverage, accessibility and standards in one explainable score.

Each component is a shortfall between 0 (no gap) and 1 (the worst possible):

``gap_uncovered``
    Share of the area's elderly outside the complete service circle (``1 - circle_share``).
``gap_access``
    Accessibility shortfall against a reference: ``max(0, 1 - A_area / A_ref)``, where
    ``A_area`` is the population-weighted mean 2SFCA/E2SFCA score of the area and
    ``A_ref`` the study area's mean (or a set level, e.g. the standard's places per 1,000
    elderly); averaged over the facility types scored.
``gap_standards``
    The mean shortfall share (``gap / required``) of the area's street over the
    street-level standards that could be checked.

The index is ``100 × Σ_k w_k c_k / Σ_k w_k`` over the components available for the area
(weights from the config), so a missing component (no street, no standards data) does not
count as zero gap; ``gap_components`` says which were used. Each component's weighted
contribution is kept next to the index, so a planner can explain a rank.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["COMPONENTS", "access_shortfall", "gap_index"]

COMPONENTS = ("uncovered", "access", "standards")


def access_shortfall(access: np.ndarray, reference: float) -> np.ndarray:
    """``max(0, 1 - access / reference)``; NaN where ``access`` is NaN.

    Parameters
    ----------
    access : numpy.ndarray
        Accessibility per area.
    reference : float
        The level that counts as no shortfall (> 0).
    """
    if not reference > 0:
        raise ValueError("the accessibility reference must be positive")
    a = np.asarray(access, dtype=np.float64)
    return np.clip(1.0 - a / reference, 0.0, 1.0)


def gap_index(components: Mapping[str, np.ndarray], weights: Mapping[str, float],
              elderly: np.ndarray) -> pd.DataFrame:
    """Combine component shortfalls into the composite index and its rank.

    Parameters
    ----------
    components : mapping of str to numpy.ndarray
        Shortfall per area for some of :data:`COMPONENTS` (values in [0, 1], NaN where the
        component is not available for the area).
    weights : mapping of str to float
        Non-negative weight per component; components with weight 0 are left out.
    elderly : numpy.ndarray
        Elderly per area; areas without elderly get no index (NaN) and rank last; ties are
        broken by more elderly first.

    Returns
    -------
    pandas.DataFrame
        ``gap_<component>`` for each component given, ``contrib_<component>`` (its share of
        the index, in index points), ``gap_components`` (the components used, e.g.
        ``"uncovered+access"``), ``gap_index`` (0–100, higher = worse) and
        ``gap_index_rank`` (1 = worst).

    Examples
    --------
    >>> out = gap_index({"uncovered": np.array([0.5, 0.1]), "access": np.array([1.0, 0.0])},
    ...                 {"uncovered": 0.5, "access": 0.5}, np.array([100.0, 100.0]))
    >>> out["gap_index"].tolist()
    [75.0, 5.0]
    """
    names = [k for k in COMPONENTS if k in components and weights.get(k, 0) > 0]
    unknown = sorted(set(components) - set(COMPONENTS))
    if unknown:
        raise ValueError(f"unknown gap component '{unknown[0]}'")
    n = len(elderly)
    if not names:
        raise ValueError("no gap component has a positive weight")
    vals = np.column_stack([np.asarray(components[k], dtype=np.float64) for k in names])
    w = np.array([float(weights[k]) for k in names])
    avail = np.isfinite(vals)
    wsum = (avail * w).sum(axis=1)
    contrib = np.where(avail, vals * w, 0.0)
    has = (wsum > 0) & (np.asarray(elderly) > 0)
    scale = np.divide(100.0, wsum, out=np.zeros(n), where=has)
    out = pd.DataFrame({f"gap_{k}": vals[:, i] for i, k in enumerate(names)})
    for i, k in enumerate(names):
        out[f"contrib_{k}"] = np.where(has & avail[:, i], contrib[:, i] * scale, np.nan)
    labels = np.array(names, dtype=object)
    patterns, which = np.unique(avail, axis=0, return_inverse=True)
    text = np.array(["+".join(labels[p]) for p in patterns], dtype=object)  # few patterns
    out["gap_components"] = text[which.ravel()] if n else np.array([], dtype=object)
    index = np.where(has, contrib.sum(axis=1) * scale, np.nan)
    out["gap_index"] = index
    # rank: highest index first, more elderly first on ties, areas without index last
    order = np.lexsort((-np.asarray(elderly, dtype=np.float64),
                        -np.nan_to_num(index, nan=-1.0)))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    out["gap_index_rank"] = rank
    return out
