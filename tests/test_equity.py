"""Equity siting (area floors, maximin, weighted MCLP) against brute force; Gini index."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from geoplan.errors import InputDataError
from geoplan.siting.equity import (
    AreaFloors,
    Maximin,
    area_shares,
    equity_weights,
    weighted_gini,
    weighted_mclp,
)
from tests import exact_reference as ref

SEEDS = range(10)


def _instance(seed: int, n: int = 36, m: int = 9, k: int = 1, n_areas: int = 5):
    rng = np.random.default_rng(900 + seed)
    prob = ref.random_problem(rng, n, m, k, search=14.0)
    area = rng.integers(0, n_areas, n)
    area[rng.random(n) < 0.05] = -1  # a few points in no area
    return prob, area, n_areas


def _shares(prob, area, n_areas, cov):
    w = prob.weights
    ok = area >= 0
    tot = np.bincount(area[ok], weights=w[ok], minlength=n_areas)
    got = np.bincount(area[ok & cov], weights=w[ok & cov], minlength=n_areas)
    return np.where(tot > 0, got / np.where(tot > 0, tot, 1), np.nan), tot


def _changeable(prob, area, n_areas, cutoff=10):
    """Areas with older residents whose share some candidate can raise."""
    cand, ex = ref.covered_by(prob, cutoff)
    base, tot = _shares(prob, area, n_areas, ex)
    every, _ = _shares(prob, area, n_areas, ex | cand.any(axis=0))
    return (tot > 0) & (every > base + 1e-12)


def _brute(prob, area, n_areas, cutoff, sizes):
    cand, ex = ref.covered_by(prob, cutoff)
    for k in sizes:
        for s in itertools.combinations(range(len(cand)), k):
            cov = ex | cand[list(s)].any(axis=0) if s else ex
            yield s, cov


@pytest.mark.parametrize("seed", SEEDS)
def test_area_floors_equal_brute_force(seed: int) -> None:
    prob, area, n_areas = _instance(seed)
    floor = [0.5, 0.7, 0.9][seed % 3]
    cand, ex = ref.covered_by(prob, 10)
    every = ex | cand.any(axis=0)
    best, tot = _shares(prob, area, n_areas, every)
    liftable = (tot > 0) & (best >= floor - 1e-12)
    want = None
    for s, cov in _brute(prob, area, n_areas, 10, range(prob.n_candidates + 1)):
        sh, _ = _shares(prob, area, n_areas, cov)
        if (sh[liftable] >= floor - 1e-9).all():
            want = len(s)
            break
    res = AreaFloors(prob, area, n_areas, floor, 10).solve("exact")
    assert res.status == "optimal" and res.objective == want
    assert {a for a, _ in res.info["unliftable"]} == set(np.flatnonzero((tot > 0) & ~liftable))
    heur = AreaFloors(prob, area, n_areas, floor, 10).solve("heuristic")
    assert heur.objective >= want


@pytest.mark.parametrize("seed", SEEDS)
def test_maximin_equals_brute_force(seed: int) -> None:
    prob, area, n_areas = _instance(seed)
    p = 1 + seed % 3
    live = _changeable(prob, area, n_areas)
    best = (-1.0, -1.0)
    for _, cov in _brute(prob, area, n_areas, 10, range(p + 1)):
        sh, _ = _shares(prob, area, n_areas, cov)
        key = (float(np.min(sh[live])), float(prob.weights[cov].sum()))
        best = max(best, key)
    res = Maximin(prob, area, n_areas, p, 10).solve("exact")
    assert res.status == "optimal"
    assert res.objective == pytest.approx(best[0], abs=1e-9)
    assert res.info["covered_total"] == pytest.approx(best[1], abs=1e-6)
    heur = Maximin(prob, area, n_areas, p, 10).solve("heuristic")
    assert heur.objective <= best[0] + 1e-9
    assert heur.bound is None or heur.bound >= best[0] - 1e-9


@pytest.mark.parametrize("seed", SEEDS)
def test_weighted_mclp_equals_brute_force(seed: int) -> None:
    prob, area, n_areas = _instance(seed)
    lam = [0.0, 0.5, 3.0][seed % 3]
    p = 2
    wp = equity_weights(prob, area, n_areas, lam)
    _, ex = ref.covered_by(prob, 10)
    best = max(float(wp[cov & ~ex].sum())
               for _, cov in _brute(prob, area, n_areas, 10, range(p + 1)))
    res = weighted_mclp(prob, area, n_areas, p, 10, lam, method="exact", mip_gap=0.0)
    assert res.status == "optimal" and res.objective == pytest.approx(best, abs=1e-6)
    if lam == 0:
        assert res.objective == pytest.approx(ref.mclp(prob, p, 10), abs=1e-6)


def test_equity_weight_trades_total_for_the_worst_area() -> None:
    """More weight on equity never lowers the smallest area share it optimises for."""
    prob, area, n_areas = _instance(3, n=60, m=12, n_areas=6)
    plain = weighted_mclp(prob, area, n_areas, 2, 10, 0.0, method="exact", mip_gap=0.0)
    fair = weighted_mclp(prob, area, n_areas, 2, 10, 50.0, method="exact", mip_gap=0.0)
    assert fair.info["covered_total"] <= plain.info["covered_total"] + 1e-9
    shares_fair = np.nanmean(fair.info["area_shares"])
    shares_plain = np.nanmean(plain.info["area_shares"])
    assert shares_fair >= shares_plain - 1e-9


def test_weighted_gini_against_the_pairwise_definition() -> None:
    rng = np.random.default_rng(5)
    x, w = rng.random(30), rng.integers(1, 100, 30).astype(float)
    pair = np.abs(x[:, None] - x[None, :]) * w[:, None] * w[None, :]
    want = pair.sum() / (2 * w.sum() ** 2 * np.dot(w, x) / w.sum())
    assert weighted_gini(x, w) == pytest.approx(want, rel=1e-12)
    assert weighted_gini(np.full(5, 0.4), np.ones(5)) == 0.0
    assert weighted_gini(np.array([0.0, 0.0, 1.0]), np.ones(3)) == pytest.approx(2 / 3)
    # nobody covered anywhere: equal (0), not undefined; no weight at all: undefined
    assert weighted_gini(np.zeros(4), np.array([1.0, 5.0, 0.0, 2.0])) == 0.0
    assert np.isnan(weighted_gini(np.array([0.3, 0.5]), np.zeros(2)))


def test_floor_out_of_range_and_maximin_without_elderly() -> None:
    prob, area, n_areas = _instance(1)
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(InputDataError, match="floor"):
            AreaFloors(prob, area, n_areas, bad, 10)
    with pytest.raises(InputDataError, match="no area has older residents"):
        Maximin(prob, np.full(len(area), -1), n_areas, 1, 10).solve("exact")


def test_area_without_elderly_is_left_out_and_said() -> None:
    prob, area, n_areas = _instance(2)
    res = Maximin(prob, area, n_areas + 1, 2, 10).solve("exact")  # last area is empty
    assert res.info["areas_without_elderly"] == 1
    assert any("without older residents" in w for w in res.warnings)
    shares, _ = area_shares(prob, area, n_areas + 1, np.ones(len(area), dtype=bool))
    assert np.isnan(shares[-1])
