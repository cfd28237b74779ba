"""Check every exact siting model against an independent reference on many random instances.

Per model it prints the instances tried, the mismatches (an answer whose recomputed
objective differs from the reference optimum, or one labelled "optimal" that is not) and the
answers left unproven, then a machine-readable last line. References: brute force over all
site sets and networkx maximum flow (``tests/exact_reference.py``) on small instances, and
spopt with CBC (not HiGHS) on medium MCLP/LSCP instances of 300 demand points × 60
candidates, the size on which HiGHS 1.16 returned non-optimal answers labelled optimal.

Run it under the locked versions and under the newest allowed ones
(``scripts/check_newest.sh``); both must print ``mismatches=0``.

    python scripts/check_exact.py [--instances N] [--medium M] [--seed S]
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geoplan.siting.capacitated import CapacitatedMCLP
from geoplan.siting.coverage import LSCP, MCLP
from geoplan.siting.equity import AreaFloors, Maximin, equity_weights, weighted_mclp
from geoplan.siting.multitype import MultiTypePlan, TypePlan
from geoplan.siting.pmedian import PMedian
from tests import exact_reference as ref
from tests.test_equity import _brute, _changeable, _instance, _shares
from tests.test_exact_properties import _conflicts, _link_instance


def _tally(rows: dict, model: str, got: float, opt: float, status: str,
           expected: str = "optimal") -> None:
    """Count one answer: a mismatch is a proven answer that differs from the reference, or
    a status other than the expected one when the solver finished (an honest time limit or
    'unproven' is counted apart)."""
    r = rows.setdefault(model, [0, 0, 0, 0.0])
    r[0] += 1
    wrong = abs(got - opt) > 1e-6 * max(1.0, abs(opt))
    if status == expected:
        r[1] += int(wrong)
    elif status in ("time_limit", "unproven", "no_solution"):
        r[2] += 1
    else:
        r[1] += 1


def small(rows: dict, n: int, seed: int) -> None:
    """Brute-force references on small instances of every model."""
    for i in range(n):
        rng = np.random.default_rng(seed + i)
        prob = ref.random_problem(rng, 40, 9, i % 3, cost=i % 2 == 0)
        p = int(rng.integers(1, 4))
        budget = 9.0 if prob.candidate_cost is not None else None
        conf = _conflicts(rng, 9, 4) if i % 3 == 0 else None
        t = time.perf_counter()
        res = MCLP(prob, p, 10, budget=budget, conflicts=conf).solve("exact", mip_gap=0.0)
        _tally(rows, "mclp", res.objective, ref.mclp(prob, p, 10, budget=budget,
                                                     conflicts=conf), res.status)
        rows["mclp"][3] += time.perf_counter() - t

        target = [1.0, 0.9, 0.75][i % 3]
        t = time.perf_counter()
        res = LSCP(prob, target, 10, budget=budget, conflicts=conf).solve("exact")
        _, reach = ref.lscp(prob, target, 10)
        count, best = ref.lscp(prob, min(target, reach), 10, budget=budget, conflicts=conf)
        expected = "optimal"
        if count is None:  # the rules make the target unreachable
            count, _ = ref.lscp(prob, best, 10, budget=budget, conflicts=conf)
            expected = "infeasible"
        _tally(rows, "lscp", res.objective, float(count), res.status, expected)
        rows["lscp"][3] += time.perf_counter() - t

        t = time.perf_counter()
        res = PMedian(prob, p, penalty_min=60.0).solve("exact", mip_gap=0.0)
        _tally(rows, "pmedian", res.objective, ref.pmedian(prob, p, 60.0), res.status)
        rows["pmedian"][3] += time.perf_counter() - t

        cap = ref.random_problem(rng, 30, 7, i % 3, capacity=True)
        pc = int(rng.integers(1, 3))
        t = time.perf_counter()
        res = CapacitatedMCLP(cap, pc, 10).solve("exact", mip_gap=0.0)
        _tally(rows, "cmclp", res.objective, ref.cmclp(cap, pc, 10), res.status)
        rows["cmclp"][3] += time.perf_counter() - t

        centres, stations, link, ok = _link_instance(seed + i)
        nc = 1 + i % 2
        plans = [TypePlan("care_centre", centres, 10, nc, 2.0),
                 TypePlan("doorstep_station", stations, 8, 2, 1.0)]
        t = time.perf_counter()
        mres = MultiTypePlan(plans, link).solve("exact", mip_gap=0.0)
        _tally(rows, "multi_1n", mres.objective,
               ref.multi_1n(centres, stations, nc, 2, 10, 8, ok, 2.0, 1.0), mres.status)
        rows["multi_1n"][3] += time.perf_counter() - t


def equity(rows: dict, n: int, seed: int) -> None:
    """Area floors, maximin and weighted MCLP against brute force over all site sets."""
    for i in range(n):
        prob, area, k = _instance(seed + i)
        cand, ex = ref.covered_by(prob, 10)
        best, tot = _shares(prob, area, k, ex | cand.any(axis=0))
        floor = [0.5, 0.7, 0.9][i % 3]
        liftable = (tot > 0) & (best >= floor - 1e-12)
        want = next(len(s) for s, cov in _brute(prob, area, k, 10, range(prob.n_candidates + 1))
                    if (_shares(prob, area, k, cov)[0][liftable] >= floor - 1e-9).all())
        t = time.perf_counter()
        res = AreaFloors(prob, area, k, floor, 10).solve("exact")
        _tally(rows, "area_floors", res.objective, float(want), res.status)
        rows["area_floors"][3] += time.perf_counter() - t
        p = 1 + i % 3
        live = _changeable(prob, area, k)
        top = max((float(np.min(_shares(prob, area, k, cov)[0][live])),
                   float(prob.weights[cov].sum()))
                  for _, cov in _brute(prob, area, k, 10, range(p + 1)))
        t = time.perf_counter()
        res = Maximin(prob, area, k, p, 10).solve("exact")
        _tally(rows, "maximin", res.objective, top[0], res.status)
        rows["maximin"][3] += time.perf_counter() - t
        lam = [0.0, 0.5, 3.0][i % 3]
        wp = equity_weights(prob, area, k, lam)
        top_w = max(float(wp[cov & ~ex].sum()) for _, cov in _brute(prob, area, k, 10,
                                                                    range(3)))
        t = time.perf_counter()
        res = weighted_mclp(prob, area, k, 2, 10, lam, method="exact", mip_gap=0.0)
        _tally(rows, "weighted_mclp", res.objective, top_w, res.status)
        rows["weighted_mclp"][3] += time.perf_counter() - t


def medium(rows: dict, n: int, seed: int) -> None:
    """spopt + CBC references on 300 × 60 MCLP and full-cover LSCP instances."""
    import pulp
    from spopt.locate import LSCP as SpoptLSCP
    from spopt.locate import MCLP as SpoptMCLP

    cbc = pulp.PULP_CBC_CMD(msg=False)
    for i in range(n):
        rng = np.random.default_rng(10_000 + seed + i)
        prob = ref.random_problem(rng, 300, 60, 0, search=12.0, size=5000.0)
        d = ref.dense(prob.times, big=1e6)
        t = time.perf_counter()
        res = LSCP(prob, 1.0, 10).solve("exact")
        reach = (d <= 10).any(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = SpoptLSCP.from_cost_matrix(d[:, reach].T, 10).solve(cbc)
        _tally(rows, "lscp_300x60", res.objective, float(pulp.value(m.problem.objective)),
               res.status)
        rows["lscp_300x60"][3] += time.perf_counter() - t
        t = time.perf_counter()
        res = MCLP(prob, 8, 10).solve("exact", mip_gap=0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = SpoptMCLP.from_cost_matrix(d.T, prob.weights, 10, p_facilities=8).solve(cbc)
        _tally(rows, "mclp_300x60", res.objective, float(pulp.value(m.problem.objective)),
               res.status)
        rows["mclp_300x60"][3] += time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", type=int, default=40, help="small instances per model")
    ap.add_argument("--medium", type=int, default=20, help="300 x 60 instances (spopt + CBC)")
    ap.add_argument("--seed", type=int, default=7000)
    args = ap.parse_args()
    rows: dict[str, list] = {}
    t0 = time.perf_counter()
    small(rows, args.instances, args.seed)
    equity(rows, args.instances, args.seed)
    medium(rows, args.medium, args.seed)
    vers = {p: md.version(p) for p in ("highspy", "numpy", "scipy", "networkx", "spopt")}
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    print(f"{'model':<14}{'instances':>10}{'mismatches':>12}{'unproven':>10}{'seconds':>10}")
    for model, (n, bad, unproven, sec) in rows.items():
        print(f"{model:<14}{n:>10}{bad:>12}{unproven:>10}{sec:>10.2f}")
    total = sum(r[0] for r in rows.values())
    bad = sum(r[1] for r in rows.values())
    print(f"check_exact models={len(rows)} instances={total} mismatches={bad} "
          f"highspy={vers['highspy']} numpy={vers['numpy']} "
          f"seconds={time.perf_counter() - t0:.1f}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
