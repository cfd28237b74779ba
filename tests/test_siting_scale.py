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
