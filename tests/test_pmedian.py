"""p-median: exact and heuristic against spopt, brute force and the OR-Library optima."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pulp
import pytest
import scipy.sparse as sp

from geoplan.errors import InputDataError
from geoplan.siting import pmedian as pm
from geoplan.siting.orlib import read_orlib_graph, read_orlib_pmed
from geoplan.siting.pmedian import PMedian
from geoplan.siting.problem import SitingProblem
from tests.conftest import missing_data

# spopt builds its model with PuLP's older variable API
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulp")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARKS = REPO.parent / "shared" / "benchmarks"

#: Proven optima from the literature for the OR-Library instances used here.
ORLIB_OPT = {1: 5819, 2: 4093, 3: 4250, 4: 3034, 5: 1355, 6: 7824}


@pytest.fixture(scope="session")
def orlib_dir() -> Path:
    """OR-Library pmed files; fail under CI when missing, skip elsewhere."""
    d = Path(os.environ.get("GEOPLAN_BENCHMARKS", DEFAULT_BENCHMARKS)) / "orlib-pmed"
    if not (d / "pmed1.txt").is_file():
        missing_data(f"OR-Library p-median files not found in {d} (set GEOPLAN_BENCHMARKS)")
    return d


def random_problem(seed: int, n_demand: int = 40, n_cand: int = 15, n_existing: int = 0,
                   density: float = 0.45, cutoff: float = 15.0, integer: bool = True
                   ) -> SitingProblem:
    """Sparse random times within a cutoff, some explicit zeros, optional existing sites."""
    rng = np.random.default_rng(seed)

    def times(rows: int) -> sp.csr_matrix:
        t = rng.uniform(0.0, 20.0, size=(rows, n_demand))
        if integer:
            t = np.floor(t)
        keep = (rng.random((rows, n_demand)) < density) & (t <= cutoff)
        keep[rng.random((rows, n_demand)) < 0.03] = True
        t[keep & (rng.random((rows, n_demand)) < 0.05)] = 0.0  # explicit zeros
        r, c = np.nonzero(keep)
        return sp.csr_matrix((t[r, c], (r, c)), shape=(rows, n_demand))

    w = rng.integers(1, 10, n_demand).astype(float) if integer else rng.uniform(
        0.5, 9.5, n_demand)
    w[rng.random(n_demand) < 0.05] = 0.0
    ex = times(n_existing) if n_existing else None
    return SitingProblem(weights=w, times=times(n_cand), existing_times=ex)


def dense_cost(problem: SitingProblem, penalty: float) -> np.ndarray:
    """Demand × candidate cost matrix with the penalty where no time is stored (tests only)."""
    c = np.full((problem.n_candidates, problem.n_demand), penalty)
    t = problem.times.tocoo()
    c[t.row, t.col] = t.data  # explicit zeros stay zero
    return c.T


def brute_force(problem: SitingProblem, p: int, penalty: float) -> float:
    """Best total weighted time over all p-subsets (existing facilities always open)."""
    cost = dense_cost(problem, penalty)  # demand × candidate
    base = np.full(problem.n_demand, penalty)
    if problem.n_existing:
        e = problem.existing_times.tocoo()
        np.minimum.at(base, e.col, e.data)
    best = np.inf
    for subset in itertools.combinations(range(problem.n_candidates), p):
        d = np.minimum(cost[:, list(subset)].min(axis=1), base)
        best = min(best, float(problem.weights @ d))
    return best


def spopt_optimum(problem: SitingProblem, p: int, penalty: float) -> float:
    from spopt.locate import PMedian as SpoptPMedian

    model = SpoptPMedian.from_cost_matrix(dense_cost(problem, penalty), problem.weights,
                                          p_facilities=p)
    model.solve(pulp.HiGHS(msg=False), results=False)
    return float(model.problem.objective.value())


# ----------------------------------------------------------------- exactness


@pytest.mark.parametrize(("seed", "p"), [(1, 2), (2, 3), (3, 5), (4, 4)])
def test_exact_matches_spopt(seed: int, p: int) -> None:
    problem = random_problem(seed)
    model = PMedian(problem, p, penalty_min=30.0)
    res = model.solve(method="exact", time_limit=60)
    assert res.status == "optimal" and res.proven_optimal
    assert res.objective == pytest.approx(spopt_optimum(problem, p, 30.0), abs=1e-6)
    assert res.gap == 0.0
    assert res.bound == pytest.approx(res.objective)
    assert len(res.selected) == p == len(set(res.selected.tolist()))
    assert res.objective == pytest.approx(model.evaluate(res.selected))


def test_exact_matches_spopt_fractional_weights() -> None:
    problem = random_problem(11, integer=False)
    res = PMedian(problem, 3, penalty_min=25.0).solve(method="exact", mip_gap=1e-9)
    assert res.proven_optimal
    assert res.objective == pytest.approx(spopt_optimum(problem, 3, 25.0), rel=1e-7)


@pytest.mark.parametrize(("seed", "p", "n_existing"), [(5, 2, 2), (6, 3, 3), (7, 4, 1)])
def test_existing_facilities_against_brute_force(seed: int, p: int, n_existing: int) -> None:
    problem = random_problem(seed, n_existing=n_existing)
    model = PMedian(problem, p, penalty_min=40.0)
    best = brute_force(problem, p, 40.0)
    exact = model.solve(method="exact")
    heur = model.solve(method="heuristic")
    assert exact.proven_optimal
    assert exact.objective == pytest.approx(best)
    assert heur.objective == pytest.approx(best)
    assert heur.bound <= best + 1e-9


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_heuristic_equals_exact_on_small_instances(seed: int) -> None:
    problem = random_problem(seed, n_demand=60, n_cand=25, n_existing=seed % 2)
    for p in (2, 4, 7):
        model = PMedian(problem, p)
        exact = model.solve(method="exact")
        heur = model.solve(method="heuristic")
        assert exact.proven_optimal
        assert heur.objective == pytest.approx(exact.objective)
        assert heur.bound <= exact.objective + 1e-9


def test_radius_milp_alone_matches_brute_force() -> None:
    """The MILP on its own (no heuristic start, no fixing) finds the optimum."""
    problem = random_problem(31, n_existing=2)
    model = PMedian(problem, 3, penalty_min=30.0)
    inst = model._instance()
    sel, sol, sizes = pm._radius_milp(inst, 3, None, 60.0, 1e-9, 0, None)
    assert sol.status == "optimal"
    assert sizes["milp_candidates"] == problem.n_candidates
    assert model.evaluate(sel) == pytest.approx(brute_force(problem, 3, 30.0))
    assert sol.objective == pytest.approx(model.evaluate(sel))


def test_mean_objective_and_info() -> None:
    problem = random_problem(8)
    total = PMedian(problem, 3, penalty_min=30.0).solve(method="exact")
    mean = PMedian(problem, 3, penalty_min=30.0, objective="mean").solve(method="exact")
    wsum = problem.weights.sum()
    assert mean.objective == pytest.approx(total.objective / wsum)
    assert mean.bound == pytest.approx(total.bound / wsum)
    assert mean.info["total_weighted_minutes"] == pytest.approx(total.objective)
    assert total.info["mean_minutes"] == pytest.approx(mean.objective)


def test_selected_in_order_of_added_value() -> None:
    problem = random_problem(9, n_existing=1)
    model = PMedian(problem, 5, penalty_min=30.0)
    res = model.solve(method="exact")
    base = model.evaluate(np.zeros(0, dtype=np.int64))
    assert res.marginal.sum() == pytest.approx(base - res.objective)
    # savings of a facility-location objective are submodular: greedy gains never grow
    assert np.all(np.diff(res.marginal) <= 1e-9)
    for k in range(1, 6):  # each prefix saves what its marginals say
        assert base - model.evaluate(res.selected[:k]) == pytest.approx(res.marginal[:k].sum())


def test_default_penalty_and_unreached_points() -> None:
    times = sp.csr_matrix(([3.0, 0.0, 5.0], ([0, 1, 1], [0, 1, 2])), shape=(2, 4))
    problem = SitingProblem(weights=np.array([1.0, 2.0, 1.0, 3.0]), times=times)
    model = PMedian(problem, 1)
    assert model.penalty_min == 10.0  # 2 × largest stored time
    res = model.solve(method="exact")
    # site 1: point 0 unreached (10), point 1 at 0 (explicit zero), 2 at 5, 3 unreached (10)
    assert res.selected.tolist() == [1]
    assert res.objective == pytest.approx(10 + 0 + 5 + 30)


def test_scored_and_plain_local_search_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = random_problem(12, n_demand=80, n_cand=30, n_existing=2)
    a = PMedian(problem, 6).solve(method="heuristic", seed=3)
    monkeypatch.setattr(pm, "SCORE_TABLE_MAX", 0)  # forces the from-scratch sweeps
    b = PMedian(problem, 6).solve(method="heuristic", seed=3)
    assert a.objective == pytest.approx(b.objective)
    assert sorted(a.selected.tolist()) == sorted(b.selected.tolist())


def test_same_seed_same_answer() -> None:
    problem = random_problem(13, n_demand=120, n_cand=50, n_existing=2)
    runs = [PMedian(problem, 8).solve(method="heuristic", seed=s) for s in (5, 5, 6)]
    assert runs[0].selected.tolist() == runs[1].selected.tolist()
    assert runs[0].objective == runs[1].objective
    assert runs[0].info["heuristic"] == runs[1].info["heuristic"]
    assert runs[2].objective >= runs[2].bound - 1e-9
    ex = [PMedian(problem, 8).solve(method="exact", seed=5) for _ in range(2)]
    assert ex[0].selected.tolist() == ex[1].selected.tolist()


def test_p_equals_candidates() -> None:
    problem = random_problem(14, n_cand=6)
    res = PMedian(problem, 6, penalty_min=30.0).solve(method="exact")
    assert sorted(res.selected.tolist()) == list(range(6))
    assert res.proven_optimal


# ----------------------------------------------------------------- bad input


def test_bad_input() -> None:
    problem = random_problem(15)
    with pytest.raises(InputDataError, match="16 new sites requested but only 15"):
        PMedian(problem, 16)
    with pytest.raises(InputDataError, match="p >= 1"):
        PMedian(problem, 0)
    with pytest.raises(InputDataError, match="p >= 1"):
        PMedian(problem, 2.5)
    with pytest.raises(InputDataError, match="penalty_min"):
        PMedian(problem, 2, penalty_min=1.0)
    with pytest.raises(InputDataError, match="objective"):
        PMedian(problem, 2, objective="max")
    with pytest.raises(InputDataError, match="method"):
        PMedian(problem, 2).solve(method="fast")


# ----------------------------------------------------------------- OR-Library


def test_orlib_reader_last_duplicate_stands(tmp_path: Path) -> None:
    f = tmp_path / "pmedX.txt"
    f.write_text(" 4 5 2 \n 1 2 10 \n 2 3 5\n 2 1 3 \n 3 4 7\n 3 3 1\n")
    n, p, u, v, cost = read_orlib_graph(f)
    assert (n, p) == (4, 2)
    assert sorted(zip(u.tolist(), v.tolist(), cost.tolist(), strict=True)) == [
        (0, 1, 3.0), (1, 2, 5.0), (2, 3, 7.0)]
    problem, p = read_orlib_pmed(f)
    d = problem.times.toarray()
    assert problem.times.nnz == 16  # the zero diagonal is stored
    assert d[0, 3] == 15.0 and d[3, 0] == 15.0 and d[1, 1] == 0.0


@pytest.mark.parametrize("k", [1, 2, 5])
def test_orlib_exact_proves_known_optimum(orlib_dir: Path, k: int) -> None:
    problem, p = read_orlib_pmed(orlib_dir / f"pmed{k}.txt")
    res = PMedian(problem, p).solve(method="exact", time_limit=60)
    assert res.proven_optimal
    assert res.objective == ORLIB_OPT[k]
    assert res.bound == ORLIB_OPT[k]
    if k == 2:  # its Lagrangian bound (4089) leaves a gap: the MILP closes it
        assert res.info["proof"] == "milp"


@pytest.mark.parametrize("k", [1, 3, 4, 6])
def test_orlib_heuristic_near_optimum(orlib_dir: Path, k: int) -> None:
    problem, p = read_orlib_pmed(orlib_dir / f"pmed{k}.txt")
    res = PMedian(problem, p).solve(method="heuristic", time_limit=60)
    assert res.objective <= ORLIB_OPT[k] * 1.005
    assert res.bound <= ORLIB_OPT[k]
    assert res.gap is not None and res.gap >= 0.0
