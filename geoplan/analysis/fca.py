"""Capacity-aware accessibility: two-step floating catchment area (2SFCA, E2SFCA).

For facility ``j`` with supply ``S_j`` (beds, seats, places) and demand points ``i`` with
``P_i`` elderly, travel time ``t_ij`` and a distance-decay weight ``W(t)`` (zero beyond the
catchment ``t0``):

* step 1, each facility's supply per person in its catchment:
  ``R_j = S_j / Σ_i P_i W(t_ij)``;
* step 2, each demand point's accessibility: ``A_i = Σ_j R_j W(t_ij)``.

2SFCA (Luo & Wang 2003) uses ``W = 1`` inside the catchment; E2SFCA (Luo & Qi 2009) uses
stepped weights per travel-time zone or a Gaussian. The definitions and the decay functions
are those of PySAL's ``access`` package (``two_stage_fca``, ``weights.step_fn``,
``weights.gaussian``), and the tests check the numbers against it. This module computes them
with two sparse matrix–vector products over the reach engine's CSR times instead of
``access``'s pandas joins and per-row ``apply`` (see ``scripts/bench_fca.py``).

Σ_i P_i A_i equals the supply of the facilities that reach any demand, so population-weighted
means of ``A_i`` (:func:`weighted_mean_by_group`) are comparable with the overall ratio
supply / elderly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Decay", "FCAResult", "floating_catchment", "weighted_mean_by_group"]

#: Luo & Qi's (2009) E2SFCA zone weights for three equal travel-time zones.
LUO_QI_WEIGHTS = (1.0, 0.68, 0.22)


@dataclass(frozen=True)
class Decay:
    """Distance-decay weight of travel time (minutes).

    Attributes
    ----------
    kind : {"none", "step", "gaussian"}
        ``none``: 1 everywhere (2SFCA); ``step``: the weight of the first break at or above
        the time (0 beyond the last), as ``access.weights.step_fn``; ``gaussian``:
        ``exp(-t² / (2 σ²))``, as ``access.weights.gaussian``.
    breaks : tuple of float
        Upper ends of the step zones, increasing (``step`` only).
    weights : tuple of float
        Weight of each zone (``step`` only).
    sigma : float
        Width σ in minutes (``gaussian`` only).
    """

    kind: str = "none"
    breaks: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()
    sigma: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("none", "step", "gaussian"):
            raise ValueError(f"decay kind '{self.kind}': use none, step or gaussian")
        if self.kind == "step":
            b = np.asarray(self.breaks, dtype=float)
            if len(b) == 0 or len(b) != len(self.weights) or np.any(np.diff(b) <= 0):
                raise ValueError("step decay needs increasing breaks and one weight each")
            if min(self.weights) < 0:
                raise ValueError("step decay weights must not be negative")
        if self.kind == "gaussian" and not self.sigma > 0:
            raise ValueError("gaussian decay needs sigma > 0 (minutes)")

    @classmethod
    def luo_qi(cls, catchment_min: float) -> Decay:
        """Three equal zones up to ``catchment_min`` with weights 1, 0.68, 0.22."""
        c = float(catchment_min)
        return cls("step", (c / 3, 2 * c / 3, c), LUO_QI_WEIGHTS)

    def __call__(self, minutes: np.ndarray) -> np.ndarray:
        """Weights of an array of travel times."""
        t = np.asarray(minutes, dtype=np.float64)
        if self.kind == "none":
            return np.ones_like(t)
        if self.kind == "gaussian":
            return np.exp(-t * t / (2.0 * self.sigma ** 2))
        zone = np.searchsorted(np.asarray(self.breaks), t, side="left")
        w = np.append(np.asarray(self.weights, dtype=np.float64), 0.0)
        return w[zone]

    def describe(self) -> str:
        """Short text for tables and the manifest."""
        if self.kind == "none":
            return "none (2SFCA)"
        if self.kind == "gaussian":
            return f"gaussian sigma={self.sigma:g} min"
        zones = ", ".join(f"<={b:g} min: {w:g}" for b, w in zip(self.breaks, self.weights,
                                                                 strict=True))
        return f"step ({zones})"

    def describe_zh(self) -> str:
        """:meth:`describe` in Chinese (reports in ``lang = "zh"``)."""
        if self.kind == "none":
            return "无（2SFCA）"
        if self.kind == "gaussian":
            return f"高斯函数，σ = {self.sigma:g}分钟"
        zones = "，".join(f"≤{b:g}分钟：{w:g}" for b, w in zip(self.breaks, self.weights,
                                                             strict=True))
        return f"分段（{zones}）"


@dataclass
class FCAResult:
    """Accessibility per demand point and the supply ratio per facility.

    Attributes
    ----------
    access : numpy.ndarray
        ``A_i`` per demand point, supply per person times ``per`` (0 where no facility is
        within the catchment).
    ratio : numpy.ndarray
        ``R_j`` per facility, supply per weighted person times ``per`` (0 where no demand
        is in the catchment).
    catchment_demand : numpy.ndarray
        ``Σ_i P_i W(t_ij)`` per facility.
    reached : numpy.ndarray of bool
        Per demand point: at least one facility within the catchment.
    """

    access: np.ndarray
    ratio: np.ndarray
    catchment_demand: np.ndarray
    reached: np.ndarray


def floating_catchment(times: sp.csr_matrix | sp.csr_array, supply: np.ndarray,
                       demand: np.ndarray, catchment_min: float, decay: Decay | None = None,
                       *, per: float = 1.0) -> FCAResult:
    """Two-step floating catchment accessibility (2SFCA, or E2SFCA with a decay).

    Parameters
    ----------
    times : scipy.sparse.csr_matrix
        Facility × demand travel times in minutes, as from the reach engine (stored entries
        are the reachable pairs; explicit zeros are zero times).
    supply : numpy.ndarray
        Capacity of each facility (non-negative, finite).
    demand : numpy.ndarray
        Elderly at each demand point (non-negative).
    catchment_min : float
        Catchment ``t0``: pairs with a time above it do not count.
    decay : Decay, optional
        Distance decay; default none (classic 2SFCA).
    per : float, default 1.0
        Scale of the results, e.g. 1000 for places per 1,000 elderly.

    Returns
    -------
    FCAResult

    Examples
    --------
    One facility with 10 places, two demand points of 10 and 30 people within reach:
    everyone gets 10 / 40 = 0.25 places per person.

    >>> import scipy.sparse as sp
    >>> t = sp.csr_matrix(np.array([[5.0, 12.0]]))
    >>> floating_catchment(t, np.array([10.0]), np.array([10.0, 30.0]), 15).access
    array([0.25, 0.25])
    """
    decay = decay or Decay()
    t = sp.csr_matrix(times)
    supply = np.asarray(supply, dtype=np.float64)
    demand = np.asarray(demand, dtype=np.float64)
    if t.shape != (len(supply), len(demand)):
        raise ValueError(f"times has shape {t.shape}, expected ({len(supply)}, {len(demand)})")
    if not (np.all(np.isfinite(supply)) and np.all(supply >= 0)):
        raise ValueError("supply must be finite and non-negative")
    if not (np.all(np.isfinite(demand)) and np.all(demand >= 0)):
        raise ValueError("demand must be finite and non-negative")
    keep = t.data <= catchment_min + 1e-9
    rows = np.repeat(np.arange(t.shape[0]), np.diff(t.indptr))[keep]
    cols = t.indices[keep]
    w = decay(t.data[keep])
    wm = sp.csr_matrix((w, (rows, cols)), shape=t.shape)
    catch = wm @ demand
    ratio = np.divide(supply, catch, out=np.zeros_like(supply), where=catch > 0) * per
    access = wm.T @ ratio
    reached = np.zeros(len(demand), dtype=bool)
    reached[cols[w > 0]] = True
    return FCAResult(access=np.asarray(access), ratio=ratio, catchment_demand=catch,
                     reached=reached)


def weighted_mean_by_group(group: np.ndarray, values: np.ndarray, weights: np.ndarray,
                           n_groups: int) -> np.ndarray:
    """Weighted mean of ``values`` per group (NaN where a group has no weight).

    Parameters
    ----------
    group : numpy.ndarray of int
        Group index (0 … n_groups-1) of each item; negative = in no group.
    values, weights : numpy.ndarray
        Values and their weights (e.g. accessibility and elderly per demand point).
    n_groups : int
        Number of groups.
    """
    g = np.asarray(group)
    ok = g >= 0
    wsum = np.bincount(g[ok], weights=weights[ok], minlength=n_groups)
    vsum = np.bincount(g[ok], weights=(weights * values)[ok], minlength=n_groups)
    return np.divide(vsum, wsum, out=np.full(n_groups, np.nan), where=wsum > 0)
