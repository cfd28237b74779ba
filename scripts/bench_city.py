"""Scale benchmark: ``geoplan run`` and one MCLP scenario on a generated city, 10k–1M nodes.

For each size (walking-network nodes after geoplan's simplification) a seeded city is
written into a temporary folder (never the repository), with pyosmium's writer:

* an OSM PBF: a street grid (150 m blocks, streets every 50 m node, residential /
  tertiary / secondary), in every block a residential compound (``landuse=residential``)
  with six buildings, a footway across it (``highway=steps`` in every fifth block), a second
  footway joining it from the west street and a dead-end service road from the east street
  (``access=private`` in every seventh); every 12th row of blocks an elevated road
  (``bridge=yes``, ``layer=1``; motorway and trunk alternately, not walkable) on its own
  nodes, so that pedestrians cross beneath it at grade, on the streets, at tagged
  ``highway=crossing`` nodes. About one building per walk node.
* residents' committees (one polygon per ~170 walk nodes: 5 x 5 blocks) with 60+/80+
  counts, 12-digit codes and their street (街道, 6 x 5 committees, 9-digit codes);
* facilities of the 8 categories of the Shanghai municipal elder-care map (one per ~250
  walk nodes, category shares as in the real map) with capacities;
* MCLP candidates: building centroids, 50,000 (or every building when fewer).

Each size then runs ``geoplan run`` and ``geoplan site --scenario mclp`` as subprocesses
(wall time and peak memory of each child from ``os.wait4``), reads the per-step timings
from their manifests, and prints a table per size (step, seconds, peak memory of the
command) and the fitted growth exponent of each step (least squares of log t on log n over
the sizes; steps above 1.15 are flagged as growing faster than n log n). The MCLP
(every building as demand, p = 500, mip_gap 1 %) reports its status and gap.

Usage::

    .venv/bin/python scripts/bench_city.py --quick            # CI smoke: 3k and 6k nodes
    .venv/bin/python scripts/bench_city.py --sizes 10k 30k 100k
    .venv/bin/python scripts/bench_city.py                    # 10k 30k 100k 300k 1M

Last line: ``nodes=<int> buildings=<int> facilities=<int> run_s=<float> site_s=<float>
peak_gb=<float>`` for the largest size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LON0, LAT0 = 121.20, 31.00
M_PER_DEG_LAT = 110_900.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0 + 0.2))
BLOCK = 150.0   # street spacing, metres
STEP = 50.0     # node spacing along streets
PER = int(BLOCK / STEP)
NODES_PER_BLOCK = 6.3   # walk nodes per block after simplification (measured)
COMMITTEE_BLOCKS = 5    # committees are 5 x 5 blocks (~170 walk nodes)
STREET_COMMITTEES = (6, 5)  # a street (街道) is 6 x 5 committees
ELEVATED_EVERY = 12     # rows of blocks between elevated roads
DISTRICT = "310199"
#: Shanghai municipal elder-care map: category code -> (share of points, capacity range).
CATEGORIES = {1: (686, (60, 400)), 2: (160, (20, 60)), 3: (601, (20, 60)),
              4: (1561, (50, 200)), 5: (248, (1, 5)), 6: (325, (300, 3000)),
              7: (189, (1, 5)), 8: (51, (100, 500))}
FACILITY_NODES = 250    # walk nodes per facility
CANDIDATES = 50_000
P_NEW = 500

CONFIG = """
[study_area]
name = "city"
district_code = "{district}"

[network]
osm_files = ["city.osm.pbf"]

[analysis]
required_types = ["canteen", "day_care", "care_centre", "community_org"]
seed = 1

[[facilities]]
label = "上海市养老服务地图(生成)"
path = "facilities.csv"
x = "lon"
y = "lat"
crs = "wgs84"
category_column = "category_code"
category_map = "shanghai-eldercare-map"
capacity_column = "capacity"

[areas]
source = "file"
path = "committees.geojson"
code_column = "code"
name_column = "name"
street_code_column = "street_code"
street_name_column = "street_name"
elderly60_column = "e60"
elderly80_column = "e80"

[output]
dir = "out/data"
maps_dir = "out/maps"
cache_dir = "out/cache"
lang = "zh"
basemap = "none"
offline = true
static_map = false

[accessibility]
types = ["canteen", "day_care", "care_centre"]
methods = ["2sfca", "e2sfca_step", "e2sfca_gaussian"]
supply = "capacity"
missing_supply = "median"

[gap_index]
uncovered = 0.5
access = 0.3
standards = 0.2

[standards]
profile = "shanghai-yangpu-2016"
district_name = "基准区"
elderly_total = {elderly_total}

[[scenarios]]
name = "mclp"
model = "mclp"
type = "canteen"
new = {p}
cutoff_min = 15
method = "exact"
mip_gap = 0.01
time_limit_s = 900
[scenarios.candidates]
file = "candidates.csv"
x = "lon"
y = "lat"
crs = "wgs84"
name_column = "name"
exclude_existing_m = 0
"""


def _lonlat(x: np.ndarray | float, y: np.ndarray | float) -> tuple:
    return LON0 + np.asarray(x) / M_PER_DEG_LON, LAT0 + np.asarray(y) / M_PER_DEG_LAT


def write_city(folder: Path, nodes: int, seed: int = 0) -> dict[str, int]:
    """Write the generated city of about ``nodes`` walk nodes into ``folder``.

    Returns counts (blocks, buildings, facilities, committees, streets, candidates).
    """
    import geopandas as gpd
    import osmium
    import pandas as pd
    import shapely
    from osmium.osm.mutable import Node, Way

    rng = np.random.default_rng(seed)
    nb = max(COMMITTEE_BLOCKS, round(math.sqrt(nodes / NODES_PER_BLOCK)))
    nb = COMMITTEE_BLOCKS * math.ceil(nb / COMMITTEE_BLOCKS)   # whole committees
    side = nb * PER + 1
    pbf = folder / "city.osm.pbf"
    if pbf.exists():
        pbf.unlink()
    wr = osmium.SimpleWriter(str(pbf))
    next_node = [10 * side * side + 1]
    ways: list[tuple[list[int], dict[str, str]]] = []
    crossing_ids: set[int] = set()

    def lattice_id(i: int, j: int) -> int:
        return 1 + i * side + j

    def new_node(x: float, y: float) -> int:
        nid = next_node[0]
        next_node[0] += 1
        lon, lat = _lonlat(x, y)
        wr.add_node(Node(id=nid, location=(float(lon), float(lat)), version=1))
        return nid

    elevated_rows = [r for r in range(ELEVATED_EVERY // 2, nb, ELEVATED_EVERY)]
    # street lattice nodes (on lines every PER steps); crossings beneath elevated roads
    for i in range(side):
        for j in range(side):
            if i % PER == 0 or j % PER == 0:
                lon, lat = _lonlat(i * STEP, j * STEP)
                tags = {}
                if i % PER == 0 and any(j == r * PER + 1 for r in elevated_rows):
                    tags = {"highway": "crossing", "crossing": "traffic_signals"}
                    crossing_ids.add(lattice_id(i, j))
                wr.add_node(Node(id=lattice_id(i, j), location=(float(lon), float(lat)),
                                 version=1, tags=tags))

    def street_tags(k: int) -> dict[str, str]:
        if k % 8 == 0:
            return {"highway": "secondary", "name": f"干道{k}号路"}
        if k % 4 == 0:
            return {"highway": "tertiary", "name": f"支路{k}号路"}
        return {"highway": "residential", "name": f"里弄{k}"}

    for k in range(nb + 1):
        for b in range(nb):
            ways.append(([lattice_id(k * PER, b * PER + t) for t in range(PER + 1)],
                         street_tags(k)))
            ways.append(([lattice_id(b * PER + t, k * PER) for t in range(PER + 1)],
                         street_tags(k + 1)))
    # elevated roads: own nodes every 50 m, 25 m north of a row's south street + 25 m,
    # in segments of 10 blocks; no node shared with the streets beneath
    for n_el, r in enumerate(elevated_rows):
        y = r * BLOCK + STEP + 10.0
        hw = "motorway" if n_el % 2 == 0 else "trunk"
        for s0 in range(0, nb, 10):
            s1 = min(nb, s0 + 10)
            refs = [new_node(t * STEP + 5.0, y) for t in range(s0 * PER, s1 * PER + 1)]
            ways.append((refs, {"highway": hw, "bridge": "yes", "layer": "1",
                                "name": f"高架{n_el}号", "oneway": "yes"}))
    buildings = 0
    bx_off = (14.0, 64.0, 104.0)
    by_off = (14.0, 60.0)
    for bi in range(nb):
        for bj in range(nb):
            x0, y0 = bi * BLOCK, bj * BLOCK
            blk = bi * nb + bj
            c = [new_node(x0 + 8, y0 + 8), new_node(x0 + BLOCK - 8, y0 + 8),
                 new_node(x0 + BLOCK - 8, y0 + BLOCK - 8), new_node(x0 + 8, y0 + BLOCK - 8)]
            ways.append(([*c, c[0]], {"landuse": "residential", "name": f"小区{blk}"}))
            for a, bx in enumerate(bx_off):
                for b, by in enumerate(by_off):
                    bx_, by_ = x0 + bx + (8 if a == 1 else 0), y0 + by + (60 if b else 0)
                    r_ = [new_node(bx_, by_), new_node(bx_ + 22, by_),
                          new_node(bx_ + 22, by_ + 12), new_node(bx_ + 11, by_ + 14),
                          new_node(bx_, by_ + 12)]
                    ways.append(([*r_, r_[0]], {"building": "residential",
                                                "building:levels": str(6 + (a + b + blk) % 12)}))
                    buildings += 1
            # footway south -> north across the block, steps in every fifth block
            south = lattice_id(bi * PER + 1, bj * PER)
            north = lattice_id(bi * PER + 1, bj * PER + PER)
            mids = [new_node(x0 + STEP, y0 + 25 * t) for t in range(1, 6)]
            path = [south, *mids, north]
            if blk % 5 == 0:
                ways.append((path[:3], {"highway": "footway"}))
                ways.append((path[2:4], {"highway": "steps"}))
                ways.append((path[3:], {"highway": "footway"}))
            else:
                ways.append((path, {"highway": "footway"}))
            # a second footway from the west street to the first one
            west = lattice_id(bi * PER, bj * PER + 2)
            ways.append(([west, new_node(x0 + 20, y0 + 100), mids[3]],
                         {"highway": "footway", "surface": "paving_stones"}))
            # dead-end service road from the east street
            east = lattice_id(bi * PER + PER, bj * PER + 1)
            tags = {"highway": "service"}
            if blk % 7 == 0:
                tags["access"] = "private"
            ways.append(([east, new_node(x0 + BLOCK - 25, y0 + STEP),
                          new_node(x0 + BLOCK - 45, y0 + STEP)], tags))
    for wid, (refs, tags) in enumerate(ways, start=1):
        wr.add_way(Way(id=wid, nodes=refs, tags=tags, version=1))
    wr.close()

    # committees (5 x 5 blocks) and streets (6 x 5 committees)
    size = nb * BLOCK
    nc = nb // COMMITTEE_BLOCKS
    edges = np.arange(nc + 1) * COMMITTEE_BLOCKS * BLOCK
    edges[0], edges[-1] = -30.0, size + 30.0
    ci, cj = np.meshgrid(np.arange(nc), np.arange(nc), indexing="ij")
    ci, cj = ci.ravel(), cj.ravel()
    x0, y0 = _lonlat(edges[ci], edges[cj])
    x1, y1 = _lonlat(edges[ci + 1], edges[cj + 1])
    polys = shapely.box(x0, y0, x1, y1)
    si, sj = ci // STREET_COMMITTEES[0], cj // STREET_COMMITTEES[1]
    s_per_row = math.ceil(nc / STREET_COMMITTEES[1])
    street_no = si * s_per_row + sj + 1
    street_code = np.char.add(DISTRICT, np.char.zfill(street_no.astype(str), 3))
    order = np.lexsort((cj, ci, street_no))
    within = np.empty(len(ci), dtype=np.int64)
    _, first = np.unique(street_no[order], return_index=True)
    pos = np.arange(len(order)) - np.repeat(first, np.diff(np.append(first, len(order))))
    within[order] = pos + 1
    code = np.char.add(street_code, np.char.zfill(within.astype(str), 3))
    e60 = rng.integers(700, 1300, len(ci))
    e80 = (e60 * rng.uniform(0.12, 0.2, len(ci))).astype(np.int64)
    gpd.GeoDataFrame({
        "code": code, "name": np.char.add(np.char.add("居委", code.astype(str)), ""),
        "street_code": street_code, "street_name": np.char.add("街道", street_code),
        "e60": e60, "e80": e80}, geometry=polys, crs=4326).to_file(
            folder / "committees.geojson", driver="GeoJSON")

    # facilities: the 8 categories, shares as in the real map, with capacities
    n_fac = max(8, round(nb * nb * NODES_PER_BLOCK / FACILITY_NODES))
    cats = np.array(list(CATEGORIES))
    share = np.array([v[0] for v in CATEGORIES.values()], dtype=float)
    cat = rng.choice(cats, n_fac, p=share / share.sum())
    cat[:8] = cats  # every category present
    lo = np.array([CATEGORIES[c][1][0] for c in cat])
    hi = np.array([CATEGORIES[c][1][1] for c in cat])
    cap = rng.integers(lo, hi + 1)
    fx, fy = rng.uniform(10, size - 10, n_fac), rng.uniform(10, size - 10, n_fac)
    flon, flat = _lonlat(fx, fy)
    pd.DataFrame({"name": [f"设施{i}" for i in range(n_fac)], "category_code": cat,
                  "lon": flon.round(7), "lat": flat.round(7), "capacity": cap}).to_csv(
        folder / "facilities.csv", index=False)

    # candidates: building centroids (seeded sample of at most CANDIDATES)
    n_cand = min(CANDIDATES, buildings)
    pick = np.sort(rng.choice(buildings, n_cand, replace=False))
    blk, k = pick // 6, pick % 6
    bi, bj = blk // nb, blk % nb
    a, b = k // 2, k % 2
    cx = bi * BLOCK + np.asarray(bx_off)[a] + np.where(a == 1, 8, 0) + 11
    cy = bj * BLOCK + np.asarray(by_off)[b] + np.where(b == 1, 60, 0) + 7
    clon, clat = _lonlat(cx, cy)
    pd.DataFrame({"name": [f"候选{i}" for i in range(n_cand)], "lon": clon.round(7),
                  "lat": clat.round(7)}).to_csv(folder / "candidates.csv", index=False)
    (folder / "city.toml").write_text(CONFIG.format(
        district=DISTRICT, elderly_total=int(e60.sum()), p=P_NEW), encoding="utf-8")
    return {"blocks": nb * nb, "buildings": buildings, "facilities": n_fac,
            "committees": len(ci), "streets": int(street_no.max()), "candidates": n_cand,
            "pbf_mb": round(pbf.stat().st_size / 2**20, 1)}


def run_child(cmd: list[str], cwd: Path, log: Path, timeout: float) -> tuple[int, float, float]:
    """Run ``cmd``; return (exit code, wall seconds, peak RSS in GB of that child)."""
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - t0, usage.ru_maxrss / 2**20


def check_map(html: Path, timeout: float = 300.0) -> str:
    """Last line of ``scripts/check_map.py HTML`` (time to open the map in headless
    chromium) when that script exists; else an empty string (the HTML size is printed)."""
    script = ROOT / "scripts" / "check_map.py"
    if not script.exists():
        return ""
    try:
        r = subprocess.run([sys.executable, str(script), str(html)], capture_output=True,
                           text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"no answer within {timeout:g} s"
    lines = (r.stdout or r.stderr).strip().splitlines()
    return lines[-1] if lines else f"exit {r.returncode}"


def _steps(manifest: Path) -> tuple[list[tuple[str, float]], dict]:
    man = json.loads(manifest.read_text(encoding="utf-8"))
    return [(s["name"], float(s["seconds"])) for s in man.get("steps", [])], man


def _parse_size(text: str) -> int:
    t = text.strip().lower()
    mult = 1_000_000 if t.endswith("m") else 1_000 if t.endswith("k") else 1
    return int(float(t.rstrip("mk")) * mult)


def fit_exponent(n: list[float], t: list[float]) -> float:
    """Slope of the least-squares line of log t on log n (nan with fewer than 2 sizes)."""
    n_, t_ = np.asarray(n, float), np.maximum(np.asarray(t, float), 1e-3)
    if len(n_) < 2 or np.ptp(np.log(n_)) == 0:
        return float("nan")
    return float(np.polyfit(np.log(n_), np.log(t_), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", default=["10k", "30k", "100k", "300k", "1M"],
                    help="walk-node counts, e.g. 10k 30k 100k 300k 1M")
    ap.add_argument("--quick", action="store_true", help="CI smoke: 3k and 6k nodes")
    ap.add_argument("--work", type=Path, default=None,
                    help="work folder (default: a temporary folder, removed afterwards)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--no-site", action="store_true", help="skip the MCLP scenario")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per command")
    args = ap.parse_args()
    sizes = [3000, 6000] if args.quick else sorted(_parse_size(s) for s in args.sizes)
    tmp = args.work or Path(tempfile.mkdtemp(prefix="geoplan-bench-city-"))
    tmp.mkdir(parents=True, exist_ok=True)
    if ROOT in tmp.resolve().parents:
        sys.exit(f"--work {tmp}: must not lie inside the repository")
    py = sys.executable
    rows: list[dict] = []
    try:
        for n in sizes:
            folder = tmp / f"n{n}"
            folder.mkdir(exist_ok=True)
            t0 = time.perf_counter()
            counts = write_city(folder, n)
            gen_s = time.perf_counter() - t0
            print(f"\n=== target {n:,} walk nodes: {counts['blocks']:,} blocks, "
                  f"{counts['buildings']:,} buildings, {counts['facilities']:,} facilities, "
                  f"{counts['committees']:,} committees in {counts['streets']} streets, "
                  f"{counts['candidates']:,} candidates; PBF {counts['pbf_mb']} MB, "
                  f"written in {gen_s:.1f} s ({folder})", flush=True)
            shutil.rmtree(folder / "out", ignore_errors=True)
            rc, run_s, run_gb = run_child([py, "-m", "geoplan", "run", "city.toml"], folder,
                                          folder / "run.log", args.timeout)
            if rc != 0:
                print(f"geoplan run failed (exit {rc}); see {folder / 'run.log'}:")
                print((folder / "run.log").read_text(encoding="utf-8")[-3000:])
                break
            steps, man = _steps(folder / "out" / "data" / "manifest.json")
            cnt = man.get("counts", {})
            row = {"n": n, "nodes": int(cnt.get("network_nodes", 0)),
                   "buildings": counts["buildings"], "facilities": int(cnt.get("facilities", 0)),
                   "demand": int(cnt.get("demand_points", 0)), "run_s": run_s,
                   "run_gb": run_gb, "steps": dict(steps), "site_s": float("nan"),
                   "site_gb": float("nan"), "site_wall": float("nan")}
            html = folder / "out" / "maps" / "city-coverage.html"
            row["map_mb"] = html.stat().st_size / 2**20 if html.exists() else float("nan")
            row["map_check"] = check_map(html) if html.exists() else ""
            if not args.no_site:
                rc, site_wall, site_gb = run_child(
                    [py, "-m", "geoplan", "site", "city.toml", "--scenario", "mclp"], folder,
                    folder / "site.log", args.timeout)
                if rc != 0:
                    print(f"geoplan site failed (exit {rc}); see {folder / 'site.log'}:")
                    print((folder / "site.log").read_text(encoding="utf-8")[-3000:])
                else:
                    mans = sorted((folder / "out").rglob("*mclp*manifest.json"))
                    ssteps, sman = _steps(mans[0])
                    row["site_s"] = dict(ssteps).get("scenario mclp", float("nan"))
                    row["site_gb"], row["site_wall"] = site_gb, site_wall
                    summ = sman.get("counts", {}).get("scenario_mclp", {})
                    row["site_status"] = summ.get("status")
                    row["site_gap"] = summ.get("gap")
                    row["site_method"] = summ.get("method")
                    row["site_objective"] = summ.get("objective")
            rows.append(row)
            print(f"nodes={row['nodes']:,} edges={cnt.get('network_edges', 0):,} demand "
                  f"points={row['demand']:,} facilities placed={row['facilities']:,}")
            print(f"{'step':<34} {'seconds':>9}")
            for name, sec in steps:
                print(f"{name:<34} {sec:>9.2f}")
            print(f"{'geoplan run (wall, incl. start-up)':<34} {run_s:>9.2f}   peak "
                  f"{run_gb:.2f} GB   map HTML {row['map_mb']:.1f} MB")
            if row["map_check"]:
                print(f"map check: {row['map_check']}")
            if not args.no_site and np.isfinite(row["site_s"]):
                gap = row.get("site_gap")
                gap_s = "n/a" if gap is None else f"{100 * float(gap):.3f} %"
                print(f"{'MCLP scenario (p=' + str(P_NEW) + ')':<34} {row['site_s']:>9.2f}   "
                      f"status {row.get('site_status')} ({row.get('site_method')}), gap "
                      f"{gap_s}; geoplan site wall {row['site_wall']:.1f} s, peak "
                      f"{row['site_gb']:.2f} GB")
            print(f"load average: {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        if not (args.keep or args.work):
            shutil.rmtree(tmp, ignore_errors=True)
    if not rows:
        print("nodes=0 buildings=0 facilities=0 run_s=nan site_s=nan peak_gb=nan")
        return
    if len(rows) >= 2:
        print("\ngrowth exponent of each step (log t on log n, "
              f"{rows[0]['nodes']:,} to {rows[-1]['nodes']:,} nodes; > 1.15 = worse than n log n)")
        names = list(dict.fromkeys(k for r in rows for k in r["steps"]))
        series = {k: [r["steps"].get(k, np.nan) for r in rows] for k in names}
        series["geoplan run (wall)"] = [r["run_s"] for r in rows]
        series["MCLP scenario"] = [r["site_s"] for r in rows]
        series["peak memory (run)"] = [r["run_gb"] for r in rows]
        for k, ts in series.items():
            ok = [i for i, t in enumerate(ts) if np.isfinite(t)]
            e = fit_exponent([rows[i]["nodes"] for i in ok], [ts[i] for i in ok])
            flag = "  <-- worse than n log n" if e > 1.15 else ""
            print(f"{k:<34} {e:>6.2f}{flag}")
    last = rows[-1]
    peak = max(last["run_gb"], last["site_gb"] if np.isfinite(last["site_gb"]) else 0.0)
    print(f"nodes={last['nodes']} buildings={last['buildings']} "
          f"facilities={last['facilities']} run_s={last['run_s']:.1f} "
          f"site_s={last['site_s']:.1f} peak_gb={peak:.2f}")


if __name__ == "__main__":
    main()
