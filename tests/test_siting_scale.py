"""Scale fixes of the coverage heuristics give the answers of the plain formulation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from geoplan.siting.greedy import Feasibility, greedy_cover, interchange


def _instance(seed: int, m: int, n: int, density: float):
    rng = np.random.default_rng(seed)
    a = sp.random(m, n, density=density, format="csr", random_state=rng) > 0
    w = rng.integers(1, 40, n).astype(float)
    if seed % 2:  # ties: equal weights make many swaps equally good
        w[:] = 5.0
    return sp.csr_matrix(a), w


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [3, 12])
def test_sparse_interchange_makes_the_dense_swaps(seed, p):
    a, w = _instance(seed, 60, 400, 0.03)
    feas = Feasibility(max_sites=p)
    # an empty spacing matrix forbids nothing but takes the dense m x p evaluation
    dense = Feasibility(max_sites=p, conflicts=sp.csr_matrix((60, 60)))
    rng = np.random.default_rng(seed + 100)
    for start in (greedy_cover(a, w, feas)[0], rng.choice(60, p, replace=False)):
        if len(start) < p:
            continue
        for rounds in (1, 2, 5, 1000):  # the same swap at every round, not only the end
            np.testing.assert_array_equal(interchange(a, w, start, feas, max_rounds=rounds),
                                          interchange(a, w, start, dense, max_rounds=rounds))


def test_sparse_interchange_respects_forbidden_sites():
    a, w = _instance(3, 50, 300, 0.05)
    forbidden = np.zeros(50, dtype=bool)
    forbidden[::3] = True
    start = np.flatnonzero(~forbidden)[:5]
    got = interchange(a, w, start, Feasibility(max_sites=5, forbidden=forbidden))
    ref = interchange(a, w, start, Feasibility(max_sites=5, forbidden=forbidden,
                                               conflicts=sp.csr_matrix((50, 50))))
    np.testing.assert_array_equal(got, ref)
    assert not forbidden[got].any()


def test_dominated_candidates_match_brute_force():
    from geoplan.siting.coverage import dominated_candidates

    rng = np.random.default_rng(5)
    base = rng.random((25, 40)) < 0.15
    extra = base[rng.integers(0, 25, 15)] & (rng.random((15, 40)) < 0.7)  # subsets
    dense = np.vstack([base, extra, base[:5], np.zeros((2, 40), dtype=bool)])
    got = dominated_candidates(sp.csr_matrix(dense))
    sets = [frozenset(np.flatnonzero(r)) for r in dense]
    want = np.array([not s or any(s <= t and (len(t) > len(s) or k < j)
                                  for k, t in enumerate(sets) if k != j)
                     for j, s in enumerate(sets)])
    np.testing.assert_array_equal(got, want)
    assert got[-2:].all() and got[40:45].all()  # empty sets and the repeated rows


@pytest.mark.parametrize("seed", range(6))
def test_mclp_without_dominated_candidates_keeps_the_optimum(seed):
    # nested and repeated candidates; the MILP runs on the non-dominated ones and must
    # still reach the brute-force optimum
    import itertools

    from geoplan.siting.coverage import MCLP
    from geoplan.siting.problem import SitingProblem

    rng = np.random.default_rng(seed)
    n = 70
    base = rng.random((10, n)) < 0.12
    nested = base[rng.integers(0, 10, 8)] & (rng.random((8, n)) < 0.6)
    cover = np.vstack([nested[:4], base, nested[4:], base[:3]])
    times = np.where(cover, rng.uniform(1, 15, cover.shape), 0.0)
    w = rng.integers(1, 30, n).astype(float)
    prob = SitingProblem(weights=w, times=sp.csr_matrix(times),
                         existing_times=sp.csr_matrix((0, n)))
    p = 3
    best = max(float(w[cover[list(s)].any(axis=0)].sum())
               for s in itertools.combinations(range(len(cover)), p))
    res = MCLP(prob, p=p, cutoff=15).solve("exact", mip_gap=0.0)
    assert res.status == "optimal"
    assert res.info["covered_total"] == pytest.approx(best)
    if "candidates_in_milp" in res.info:
        assert res.info["dominated_candidates"] >= 11
