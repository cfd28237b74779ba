"""p-median: exact equals spopt and brute force; OR-Library optimum proven; heuristic close."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pulp
import pytest
from spopt.locate import PMedian as SpoptPMedian

from geoplan.errors import InputDataError
from geoplan.siting.orlib import read_orlib_pmed
from geoplan.siting.pmedian import PMedian
from tests.siting_instances import BIG, random_instance

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("GEOPLAN_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))
SOLVER = pulp.HiGHS(msg=False) if pulp.HiGHS().available() else pulp.PULP_CBC_CMD(msg=False)
PEN = 30.0


@pytest.mark.parametrize("seed,p", [(1, 2), (2, 3), (3, 4)])
def test_exact_equals_spopt(seed, p):
    prob, tc, _ = random_instance(seed, n=50, m=12, search=PEN)
    cost = np.where(tc < BIG, tc, PEN).T  # demand × facility, penalty where unreachable
    ref = SpoptPMedian.from_cost_matrix(cost, prob.weights, p_facilities=p).solve(SOLVER)
    res = PMedian(prob, p, penalty_min=PEN).solve("exact")
    assert res.status == "optimal"
    assert res.objective == pytest.approx(pulp.value(ref.problem.objective), rel=1e-9)
    heur = PMedian(prob, p, penalty_min=PEN).solve("heuristic")
    assert heur.objective == pytest.approx(res.objective, rel=1e-9)
    assert heur.bound <= res.objective + 1e-6


@pytest.mark.parametrize("seed", [4, 5])
def test_existing_facilities_against_brute_force(seed):
    prob, tc, te = random_instance(seed, n=60, m=9, k_existing=2, search=PEN)
    t = np.where(tc < BIG, tc, PEN)
    base = np.where(te < BIG, te, PEN).min(axis=0)
    best = min(float(prob.weights @ np.minimum(base, t[list(s)].min(axis=0)))
               for s in itertools.combinations(range(9), 3))
    res = PMedian(prob, 3, penalty_min=PEN).solve("exact")
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert res.marginal.sum() == pytest.approx(float(prob.weights @ base) - best, rel=1e-6)


def test_too_many_sites_and_determinism():
    prob, _, _ = random_instance(6, n=40, m=5, search=PEN)
    with pytest.raises(InputDataError, match="only 5 candidate"):
        PMedian(prob, 6, penalty_min=PEN)
    prob, _, _ = random_instance(7, n=200, m=60, search=PEN)
    a = PMedian(prob, 6, penalty_min=PEN).solve("heuristic", seed=3)
    b = PMedian(prob, 6, penalty_min=PEN).solve("heuristic", seed=3)
    assert a.selected.tolist() == b.selected.tolist() and a.objective == b.objective


def _orlib(k: int) -> Path:
    path = BENCH / "orlib-pmed" / f"pmed{k}.txt"
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"OR-Library data missing: {path} (set GEOPLAN_BENCHMARKS)")
        pytest.skip(f"OR-Library data missing: {path}")
    return path


@pytest.mark.parametrize("k,opt", [(1, 5819), (6, 7824)])
def test_orlib_exact_proves_optimum_and_heuristic_is_close(k, opt):
    prob, p = read_orlib_pmed(_orlib(k))
    exact = PMedian(prob, p).solve("exact", time_limit=120)
    assert exact.status == "optimal" and exact.objective == pytest.approx(opt)
    heur = PMedian(prob, p).solve("heuristic", time_limit=60)
    assert heur.objective <= opt * 1.005
    assert heur.bound <= opt + 1e-6
