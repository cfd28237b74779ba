"""Benchmark the p-median model on the OR-Library instances pmed1–pmed40 (Beasley 1985).

Usage::

    python scripts/bench_orlib.py DIR [--method exact|heuristic|both] [--time-limit S]
                                      [--seed N] [--only 1,5,10-12] [--markdown FILE]

For each ``pmed*.txt`` in DIR, in order of its number, stdout gets exactly one line per
instance and method::

    pmedK <objective> <seconds> <proven_optimal:true|false>

(with ``--method both``, the exact line comes first, then the heuristic line). The objective
is printed as an integer when it is integral; seconds are the model's own wall time (build and
solve; reading the file and the all-pairs shortest paths are not counted). After all instance
lines, a table goes to stderr: known optimum (literature), gap to it in %, the gap to the
method's own proven bound, and for ``both`` the heuristic's gap to the exact answer.
``--markdown`` also writes that table as Markdown.

The numba kernels are compiled (or loaded from their cache) on a tiny instance first, so
that the first instance is not charged for it.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from geoplan.siting.orlib import read_orlib_pmed  # noqa: E402
from geoplan.siting.pmedian import PMedian  # noqa: E402
from geoplan.siting.problem import SitingProblem  # noqa: E402

#: Proven optimal objective values from the literature (Beasley 1985 and later papers).
KNOWN_OPTIMUM = {
    1: 5819, 2: 4093, 3: 4250, 4: 3034, 5: 1355, 6: 7824, 7: 5631, 8: 4445, 9: 2734,
    10: 1255, 11: 7696, 12: 6634, 13: 4374, 14: 2968, 15: 1729, 16: 8162, 17: 6999,
    18: 4809, 19: 2845, 20: 1789, 21: 9138, 22: 8579, 23: 4619, 24: 2961, 25: 1828,
    26: 9917, 27: 8307, 28: 4498, 29: 3033, 30: 1989, 31: 10086, 32: 9297, 33: 4700,
    34: 3013, 35: 10400, 36: 9934, 37: 5057, 38: 11060, 39: 9423, 40: 5128,
}


def instance_files(folder: Path, only: set[int] | None) -> list[tuple[int, Path]]:
    """``pmed*.txt`` files of ``folder`` sorted by their number."""
    out = []
    for f in folder.glob("pmed*.txt"):
        m = re.fullmatch(r"pmed(\d+)\.txt", f.name)
        if m and (only is None or int(m.group(1)) in only):
            out.append((int(m.group(1)), f))
    return sorted(out)


def parse_only(text: str | None) -> set[int] | None:
    """``"1,5,10-12"`` → {1, 5, 10, 11, 12}."""
    if not text:
        return None
    out: set[int] = set()
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def fmt_obj(v: float) -> str:
    """Integer when integral, else six significant digits."""
    return f"{v:.0f}" if abs(v - round(v)) < 1e-6 else f"{v:.6g}"


def warm_up() -> None:
    """Compile (or load) the numba kernels on a tiny instance."""
    rng = np.random.default_rng(0)
    times = sp.random(12, 30, density=0.6, random_state=1, format="csr") * 10
    pr = SitingProblem(weights=rng.integers(1, 5, 30).astype(float), times=times)
    PMedian(pr, 3).solve(method="exact", time_limit=10)
    PMedian(pr, 3).solve(method="heuristic", time_limit=10)


def gap_pct(value: float, ref: float | None) -> float | None:
    """Relative gap of ``value`` above ``ref`` in %."""
    return None if ref is None else 100.0 * (value - ref) / ref


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path, help="folder with pmed1.txt … pmed40.txt")
    ap.add_argument("--method", choices=("exact", "heuristic", "both"), default="both")
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", help="instance numbers, e.g. 1,5,10-12")
    ap.add_argument("--threads", type=int, default=None, help="HiGHS threads")
    ap.add_argument("--markdown", type=Path, help="also write the table as Markdown")
    args = ap.parse_args(argv)

    files = instance_files(args.dir, parse_only(args.only))
    if not files:
        print(f"no pmed*.txt files in {args.dir}", file=sys.stderr)
        return 2
    methods = ["exact", "heuristic"] if args.method == "both" else [args.method]
    warm_up()
    rows = []
    for k, path in files:
        problem, p = read_orlib_pmed(path)
        row: dict = {"k": k, "n": problem.n_demand, "p": p, "opt": KNOWN_OPTIMUM.get(k)}
        for method in methods:
            t0 = time.perf_counter()
            res = PMedian(problem, p).solve(method=method, time_limit=args.time_limit,
                                            seed=args.seed, threads=args.threads)
            wall = time.perf_counter() - t0
            row[method] = res
            row[method + "_wall"] = wall
            print(f"pmed{k} {fmt_obj(res.objective)} {res.seconds:.2f} "
                  f"{'true' if res.proven_optimal else 'false'}", flush=True)
        rows.append(row)

    table = render_table(rows, methods)
    print("\n" + table, file=sys.stderr)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    return 0


def render_table(rows: list[dict], methods: list[str]) -> str:
    """Markdown table plus a summary of gaps."""
    head = ["instance", "n", "p", "optimum"]
    for m in methods:
        head += [f"{m} objective", f"{m} s", f"{m} proven", f"{m} gap to own bound %",
                 f"{m} gap to opt %"]
    if len(methods) == 2:
        head.append("heuristic gap to exact %")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    gaps: dict[str, list[float]] = {m: [] for m in methods}
    for r in rows:
        cells = [f"pmed{r['k']}", str(r["n"]), str(r["p"]),
                 "?" if r["opt"] is None else str(r["opt"])]
        for m in methods:
            res = r[m]
            g = gap_pct(res.objective, r["opt"])
            if g is not None:
                gaps[m].append(g)
            cells += [fmt_obj(res.objective), f"{res.seconds:.1f}",
                      "yes" if res.proven_optimal else "no",
                      "?" if res.gap is None else f"{100 * res.gap:.3f}",
                      "?" if g is None else f"{g:.3f}"]
        if len(methods) == 2:
            g = gap_pct(r["heuristic"].objective, r["exact"].objective)
            cells.append(f"{g:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for m in methods:
        res_list = [r[m] for r in rows]
        g = np.array(gaps[m]) if gaps[m] else np.array([np.nan])
        proven = [f"pmed{r['k']}" for r in rows if r[m].proven_optimal]
        lines.append(f"- {m}: mean gap to optimum {np.mean(g):.4f} %, max {np.max(g):.4f} %, "
                     f"at optimum {int(np.sum(np.abs(g) < 1e-9))}/{len(g)}, proven optimal "
                     f"{len(proven)}/{len(rows)}, max time "
                     f"{max(x.seconds for x in res_list):.1f} s, total "
                     f"{sum(x.seconds for x in res_list):.1f} s")
        not_proven = [f"pmed{r['k']}" for r in rows if not r[m].proven_optimal]
        if not_proven:
            lines.append(f"  - {m} not proven optimal: {', '.join(not_proven)}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
