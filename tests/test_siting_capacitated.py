"""Capacitated MCLP checked against brute force with networkx max-flow (independent)."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from geoplan.errors import InputDataError
from geoplan.siting.capacitated import CapacitatedMCLP
from tests.siting_instances import random_instance


def _max_served(tc, te, w, cap_c, cap_e, chosen, cutoff):
    g = nx.DiGraph()
    g.add_node("s")
    for j in chosen:
        g.add_edge("s", ("c", j), capacity=float(cap_c[j]))
        for i in np.flatnonzero(tc[j] <= cutoff):
            g.add_edge(("c", j), ("d", i))
    for k in range(len(te)):
        g.add_edge("s", ("e", k), capacity=float(cap_e[k]))
        for i in np.flatnonzero(te[k] <= cutoff):
            g.add_edge(("e", k), ("d", i))
    for i in range(len(w)):
        g.add_edge(("d", i), "t", capacity=float(w[i]))
    return nx.maximum_flow_value(g, "s", "t")


@pytest.mark.parametrize("seed,k_existing", [(1, 0), (2, 2), (3, 1)])
def test_cmclp_exact_equals_brute_force(seed, k_existing):
    prob, tc, te = random_instance(seed, n=50, m=9, k_existing=k_existing)
    prob.candidate_capacity = np.full(9, 120.0)
    prob.existing_capacity = np.full(k_existing, 80.0) if k_existing else None
    p = 3
    base = _max_served(tc, te, prob.weights, prob.candidate_capacity,
                       prob.existing_capacity, [], 15)
    best = max(_max_served(tc, te, prob.weights, prob.candidate_capacity,
                           prob.existing_capacity, list(s), 15)
               for s in itertools.combinations(range(9), p))
    res = CapacitatedMCLP(prob, p=p, cutoff=15).solve("exact")
    assert res.status == "optimal"
    assert res.info["served_existing"] == pytest.approx(base, abs=1e-6)
    assert res.info["served_total"] == pytest.approx(best, abs=1e-6)
    assert res.objective == pytest.approx(best - base, abs=1e-6)
    a = res.assignment
    # capacities respected, each person served at most once, only pairs within the cutoff
    new = a[~a["existing"]].groupby("site")["persons"].sum()
    assert (new <= 120.0 + 1e-6).all()
    per_point = a.groupby("demand")["persons"].sum()
    assert (per_point.to_numpy() <= prob.weights[per_point.index.to_numpy()] + 1e-6).all()
    assert (a["time_min"] <= 15 + 1e-9).all()
    assert a["persons"].sum() == pytest.approx(best, abs=1e-6)
    assert res.marginal.sum() == pytest.approx(res.objective, abs=1e-6)
    heur = CapacitatedMCLP(prob, p=p, cutoff=15).solve("heuristic")
    assert heur.objective <= res.objective + 1e-6
    assert heur.bound >= res.objective - 1e-6  # LP relaxation bound


def test_cmclp_capacity_below_one_person():
    prob, _, _ = random_instance(1, m=5)
    prob.candidate_capacity = np.full(5, 0.5)
    with pytest.raises(InputDataError, match="at least one person"):
        CapacitatedMCLP(prob, p=2, cutoff=15)


def test_cmclp_needs_existing_capacity():
    prob, _, _ = random_instance(1, m=5, k_existing=1)
    prob.candidate_capacity = np.full(5, 40.0)
    with pytest.raises(InputDataError, match="existing facilities need a capacity"):
        CapacitatedMCLP(prob, p=2, cutoff=15)
