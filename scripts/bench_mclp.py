"""Benchmark MCLP: geoplan (sparse build + HiGHS) against spopt 0.7 + HiGHS on one instance.

Instance (seeded): 10,000 demand points and 2,000 candidate sites scattered over a
10 km × 10 km district; walking time = straight-line distance × 1.3 detour / 60 m per min
(3.6 km/h); demand weights 1–60 older residents; cutoff 15 min; p = 20. Both tools get the
same times: spopt the dense demand × candidate matrix it requires, geoplan the sparse
matrix (times up to 20 min) that its reach engine produces. Timings are end to end: model
build plus solve. spopt is solved with PuLP's HiGHS interface (CBC if HiGHS is missing).

A second case runs the heuristic on 100,000 demand × 20,000 candidates (31.6 km square,
p = 200) and reports its gap to the Lagrangian upper bound.

The last line is machine-readable:
``speedup_vs_spopt=<float> same_objective=<true|false> demand=<int> candidates=<int>``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from geoplan.siting.coverage import MCLP  # noqa: E402
from geoplan.siting.problem import SitingProblem  # noqa: E402

SPEED = 60.0  # m per minute
DETOUR = 1.3
CUTOFF = 15.0
SEARCH = 20.0


def instance(n: int, m: int, side_m: float, seed: int) -> tuple[np.ndarray, sp.csr_matrix]:
    """Weights and the sparse candidate × demand times (minutes) up to ``SEARCH``."""
    rng = np.random.default_rng(seed)
    dem = rng.random((n, 2)) * side_m
    cand = rng.random((m, 2)) * side_m
    w = rng.integers(1, 61, n).astype(np.float64)
    r = SEARCH * SPEED / DETOUR
    d = cKDTree(cand).sparse_distance_matrix(cKDTree(dem), r, output_type="coo_matrix")
    t = sp.csr_matrix((np.round(d.data * DETOUR / SPEED, 4), (d.row, d.col)), shape=(m, n))
    return w, t


def run_spopt(w: np.ndarray, t: sp.csr_matrix, p: int) -> tuple[float, float, float]:
    import pulp
    from spopt.locate import MCLP as SpoptMCLP

    t0 = time.perf_counter()
    dense = np.full(t.shape[::-1], 1e6)
    tc = t.tocoo()
    dense[tc.col, tc.row] = tc.data
    solver = pulp.HiGHS(msg=False) if pulp.HiGHS().available() else pulp.PULP_CBC_CMD(msg=False)
    model = SpoptMCLP.from_cost_matrix(dense, w, CUTOFF, p_facilities=p)
    t_build = time.perf_counter() - t0
    model = model.solve(solver)
    total = time.perf_counter() - t0
    return float(pulp.value(model.problem.objective)), total, t_build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-large", action="store_true", help="skip the 100k × 20k case")
    ap.add_argument("--skip-spopt", action="store_true", help="geoplan only (no ratio)")
    args = ap.parse_args()

    n, m, p = 10_000, 2_000, 20
    w, t = instance(n, m, 10_000.0, args.seed)
    print(f"instance: {n} demand x {m} candidates, p={p}, cutoff {CUTOFF:g} min, "
          f"{t.nnz:,} stored times (density {t.nnz / (n * m):.3%})")
    t0 = time.perf_counter()
    res = MCLP(SitingProblem(weights=w, times=t), p=p, cutoff=CUTOFF).solve(
        "exact", mip_gap=0.0, time_limit=600)
    t_geo = time.perf_counter() - t0
    print(f"geoplan exact : objective {res.objective:,.0f}  status {res.status}  "
          f"gap {res.gap}  {t_geo:.2f} s  (groups after merge: {res.info['demand_groups']:,})")
    t0 = time.perf_counter()
    heur = MCLP(SitingProblem(weights=w, times=t), p=p, cutoff=CUTOFF).solve("heuristic")
    t_h = time.perf_counter() - t0
    print(f"geoplan heuristic: objective {heur.objective:,.0f}  bound {heur.bound:,.1f}  "
          f"gap {100 * heur.gap:.3f} %  {t_h:.2f} s")

    if not args.skip_large:
        # The large case: heuristic against the Lagrangian bound.
        nl, ml, pl = 100_000, 20_000, 200
        t0 = time.perf_counter()
        wl, tl = instance(nl, ml, 31_623.0, args.seed + 1)
        t_inst = time.perf_counter() - t0
        t0 = time.perf_counter()
        big = MCLP(SitingProblem(weights=wl, times=tl), p=pl, cutoff=CUTOFF).solve("heuristic")
        t_big = time.perf_counter() - t0
        print(f"large: {nl:,} demand x {ml:,} candidates, p={pl}, {tl.nnz:,} stored times "
              f"(instance {t_inst:.1f} s)")
        print(f"large heuristic: objective {big.objective:,.0f}  bound {big.bound:,.1f}  "
              f"gap {100 * big.gap:.3f} %  {t_big:.1f} s")

    if args.skip_spopt:
        return
    obj_s, t_s, t_build = run_spopt(w, t, p)
    print(f"spopt 0.7     : objective {obj_s:,.0f}  {t_s:.2f} s  (build {t_build:.2f} s)")
    same = abs(obj_s - res.objective) <= 1e-6 * max(1.0, obj_s)
    print(f"speedup_vs_spopt={t_s / t_geo:.1f} same_objective={str(same).lower()} "
          f"demand={n} candidates={m}")


if __name__ == "__main__":
    main()
