"""Coverage metrics, checked against direct per-group computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoplan.analysis.coverage import coverage_metrics, gap_rank, weighted_quantile_by_group


def _brute_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    if cum[-1] <= 0:
        return np.nan
    return float(v[np.searchsorted(cum, q * cum[-1] - 1e-9 * max(cum[-1], 1), side="left")])


def test_weighted_quantile_matches_bruteforce() -> None:
    rng = np.random.default_rng(1)
    n, g = 2000, 37
    group = rng.integers(0, g, n)
    values = rng.exponential(10, n)
    values[rng.random(n) < 0.05] = np.inf
    weights = rng.random(n) * 10
    for q in (0.5, 0.9):
        got = weighted_quantile_by_group(group, values, weights, g + 2, q)
        for k in range(g):
            sel = group == k
            assert got[k] == _brute_quantile(values[sel], weights[sel], q)
        assert np.isnan(got[g]) and np.isnan(got[g + 1])  # empty groups


def test_hand_example() -> None:
    # Area 0: 100 people at 3 min, 50 at 12 min, 50 at 20 min. Area 1: 10 at 4 min.
    # Area 2: no demand points.
    group = np.array([0, 0, 0, 1])
    w60 = np.array([100.0, 50.0, 50.0, 10.0])
    w80 = np.array([10.0, 0.0, 10.0, 5.0])
    times = {"canteen": np.array([3.0, 12.0, 20.0, 4.0]),
             "day_care": np.array([14.0, np.inf, 2.0, 16.0])}
    m = coverage_metrics(group, 3, w60, w80, times, [5, 10, 15], 15, ["canteen", "day_care"])
    assert m.loc[0, "canteen_share_5"] == pytest.approx(0.5)
    assert m.loc[0, "canteen_share_15"] == pytest.approx(0.75)
    assert m.loc[0, "canteen_share80_15"] == pytest.approx(0.5)
    assert m.loc[0, "canteen_median_min"] == 3.0  # 100 of 200 at 3 min: lower median
    assert m.loc[0, "canteen_p90_min"] == 20.0
    assert np.isnan(m.loc[0, "day_care_p90_min"])  # beyond the search cutoff
    assert m.loc[0, "canteen_uncovered_60"] == 50
    # complete circle: only the first point (3 and 14 min)
    assert m.loc[0, "circle_share"] == pytest.approx(0.5)
    assert m.loc[0, "uncovered_60"] == 100
    assert m.loc[1, "circle_share"] == 0.0
    assert m.loc[2, "elderly_60"] == 0 and np.isnan(m.loc[2, "circle_share"])


def test_gap_rank_orders_by_uncovered_and_skips_empty() -> None:
    t = pd.DataFrame({"area_id": ["a", "b", "c", "d"], "elderly_60": [10.0, 50.0, 0.0, 50.0],
                      "uncovered_60": [5.0, 20.0, 0.0, 20.0],
                      "circle_share": [0.5, 0.6, np.nan, 0.6]})
    r = gap_rank(t)
    assert r.tolist() == [3, 1, pd.NA, 2]
