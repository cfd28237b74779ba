"""Property tests: every exact siting model equals an independent optimum, with a true status.

Many seeded random small instances per model, against brute force over all site sets and
networkx maximum flow (``tests/exact_reference.py``). For each answer the recomputed
objective must equal the optimum and the status must be ``optimal``; heuristic answers must
lie between the optimum and their bound. A HiGHS that echoes the MIP start as its solution
(as HiGHS 1.16 can) or misreports its objective must never produce an answer labelled
optimal that is not.
"""

from __future__ import annotations

import highspy
import numpy as np
import pytest
import scipy.sparse as sp

from geoplan.errors import InputDataError
from geoplan.siting import highs as highs_mod
from geoplan.siting.capacitated import CapacitatedMCLP
from geoplan.siting.coverage import LSCP, MCLP
from geoplan.siting.multitype import Link, MultiTypePlan, TypePlan
from geoplan.siting.pmedian import PMedian
from geoplan.siting.verify import covered_mask
from tests import exact_reference as ref

SEEDS = range(12)


def _conflicts(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    pairs = {tuple(sorted(rng.choice(m, 2, replace=False).tolist())) for _ in range(k)}
    return np.array(sorted(pairs), dtype=np.int64)


def _assert_true_status(res, optimum: float, maximise: bool) -> None:
    assert res.info["verified"]
    if res.status == "optimal":
        assert res.objective == pytest.approx(optimum, abs=1e-6)
    elif res.bound is not None:
        assert (res.bound >= optimum - 1e-6) if maximise else (res.bound <= optimum + 1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_mclp_exact_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    prob = ref.random_problem(rng, 40, 9, seed % 3, cost=seed % 2 == 0)
    p = int(rng.integers(1, 4))
    budget = 9.0 if prob.candidate_cost is not None else None
    conflicts = _conflicts(rng, 9, 4) if seed % 3 == 0 else None
    opt = ref.mclp(prob, p, 10, budget=budget, conflicts=conflicts)
    res = MCLP(prob, p, 10, budget=budget, conflicts=conflicts).solve("exact", mip_gap=0.0)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(opt, abs=1e-6)
    heur = MCLP(prob, p, 10, budget=budget, conflicts=conflicts).solve("heuristic")
    assert heur.objective <= opt + 1e-6
    _assert_true_status(heur, opt, True)


@pytest.mark.parametrize("seed", SEEDS)
def test_lscp_exact_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    prob = ref.random_problem(rng, 40, 10, seed % 2, cost=seed % 4 == 1)
    target = [1.0, 0.9, 0.75][seed % 3]
    conflicts = _conflicts(rng, 10, 5) if seed % 2 == 0 else None
    budget = 12.0 if prob.candidate_cost is not None else None
    max_sites = 4 if seed % 5 == 0 else None
    res = LSCP(prob, target, 10, max_sites=max_sites, budget=budget,
               conflicts=conflicts).solve("exact")
    _, reach_share = ref.lscp(prob, target, 10)  # what reach alone allows
    used = min(target, reach_share)
    count, best = ref.lscp(prob, used, 10, max_sites=max_sites, budget=budget,
                           conflicts=conflicts)
    if count is None:  # the rules make the target unreachable
        assert res.status == "infeasible"
        assert res.info["best_share"] == pytest.approx(best, abs=1e-9)
        assert set(res.info["limited_by"]) - {"reach"}
        best_count, _ = ref.lscp(prob, best, 10, max_sites=max_sites, budget=budget,
                                 conflicts=conflicts)
        assert res.objective == best_count
    else:
        assert res.status == "optimal"
        assert res.objective == count
        assert res.info["share"] >= used - 1e-9
    sel = res.selected
    w = prob.weights
    assert res.info["covered_total"] == pytest.approx(float(w[covered_mask(prob, sel, 10)]
                                                            .sum()))


@pytest.mark.parametrize("seed", SEEDS)
def test_pmedian_exact_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    prob = ref.random_problem(rng, 35, 9, seed % 3, search=25.0)
    p = int(rng.integers(1, 4))
    penalty = 60.0
    opt = ref.pmedian(prob, p, penalty)
    res = PMedian(prob, p, penalty_min=penalty).solve("exact", mip_gap=0.0)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(opt, rel=1e-9)
    heur = PMedian(prob, p, penalty_min=penalty).solve("heuristic")
    assert heur.objective >= opt - 1e-6
    _assert_true_status(heur, opt, False)


@pytest.mark.parametrize("seed", SEEDS)
def test_cmclp_exact_equals_max_flow(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    prob = ref.random_problem(rng, 30, 7, seed % 3, capacity=True)
    p = int(rng.integers(1, 3))
    opt = ref.cmclp(prob, p, 10)
    res = CapacitatedMCLP(prob, p, 10).solve("exact", mip_gap=0.0)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(opt, abs=1e-6)
    heur = CapacitatedMCLP(prob, p, 10).solve("heuristic")
    assert heur.objective <= opt + 1e-6
    _assert_true_status(heur, opt, True)


def _link_instance(seed: int):
    rng = np.random.default_rng(400 + seed)
    centres = ref.random_problem(rng, 30, 6, seed % 2)
    # stations share the demand of the centres (same people), own candidates
    st = ref.random_problem(rng, 30, 7, 0)
    stations = type(centres)(weights=centres.weights, times=st.times,
                             existing_times=st.existing_times)
    lt = sp.csr_matrix(np.round(rng.random((7, 6)) * 20, 1))
    existing = rng.random(7) < 0.2
    link = Link("doorstep_station", "care_centre", lt, existing, 8.0)
    ok = np.c_[ref.dense(lt) <= 8.0 + 1e-9, existing]
    return centres, stations, link, ok


@pytest.mark.parametrize("seed", SEEDS)
def test_multi_1n_exact_equals_brute_force(seed: int) -> None:
    centres, stations, link, ok = _link_instance(seed)
    nc, ns = 1 + seed % 2, 2
    opt = ref.multi_1n(centres, stations, nc, ns, 10, 8, ok, 2.0, 1.0)
    plans = [TypePlan("care_centre", centres, 10, nc, 2.0),
             TypePlan("doorstep_station", stations, 8, ns, 1.0)]
    res = MultiTypePlan(plans, link).solve("exact", mip_gap=0.0)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(opt, abs=1e-6)
    heur = MultiTypePlan(plans, link).solve("heuristic")
    assert heur.objective <= opt + 1e-6
    assert heur.bound is None or heur.bound >= opt - 1e-6


# -- a solver that lies -----------------------------------------------------------------


class _EchoStart(highspy.Highs):
    """HiGHS that hands back the MIP start as its solution (the HiGHS 1.16 fault)."""

    def setSolution(self, sol):
        self._echo = np.array(sol.col_value)
        return super().setSolution(sol)

    def getSolution(self):
        sol = super().getSolution()
        if getattr(self, "_echo", None) is not None:
            sol.col_value = self._echo
        return sol


class _AlwaysWrong(highspy.Highs):
    """HiGHS whose vector is always all zeros while it reports the true optimum."""

    def getSolution(self):
        sol = super().getSolution()
        sol.col_value = np.zeros(len(sol.col_value))
        return sol


@pytest.mark.parametrize("seed", range(6))
def test_start_echo_is_caught_and_solved_again(seed: int, monkeypatch) -> None:
    monkeypatch.setattr(highspy, "Highs", _EchoStart)
    rng = np.random.default_rng(500 + seed)
    prob = ref.random_problem(rng, 60, 12, 1)
    _, reach = ref.lscp(prob, 1.0, 10)
    count, _ = ref.lscp(prob, min(1.0, reach), 10)
    res = LSCP(prob, 1.0, 10).solve("exact")
    assert res.objective == count and res.status == "optimal"
    opt = ref.mclp(prob, 3, 10)
    res = MCLP(prob, 3, 10).solve("exact", mip_gap=0.0)
    assert res.objective == pytest.approx(opt) and res.status == "optimal"


@pytest.mark.parametrize("seed", range(6))
def test_a_solver_that_always_lies_never_gives_optimal(seed: int, monkeypatch) -> None:
    monkeypatch.setattr(highspy, "Highs", _AlwaysWrong)
    rng = np.random.default_rng(600 + seed)
    prob = ref.random_problem(rng, 60, 12, 1)
    opt = ref.mclp(prob, 3, 10)
    res = MCLP(prob, 3, 10).solve("exact", mip_gap=0.0)
    assert res.info["verified"]
    if res.info.get("proved_by") != "lagrangian bound":
        assert res.status != "optimal"
        assert all("reports objective" in a for a in res.info["milp_attempts"])
    assert res.objective <= opt + 1e-6
    sol = highs_mod.solve_milp(np.array([1.0, 1.0]), sp.csr_matrix([[1.0, 1.0]]),
                               np.array([-np.inf]), np.array([1.0]), np.zeros(2), np.ones(2),
                               np.array([True, True]), maximise=True)
    assert sol.status == "unproven" and len(sol.attempts) == 2
    assert sol.objective == 0.0 and sol.x.tolist() == [0.0, 0.0]


def test_spacing_infeasible_target_is_infeasible_not_time_limit() -> None:
    # two demand points, each reachable only by its own candidate; the two candidates
    # conflict, so 100 % is unreachable under the spacing rule
    t = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]))
    t.eliminate_zeros()
    from geoplan.siting.problem import SitingProblem
    prob = SitingProblem(weights=np.array([30.0, 10.0]), times=t)
    res = LSCP(prob, 1.0, 5, conflicts=np.array([[0, 1]])).solve("exact", time_limit=300)
    assert res.status == "infeasible"
    assert res.info["limited_by"] == ["min_spacing_m"]
    assert res.info["best_share"] == pytest.approx(0.75)
    assert res.selected.tolist() == [0]
    assert res.seconds < 30
    assert "min_spacing_m" in res.warnings[0] and "75.0 %" in res.warnings[0]


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf")])
def test_bad_time_limit_is_one_line_input_error(bad: float) -> None:
    prob = ref.random_problem(np.random.default_rng(1), 20, 5, 0)
    with pytest.raises(InputDataError, match="time limit"):
        MCLP(prob, 2, 10).solve("exact", time_limit=bad)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2.0, float("nan")])
def test_bad_gap_is_one_line_input_error(bad: float) -> None:
    prob = ref.random_problem(np.random.default_rng(1), 20, 5, 0)
    with pytest.raises(InputDataError, match="gap"):
        LSCP(prob, 0.9, 10).solve("exact", mip_gap=bad)


def test_mclp_with_nobody_uncovered_returns_no_site() -> None:
    t = sp.csr_matrix(np.array([[2.0, 3.0]]))
    from geoplan.siting.problem import SitingProblem
    prob = SitingProblem(weights=np.array([5.0, 7.0]), times=t,
                         existing_times=sp.csr_matrix(np.array([[1.0, 1.0]])))
    res = MCLP(prob, 1, 10).solve("exact")
    assert len(res.selected) == 0 and res.objective == 0 and res.status == "optimal"
    assert "nobody is left uncovered" in res.warnings[0]


def test_a_tuning_option_this_highs_lacks_is_skipped() -> None:
    """An older HiGHS without a tuning option (e.g. mip_lp_solver before 1.12) still solves."""
    sol = highs_mod.solve_milp(np.array([3.0, 2.0]), sp.csr_matrix([[1.0, 1.0]]),
                               np.array([-np.inf]), np.array([1.0]), np.zeros(2), np.ones(2),
                               np.array([True, True]), maximise=True,
                               options={"no_such_option_in_any_highs": 1})
    assert sol.status == "optimal" and sol.objective == 3.0 and sol.x.tolist() == [1.0, 0.0]


def test_a_time_limit_without_a_bound_is_never_optimal() -> None:
    """A limit hit before any dual bound (HiGHS reports none): verified vector, status
    time_limit, no gap — never 'optimal' (inf <= gap × inf must not prove anything)."""
    run = highs_mod._Run(highspy.HighsModelStatus.kTimeLimit, np.array([1.0]), 5.0, 5.0,
                         float("nan"), 0, [])
    sol = highs_mod._finish(run, True, 1e-4, None, ["with start: HiGHS kTimeLimit"], 0.1)
    assert sol.status == "time_limit" and np.isnan(sol.bound) and sol.gap == float("inf")
    run = highs_mod._Run(highspy.HighsModelStatus.kOptimal, np.array([1.0]), 5.0, 5.0,
                         float("nan"), 0, [])
    assert highs_mod._finish(run, True, 1e-4, None, [], 0.1).status == "unproven"


def test_no_highs_banner_on_stdout() -> None:
    """HiGHS's licence banner must not land in the CLI's printed tables."""
    import subprocess
    import sys

    code = ("import numpy as np, scipy.sparse as sp\n"
            "from geoplan.siting.highs import solve_milp\n"
            "s = solve_milp(np.ones(2), sp.csr_matrix([[1.0, 1.0]]), np.array([-np.inf]),\n"
            "               np.array([1.0]), np.zeros(2), np.ones(2), np.array([True, True]),\n"
            "               maximise=True)\n"
            "print('status', s.status)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "status optimal", out
