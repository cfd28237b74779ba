"""Coverage and gaps: who reaches which service within which time, per area.

All metrics are weighted by the elderly (60+ and 80+) carried by demand points, and
computed for any grouping (areas, streets, the whole study area) by the same vectorised
code, so that roll-ups agree with the area table by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def _fmt(m: float) -> str:
    return f"{m:g}"


def weighted_quantile_by_group(group: np.ndarray, values: np.ndarray, weights: np.ndarray,
                               n_groups: int, q: float) -> np.ndarray:
    """Weighted ``q``-quantile of ``values`` per group (lower quantile; NaN if no weight).

    Values may be ``inf`` (beyond the search cutoff); a quantile that falls on ``inf``
    is returned as ``inf``.
    """
    out = np.full(n_groups, np.nan)
    if len(values) == 0:
        return out
    order = np.lexsort((values, group))
    g, v, w = group[order], values[order], weights[order]
    cum = np.cumsum(w)
    total = np.bincount(g, weights=w, minlength=n_groups)
    starts = np.searchsorted(g, np.arange(n_groups), side="left")
    ends = np.searchsorted(g, np.arange(n_groups), side="right")
    before = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    target = before + q * total
    # tolerance so that an exact share boundary does not skip to the next point
    idx = np.searchsorted(cum, target - 1e-9 * np.maximum(total, 1.0), side="left")
    idx = np.clip(idx, starts, np.maximum(ends - 1, starts))
    ok = (total > 0) & (ends > starts)
    out[ok] = v[idx[ok]]
    return out


def coverage_metrics(group: np.ndarray, n_groups: int, w60: np.ndarray, w80: np.ndarray,
                     times_min: Mapping[str, np.ndarray], thresholds_min: Sequence[float],
                     circle_min: float, required: Sequence[str],
                     slow80: float = 1.0) -> pd.DataFrame:
    """Coverage metrics of demand points grouped into ``n_groups`` groups.

    Parameters
    ----------
    group : ndarray of int
        Group position (0..n_groups-1) of each demand point.
    n_groups : int
        Number of groups; groups without points get zero population and NaN shares.
    w60, w80 : ndarray of float
        Elderly 60+ and 80+ at each point.
    times_min : mapping of str to ndarray
        Per facility type, minutes from each point to the nearest facility of that type
        (``inf`` beyond the search cutoff).
    thresholds_min : sequence of float
        Catchment thresholds, minutes.
    circle_min : float
        The service-circle time (usually 15).
    required : sequence of str
        Types a complete circle needs.
    slow80 : float, default 1
        How much longer the 80+ take for the same walk: the 60+ speed over the 80+ speed
        (>= 1). Every 80+ figure uses ``times_min × slow80``: one reach pass at the 60+
        speed serves both age bands, because every walking time (edges, steps, the walk
        from home to the street) scales with the speed.

    Returns
    -------
    DataFrame
        One row per group: ``elderly_60``, ``elderly_80``, per type ``T_share_M``,
        ``T_share80_M``, ``T_median_min``, ``T_p90_min``, ``T_uncovered_60``; then
        ``circle_share``, ``circle_share80``, ``uncovered_60``, ``uncovered_80``.
        Shares are NaN where a group has no elderly (nothing to divide by).
    """
    group = np.asarray(group, dtype=np.int64)
    tot60 = np.bincount(group, weights=w60, minlength=n_groups)
    tot80 = np.bincount(group, weights=w80, minlength=n_groups)
    cols: dict[str, np.ndarray] = {"elderly_60": tot60, "elderly_80": tot80}
    with np.errstate(invalid="ignore", divide="ignore"):
        def share(mask: np.ndarray, w: np.ndarray, tot: np.ndarray) -> np.ndarray:
            s = np.bincount(group, weights=w * mask, minlength=n_groups) / tot
            return np.where(tot > 0, s, np.nan)

        for t, tm in times_min.items():
            for m in thresholds_min:
                cols[f"{t}_share_{_fmt(m)}"] = share(tm <= m, w60, tot60)
            for m in thresholds_min:
                cols[f"{t}_share80_{_fmt(m)}"] = share(tm * slow80 <= m, w80, tot80)
            for q, name in ((0.5, "median"), (0.9, "p90")):
                qv = weighted_quantile_by_group(group, tm, w60, n_groups, q)
                cols[f"{t}_{name}_min"] = np.where(np.isfinite(qv), qv, np.nan)
            cols[f"{t}_uncovered_60"] = np.bincount(group, weights=w60 * (tm > circle_min),
                                                    minlength=n_groups)
        complete = circle_complete(times_min, required, circle_min)
        complete80 = circle_complete(times_min, required, circle_min / slow80)
        cols["circle_share"] = share(complete, w60, tot60)
        cols["circle_share80"] = share(complete80, w80, tot80)
    cols["uncovered_60"] = np.bincount(group, weights=w60 * ~complete, minlength=n_groups)
    cols["uncovered_80"] = np.bincount(group, weights=w80 * ~complete80, minlength=n_groups)
    return pd.DataFrame(cols)


def circle_complete(times_min: Mapping[str, np.ndarray], required: Sequence[str],
                    within_min: float) -> np.ndarray:
    """Demand points that reach every required type within ``within_min`` minutes.

    Parameters
    ----------
    times_min : mapping of str to ndarray (n_points,)
        Minutes to the nearest facility of each type (at the 60+ speed).
    required : sequence of str
    within_min : float
        Minutes at the same speed (divide the circle time by a slow-down factor to ask
        the question for a slower walker).

    Returns
    -------
    ndarray of bool (n_points,)
    """
    n = len(next(iter(times_min.values()))) if times_min else 0
    complete = np.ones(n, dtype=bool)
    for t in required:
        complete &= times_min[t] <= within_min
    return complete


def speed_sensitivity(times_min: Mapping[str, np.ndarray], required: Sequence[str],
                      circle_min: float, w60: np.ndarray, factors: Mapping[str, float]
                      ) -> dict[str, float]:
    """Circle share of the 60+ at other walking speeds, from the same walking times.

    Parameters
    ----------
    times_min, required, circle_min
        As for :func:`coverage_metrics` (times at the configured 60+ speed).
    w60 : ndarray (n_points,)
        Persons aged 60+ per point.
    factors : mapping of str to float
        Name -> speed relative to the configured one (0.8 = 20 % slower).

    Returns
    -------
    dict of str to float
        ``circle_share_<name>`` per factor: at speed × f the same walk takes times / f,
        so the circle is complete where times <= circle × f.
    """
    total = float(w60.sum())
    out = {}
    for name, f in factors.items():
        ok = circle_complete(times_min, required, circle_min * f)
        out[f"circle_share_{name}"] = float(w60[ok].sum() / total) if total > 0 else np.nan
    return out


def gap_rank(table: pd.DataFrame) -> pd.Series:
    """Rank areas by the gap: most elderly outside the complete circle first.

    Ties are broken by the lower circle share, then by ``area_id``. Areas without
    elderly are not ranked (``<NA>``).
    """
    populated = table["elderly_60"].to_numpy() > 0
    order = np.lexsort((table["area_id"].astype(str).to_numpy(),
                        np.nan_to_num(table["circle_share"].to_numpy(), nan=1.0),
                        -table["uncovered_60"].to_numpy()))
    order = order[populated[order]]
    rank = pd.Series(pd.NA, index=table.index, dtype="Int64")
    rank.iloc[order] = np.arange(1, len(order) + 1)
    return rank


def score_areas(areas: pd.DataFrame, demand_area: np.ndarray, w60: np.ndarray, w80: np.ndarray,
                times_min: Mapping[str, np.ndarray], thresholds_min: Sequence[float],
                circle_min: float, required: Sequence[str],
                slow80: float = 1.0) -> pd.DataFrame:
    """Area table: the area's identity columns, its metrics and its gap rank.

    ``demand_area`` is each demand point's position in ``areas``. Elderly totals are
    recomputed from the demand points (so they equal the sum of what was analysed).
    """
    metrics = coverage_metrics(demand_area, len(areas), w60, w80, times_min, thresholds_min,
                               circle_min, required, slow80)
    ident = areas.drop(columns=[c for c in ("elderly_60", "elderly_80") if c in areas])
    out = pd.concat([ident.reset_index(drop=True), metrics], axis=1)
    out["n_demand_points"] = np.bincount(demand_area, minlength=len(areas))
    out["gap_rank"] = gap_rank(out)
    return out


def rollup(keys: pd.DataFrame, demand_area: np.ndarray, w60: np.ndarray, w80: np.ndarray,
           times_min: Mapping[str, np.ndarray], thresholds_min: Sequence[float],
           circle_min: float, required: Sequence[str], slow80: float = 1.0) -> pd.DataFrame:
    """Metrics for groups of areas (e.g. streets), from the demand points themselves.

    Parameters
    ----------
    keys : DataFrame
        One row per area (aligned with ``demand_area`` positions) holding the grouping
        columns, e.g. ``street_code`` and ``street_name``. Rows with an empty first key
        are grouped as ''.
    """
    key_cols = list(keys.columns)
    uniq = keys.drop_duplicates().sort_values(key_cols).reset_index(drop=True)
    lookup = keys.merge(uniq.reset_index(), on=key_cols, how="left")["index"].to_numpy()
    g = lookup[demand_area]
    metrics = coverage_metrics(g, len(uniq), w60, w80, times_min, thresholds_min, circle_min,
                               required, slow80)
    out = pd.concat([uniq, metrics], axis=1)
    out["n_areas"] = np.bincount(lookup, minlength=len(uniq))
    return out
