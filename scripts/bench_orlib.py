"""OR-Library p-median benchmark (pmed1–pmed40): exact (HiGHS) and heuristic.

Usage: ``python scripts/bench_orlib.py DIR [--method exact|heuristic|both] [--time-limit S]``

Prints one line per instance (and method) found in DIR, sorted by number:
``pmedK <objective> <seconds> <proven_optimal:true|false>``; then, after a blank line, a
table with the known optima (Beasley 1985 / OR-Library) and the gaps.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from geoplan.siting.orlib import read_orlib_pmed  # noqa: E402
from geoplan.siting.pmedian import PMedian  # noqa: E402

OPTIMA = {1: 5819, 2: 4093, 3: 4250, 4: 3034, 5: 1355, 6: 7824, 7: 5631, 8: 4445, 9: 2734,
          10: 1255, 11: 7696, 12: 6634, 13: 4374, 14: 2968, 15: 1729, 16: 8162, 17: 6999,
          18: 4809, 19: 2845, 20: 1789, 21: 9138, 22: 8579, 23: 4619, 24: 2961, 25: 1828,
          26: 9917, 27: 8307, 28: 4498, 29: 3033, 30: 1989, 31: 10086, 32: 9297, 33: 4700,
          34: 3013, 35: 10400, 36: 9934, 37: 5057, 38: 11060, 39: 9423, 40: 5128}


def _fmt(v: float) -> str:
    return str(round(v)) if abs(v - round(v)) < 1e-6 else f"{v:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--method", choices=("exact", "heuristic", "both"), default="both")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    files = sorted(args.dir.glob("pmed*.txt"), key=lambda p: int(re.findall(r"\d+", p.stem)[0]))
    methods = ("exact", "heuristic") if args.method == "both" else (args.method,)
    rows = []
    for f in files:
        k = int(re.findall(r"\d+", f.stem)[0])
        prob, p = read_orlib_pmed(f)
        rec = {"k": k, "n": prob.n_demand, "p": p}
        for m in methods:
            t0 = time.perf_counter()
            res = PMedian(prob, p).solve(m, time_limit=args.time_limit, seed=args.seed)
            dt = time.perf_counter() - t0
            print(f"pmed{k} {_fmt(res.objective)} {dt:.2f} "
                  f"{str(res.status == 'optimal').lower()}", flush=True)
            rec[m] = (res.objective, dt, res.status == "optimal", res.gap)
        rows.append(rec)
    print()
    print("| instance | n | p | optimum | " + " | ".join(
        f"{m} objective | {m} s | {m} proven | {m} gap to optimum %" for m in methods) + " |")
    print("|---|---|---|---|" + "---|---|---|---|" * len(methods))
    gaps: dict[str, list[float]] = {m: [] for m in methods}
    for r in rows:
        opt = OPTIMA.get(r["k"])
        cells = []
        for m in methods:
            obj, dt, proven, _ = r[m]
            gap = 100 * (obj - opt) / opt if opt else float("nan")
            gaps[m].append(gap)
            cells.append(f"{_fmt(obj)} | {dt:.1f} | {'yes' if proven else 'no'} | {gap:.3f}")
        print(f"| pmed{r['k']} | {r['n']} | {r['p']} | {opt} | " + " | ".join(cells) + " |")
    for m in methods:
        if gaps[m]:
            print(f"{m}: mean gap {sum(gaps[m]) / len(gaps[m]):.4f} %, max {max(gaps[m]):.4f} %, "
                  f"optimum matched on {sum(g < 1e-9 for g in gaps[m])}/{len(gaps[m])}")


if __name__ == "__main__":
    main()
