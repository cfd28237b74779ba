"""Multi-type planning with the 1+N link, checked against brute-force enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from geoplan.errors import InputDataError
from geoplan.siting.multitype import Link, MultiTypePlan, TypePlan
from tests.siting_instances import random_instance


def _setup(seed):
    pc, tc_c, te_c = random_instance(seed, n=60, m=7, k_existing=1, size=3000)
    ps, tc_s, te_s = random_instance(seed + 100, n=60, m=7, k_existing=0, size=3000)
    ps.weights = pc.weights  # same residents, two services
    ps.__post_init__()
    rng = np.random.default_rng(seed)
    link_t = rng.uniform(0, 20, size=(7, 7))
    existing = rng.random(7) < 0.25
    link = Link(station="station", centre="centre", times=sp.csr_matrix(link_t),
                existing=existing, max_min=8.0)
    plans = [TypePlan("centre", pc, cutoff=15, count=1),
             TypePlan("station", ps, cutoff=10, count=2, weight=0.5)]
    return plans, link, (tc_c, te_c, tc_s, te_s, link_t, existing, pc.weights)


def _brute(data):
    tc_c, te_c, tc_s, _te_s, link_t, existing, w = data
    base_c = (te_c <= 15).any(axis=0)
    best = -1.0
    for c in itertools.combinations(range(7), 1):
        vc = w[base_c | (tc_c[list(c)] <= 15).any(axis=0)].sum() - w[base_c].sum()
        ok = existing | (link_t[:, list(c)] <= 8.0).any(axis=1)
        for s in itertools.combinations(range(7), 2):
            if not ok[list(s)].all():
                continue
            vs = w[(tc_s[list(s)] <= 10).any(axis=0)].sum()
            best = max(best, vc + 0.5 * vs)
    return best


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_multitype_exact_equals_brute_force(seed):
    plans, link, data = _setup(seed)
    res = MultiTypePlan(plans, link).solve("exact")
    assert res.status == "optimal"
    assert res.objective == pytest.approx(_brute(data))
    # the 1+N rule holds
    c = res.by_type["centre"].selected
    s = res.by_type["station"].selected
    link_t, existing = data[4], data[5]
    for j in s:
        assert existing[j] or (link_t[j, c] <= 8.0).any()
    heur = MultiTypePlan(plans, link).solve("heuristic")
    assert heur.objective <= res.objective + 1e-9
    assert heur.bound >= res.objective - 1e-6


def test_link_to_unplanned_type_is_an_error():
    plans, link, _ = _setup(1)
    link.centre = "daycare"
    with pytest.raises(InputDataError, match="'daycare'"):
        MultiTypePlan(plans, link)
