"""Benchmark ``geoplan batch``: N generated districts on 1 and on 2 Dask workers.

Each district is a seeded street grid (residential streets and footways 100 m apart, one
six-storey building per block, so about one building per walk node), residents'
committees of about 170 walk nodes with 60+/80+ counts, and canteens and day-care
centres at about one per 250 walk nodes. Every district has its own OSM file and config
(the list-of-configs form of ``geoplan batch``), so each task's cost is its district's,
not the city's.

The batch runs twice in one process, each time into fresh output and cache folders (the
network is built in both): on an embedded LocalCluster of 1 worker, then of 2 workers.
Cluster start-up and a tiny warm-up district per worker (imports, numba compilation) are
timed apart from the batch: a national run pays them once per worker.
Parallel efficiency = seconds_1 / (2 · seconds_2). The national estimate scales the
measured per-district cost (1 worker) to 2,800 counties on 100 workers at that efficiency,
at the measured size and, assuming n·log n growth, at 50,000 walk nodes per county.

    .venv/bin/python scripts/bench_batch.py                  # 16 districts of ~3,000 nodes
    .venv/bin/python scripts/bench_batch.py --areas 16 --nodes 50000   # the issue's size

Last line: ``batch_efficiency=<float> areas=<int> workers=<int> seconds_1=<float>
seconds_2=<float>``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geoplan.batch import config_tasks, dask_client, run_area, run_batch

DLAT, DLON = 1 / 110_900.0, 1 / 95_000.0  # ~1 m in degrees near Shanghai (31.3 N)
STEP = 100.0
WARM = 99  # number of the tiny warm-up district

CONFIG = """
[study_area]
name = "d{k:02d}"
[network]
osm_files = ["d{k:02d}.osm"]
[analysis]
required_types = ["canteen", "day_care"]
[[facilities]]
type = "canteen"
path = "d{k:02d}-canteen.csv"
x = "lon"
y = "lat"
crs = "wgs84"
[[facilities]]
type = "day_care"
path = "d{k:02d}-day_care.csv"
x = "lon"
y = "lat"
crs = "wgs84"
[areas]
source = "file"
path = "d{k:02d}-committees.geojson"
elderly60_column = "e60"
elderly80_column = "e80"
[output]
dir = "{out}/d{k:02d}/data"
maps_dir = "{out}/d{k:02d}/maps"
cache_dir = "{out}/cache"
static_map = false
"""


def write_district(folder: Path, k: int, nodes: int, rng: np.random.Generator) -> None:
    """One district's OSM file, facility tables and committee polygons."""
    import geopandas as gpd
    import shapely

    g = max(4, round(math.sqrt(nodes)))
    lat0, lon0 = 31.0 + (k // 4) * 0.3, 121.0 + (k % 4) * 0.3  # districts far apart
    ii, jj = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
    east, north = ii.ravel() * STEP, jj.ravel() * STEP
    ids = 1 + ii.ravel() * g + jj.ravel()
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="bench">']
    lat, lon = lat0 + north * DLAT, lon0 + east * DLON
    out += [f' <node id="{n}" version="1" lat="{a:.7f}" lon="{o:.7f}"/>'
            for n, a, o in zip(ids, lat, lon, strict=True)]
    wid = 1
    for i in range(g):
        for hw, refs in (("residential" if i % 2 == 0 else "footway",
                          [1 + i * g + j for j in range(g)]),
                         ("residential" if i % 3 == 0 else "footway",
                          [1 + j * g + i for j in range(g)])):
            out.append(f' <way id="{wid}" version="1">')
            out += [f'  <nd ref="{r}"/>' for r in refs]
            out.append(f'  <tag k="highway" v="{hw}"/>\n </way>')
            wid += 1
    nid = g * g + 1
    for i in range(g - 1):
        for j in range(g - 1):
            e0, n0 = i * STEP + 25, j * STEP + 25
            refs = []
            for de, dn in ((0, 0), (50, 0), (50, 50), (0, 50)):
                out.append(f' <node id="{nid}" version="1" lat="{lat0 + (n0 + dn) * DLAT:.7f}"'
                           f' lon="{lon0 + (e0 + de) * DLON:.7f}"/>')
                refs.append(nid)
                nid += 1
            out.append(f' <way id="{wid}" version="1">')
            out += [f'  <nd ref="{r}"/>' for r in (*refs, refs[0])]
            out.append('  <tag k="building" v="residential"/>\n'
                       '  <tag k="building:levels" v="6"/>\n </way>')
            wid += 1
    out.append("</osm>")
    (folder / f"d{k:02d}.osm").write_text("\n".join(out), encoding="utf-8")
    side = g * STEP
    for t in ("canteen", "day_care"):
        n_fac = max(1, round(g * g / 250))
        e, n = rng.uniform(0, side - STEP, n_fac), rng.uniform(0, side - STEP, n_fac)
        rows = "\n".join(f"{t}{m},{lon0 + a * DLON:.7f},{lat0 + b * DLAT:.7f}"
                         for m, (a, b) in enumerate(zip(e, n, strict=True)))
        (folder / f"d{k:02d}-{t}.csv").write_text(f"name,lon,lat\n{rows}\n", encoding="utf-8")
    c = max(1, round(math.sqrt(g * g / 170)))  # c x c committees
    edges = np.linspace(-20, side, c + 1)
    polys, codes = [], []
    for a in range(c):
        for b in range(c):
            polys.append(shapely.box(lon0 + edges[a] * DLON, lat0 + edges[b] * DLAT,
                                     lon0 + edges[a + 1] * DLON, lat0 + edges[b + 1] * DLAT))
            codes.append(f"{k:02d}{a:03d}{b:03d}")
    e60 = rng.integers(300, 1500, len(polys))
    gpd.GeoDataFrame({"code": codes, "name": codes, "e60": e60, "e80": e60 // 8},
                     geometry=polys, crs=4326).to_file(folder / f"d{k:02d}-committees.geojson",
                                                       driver="GeoJSON")


def timed_batch(folder: Path, areas: int, workers: int, run: str) -> tuple[float, float, list]:
    """Write the configs of one run and time the batch on ``workers`` workers."""
    out = folder / run
    configs = []
    for k in range(areas):
        p = folder / f"{run}-d{k:02d}.toml"
        p.write_text(CONFIG.format(k=k, out=out.as_posix()), encoding="utf-8")
        configs.append(p)
    tasks = config_tasks(configs)
    warm = folder / f"{run}-warm.toml"
    warm.write_text(CONFIG.format(k=WARM, out=(folder / f"{run}-warm").as_posix()),
                    encoding="utf-8")
    t0 = time.perf_counter()
    with dask_client(workers=workers) as client:
        client.wait_for_workers(workers, timeout=120)
        # each worker's first area pays imports and numba compilation; a national run pays
        # that once per worker, so a tiny district warms every worker before the clock runs
        client.run(run_area, config_tasks([warm])[0])
        start = time.perf_counter() - t0
        t1 = time.perf_counter()
        res = run_batch(tasks, out / "batch", client=client, force=True, lang="en",
                        progress=lambda line: print("  " + line, flush=True))
        seconds = time.perf_counter() - t1
    failed = res.failed
    if len(failed):
        raise SystemExit(f"{len(failed)} districts failed: {failed['error'].iloc[0]}")
    nodes = []
    for t in tasks:
        man = json.loads((Path(t.raw["output"]["dir"]) / "manifest.json").read_text("utf-8"))
        nodes.append(man.get("counts", {}).get("network_nodes"))
    return seconds, start, nodes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--areas", type=int, default=16, help="districts (default 16)")
    ap.add_argument("--nodes", type=int, default=3000,
                    help="walk nodes per district (default 3,000; the issue's size is 50,000)")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--counties", type=int, default=2800)
    ap.add_argument("--cluster-workers", type=int, default=100)
    args = ap.parse_args()
    logging.getLogger("geoplan").setLevel(logging.WARNING)
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench_batch-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        for k in range(args.areas):
            write_district(folder, k, args.nodes, rng)
        write_district(folder, WARM, 100, np.random.default_rng(0))
        print(f"generated {args.areas} districts of ~{args.nodes:,} walk nodes in "
              f"{time.perf_counter() - t0:.1f} s")
        print("1 worker:")
        s1, start1, nodes = timed_batch(folder, args.areas, 1, "w1")
        print("2 workers:")
        s2, start2, _ = timed_batch(folder, args.areas, 2, "w2")
    known = [n for n in nodes if n]
    n_mean = float(np.mean(known)) if known else float(args.nodes)
    eff = s1 / (2 * s2)
    per = s1 / args.areas
    print(f"walk nodes per district: {n_mean:,.0f} (mean of the manifests)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} at the end (other "
          "processes share the cores: efficiency is a lower bound when load > cores)")
    print(f"1 worker:  {s1:.1f} s ({per:.2f} s per district; cluster start {start1:.1f} s)")
    print(f"2 workers: {s2:.1f} s (cluster start {start2:.1f} s)")
    print(f"parallel efficiency: {eff:.2f} (speed-up {s1 / s2:.2f}x on 2 workers; "
          "target >= 0.8)")
    w = args.cluster_workers
    waves = math.ceil(args.counties / w)
    est = waves * per / max(eff, 1e-9)
    scale = (50_000 * math.log(50_000)) / (n_mean * math.log(n_mean))
    print(f"estimate, {args.counties:,} counties on {w} workers: {waves} tasks per worker x "
          f"{per:.2f} s / efficiency {eff:.2f} = {est / 60:.1f} min at {n_mean:,.0f} nodes "
          f"per county; {est * scale / 3600:.1f} h at 50,000 nodes (n log n scaling, "
          f"x{scale:.1f})")
    print(f"batch_efficiency={eff:.3f} areas={args.areas} workers=2 seconds_1={s1:.2f} "
          f"seconds_2={s2:.2f}")


if __name__ == "__main__":
    main()
