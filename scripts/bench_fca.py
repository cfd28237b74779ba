"""Benchmark 2SFCA/E2SFCA: geoplan's sparse kernel against PySAL ``access`` on the same inputs.

Instance (seeded): ``--demand`` points and ``--facilities`` facilities scattered over a
square district sized for about 60 demand points per hectare-block; walking time =
straight-line distance × 1.3 detour / 60 m per min (3.6 km/h), kept up to 15 min (the
sparse matrix the reach engine produces); elderly 1–400 per point; supply 10–120 places.

For each method (2SFCA, E2SFCA step 1/0.68/0.22, E2SFCA Gaussian σ = 7.5 min) both tools
compute the accessibility of every demand point; the script prints the times, the ratio and
the largest relative difference. ``access`` gets the long (origin, destination, cost) table
it needs; building that table is not counted against it.

The last line is machine-readable:
``speedup_vs_access=<min ratio over methods> max_rel_diff=<float> pairs=<int>``
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

from geoplan.analysis.fca import Decay, floating_catchment  # noqa: E402
from tests.access_reference import access_scores  # noqa: E402

CATCH = 15.0


def instance(n: int, m: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    side = np.sqrt(n / 60.0) * 100.0 * 3  # metres
    dem = rng.uniform(0, side, (n, 2))
    fac = rng.uniform(0, side, (m, 2))
    radius = CATCH * 60.0 / 1.3
    pairs = cKDTree(fac).sparse_distance_matrix(cKDTree(dem), radius, output_type="coo_matrix")
    t = sp.csr_matrix((pairs.data * 1.3 / 60.0, (pairs.row, pairs.col)), shape=(m, n))
    return t, rng.integers(10, 121, m).astype(float), rng.integers(1, 401, n).astype(float)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--demand", type=int, default=20_000)
    ap.add_argument("--facilities", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t, supply, demand = instance(args.demand, args.facilities, args.seed)
    print(f"instance: {args.demand} demand points, {args.facilities} facilities, "
          f"{t.nnz} pairs within {CATCH:g} min")
    decays = {"2sfca": Decay(), "e2sfca_step": Decay.luo_qi(CATCH),
              "e2sfca_gaussian": Decay("gaussian", sigma=7.5)}
    ratios, diffs = [], []
    for method, decay in decays.items():
        floating_catchment(t, supply, demand, CATCH, decay)  # warm-up
        reps = 5
        t0 = time.perf_counter()
        for _ in range(reps):
            ours = floating_catchment(t, supply, demand, CATCH, decay).access
        g_secs = (time.perf_counter() - t0) / reps
        ref, a_secs = access_scores(t, supply, demand, CATCH, method)
        ok = np.isfinite(ref)
        rel = float(np.max(np.abs(ours[ok] - ref[ok]) / np.maximum(np.abs(ref[ok]), 1e-300)))
        zero_elsewhere = bool(np.all(ours[~ok] == 0))
        ratios.append(a_secs / g_secs)
        diffs.append(rel)
        print(f"{method:16s} geoplan {g_secs * 1000:8.1f} ms   access {a_secs:8.2f} s   "
              f"ratio {a_secs / g_secs:8.1f}x   max rel diff {rel:.2e}   "
              f"points without access: {int((~ok).sum())} (0 in geoplan: {zero_elsewhere})")
    print(f"speedup_vs_access={min(ratios):.1f} max_rel_diff={max(diffs):.2e} pairs={t.nnz}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
