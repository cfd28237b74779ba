"""Benchmark: geoplan's OSM PBF path against osmnx's graph_from_xml on a synthetic city.

For each size (km²) a synthetic city is written with pyosmium, once as ``.osm.pbf`` and once
as ``.osm`` XML with the same objects: a street grid (150 m blocks; residential, tertiary and
secondary streets), and in every block a residential compound (``landuse=residential``) with
16 buildings, a footway across it (with steps in every fifth block) joined by a second
footway, and a dead-end service road (``access=private`` in every seventh block).

Each reader runs in its own subprocess; wall time and peak memory (max RSS of that child,
from ``os.wait4``) are measured from outside:

* ``pbf``: geoplan's path, :func:`geoplan.sources.osm_read.read_osm` then
  :func:`geoplan.network.arraygraph.build_walk_network_arrays` (the walking network), and
  the buildings/landuse of the same pass (:func:`geoplan.sources.osm.features_from_tables`)
  reported separately;
* ``pbf_clip``: the same, cut while read to a 2 km x 2 km study area in the middle plus
  the default walking buffer (15 min at 3.6 km/h + 300 m snap limit = 1200 m), to show
  that time and memory follow the study area, not the file;
* ``osmnx_xml``: ``osmnx.graph_from_xml(bidirectional=True, simplify=True)`` on the XML,
  stopped after ``--osmnx-timeout`` seconds.

The last line is ``pbf_speedup_vs_osmnx_xml=<x> km2=<n> nodes=<n> seconds=<s>
peak_gb=<g>`` for the largest size both readers finished (nodes, seconds and memory of the
PBF path). Usage: ``python scripts/bench_osm_read.py [--sizes 4 16 64 256]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LON0, LAT0 = 121.40, 31.20
M_PER_DEG_LAT = 110_900.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
BLOCK = 150.0  # street spacing, metres
STEP = 50.0  # node spacing along streets


def write_city(km2: float, pbf: Path, xml: Path) -> dict[str, int]:
    """Write the synthetic city of ``km2`` square kilometres to ``pbf`` and ``xml``."""
    import osmium
    from osmium.osm.mutable import Node, Way

    nb = max(1, round(math.sqrt(km2) * 1000 / BLOCK))
    per = int(BLOCK / STEP)  # lattice steps per block (3)
    side = nb * per + 1
    writers = [osmium.SimpleWriter(osmium.io.File(str(pbf), "pbf")),
               osmium.SimpleWriter(osmium.io.File(str(xml), "osm"))]
    counts = {"nodes": 0, "ways": 0}
    next_node = [10 * side * side + 1]
    next_way = [1]

    def loc(x: float, y: float) -> osmium.osm.Location:
        return osmium.osm.Location(LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT)

    def lattice_id(i: int, j: int) -> int:
        return 1 + i * side + j

    def add_node(nid: int, x: float, y: float) -> None:
        n = Node(id=nid, location=loc(x, y), version=1)
        for w in writers:
            w.add_node(n)
        counts["nodes"] += 1

    def new_node(x: float, y: float) -> int:
        nid = next_node[0]
        next_node[0] += 1
        add_node(nid, x, y)
        return nid

    # street lattice nodes (on lines every `per` steps), written first
    for i in range(side):
        for j in range(side):
            if i % per == 0 or j % per == 0:
                add_node(lattice_id(i, j), i * STEP, j * STEP)
    ways: list[tuple[list[int], dict[str, str]]] = []

    def street_tags(k: int) -> dict[str, str]:
        if k % 8 == 0:
            return {"highway": "secondary", "name": f"Road {k}"}
        if k % 4 == 0:
            return {"highway": "tertiary", "name": f"Road {k}"}
        return {"highway": "residential", "name": f"Lane {k}"}

    for k in range(nb + 1):
        for b in range(nb):
            ways.append(([lattice_id(k * per, b * per + t) for t in range(per + 1)],
                         street_tags(k)))
            ways.append(([lattice_id(b * per + t, k * per) for t in range(per + 1)],
                         street_tags(k + 1)))
    for bi in range(nb):
        for bj in range(nb):
            x0, y0 = bi * BLOCK, bj * BLOCK
            blk = bi * nb + bj
            c = [new_node(x0 + 8, y0 + 8), new_node(x0 + BLOCK - 8, y0 + 8),
                 new_node(x0 + BLOCK - 8, y0 + BLOCK - 8), new_node(x0 + 8, y0 + BLOCK - 8)]
            ways.append(([*c, c[0]], {"landuse": "residential", "name": f"Compound {blk}"}))
            for a in range(4):
                for b in range(4):
                    bx, by = x0 + 14 + a * 33, y0 + 14 + b * 33
                    if 40 < bx - x0 < 62:
                        continue  # the footway corridor
                    r = [new_node(bx, by), new_node(bx + 20, by), new_node(bx + 20, by + 10),
                         new_node(bx + 10, by + 12), new_node(bx, by + 10)]
                    ways.append(([*r, r[0]], {"building": "residential",
                                              "building:levels": str(6 + (a + b) % 12)}))
            # footway south -> north across the block, steps in every fifth block
            fx = x0 + STEP
            south = lattice_id(bi * per + 1, bj * per)
            north = lattice_id(bi * per + 1, bj * per + per)
            mids = [new_node(fx, y0 + 25 * t) for t in range(1, 6)]
            path = [south, *mids, north]
            if blk % 5 == 0:
                ways.append((path[:3], {"highway": "footway"}))
                ways.append((path[2:4], {"highway": "steps"}))
                ways.append((path[3:], {"highway": "footway"}))
            else:
                ways.append((path, {"highway": "footway"}))
            # a second footway from the west street to the first one
            west = lattice_id(bi * per, bj * per + 2)
            ways.append(([west, new_node(x0 + 20, y0 + 100), mids[3]],
                         {"highway": "footway", "surface": "paving_stones"}))
            # dead-end service road from the east street
            east = lattice_id(bi * per + per, bj * per + 1)
            tags = {"highway": "service"}
            if blk % 7 == 0:
                tags["access"] = "private"
            ways.append(([east, new_node(x0 + BLOCK - 25, y0 + STEP),
                          new_node(x0 + BLOCK - 45, y0 + STEP)], tags))
    for refs, tags in ways:
        w = Way(id=next_way[0], nodes=refs, tags=tags, version=1)
        next_way[0] += 1
        for wr in writers:
            wr.add_way(w)
        counts["ways"] += 1
    for wr in writers:
        wr.close()
    return counts


def worker(kind: str, path: str) -> None:
    """Run one reader in this process and print its result as JSON."""
    t0 = time.perf_counter()
    if kind in ("pbf", "pbf_clip"):
        from geoplan.config import DEFAULT_WALKABLE_HIGHWAYS
        from geoplan.network.arraygraph import build_walk_network_arrays
        from geoplan.sources.osm import features_from_tables
        from geoplan.sources.osm_read import read_osm

        clip = None
        if kind == "pbf_clip":
            import geopandas as gpd
            import shapely.affinity

            side = float(path.rsplit("city", 1)[1].split(".osm")[0]) ** 0.5 * 1000
            c = side / 2
            study = shapely.box(c - 1000, c - 1000, c + 1000, c + 1000)
            study = shapely.affinity.affine_transform(study, [1 / M_PER_DEG_LON, 0, 0,
                                                              1 / M_PER_DEG_LAT, LON0, LAT0])
            gs = gpd.GeoSeries([study], crs=4326)
            utm = gs.estimate_utm_crs()
            clip = gs.to_crs(utm).buffer(15 * 60 * 1.0 + 300).to_crs(4326).iloc[0]
        t1 = time.perf_counter()
        tables = read_osm((Path(path),), clip)
        t2 = time.perf_counter()
        net = build_walk_network_arrays(tables, 1.0, 2.0, DEFAULT_WALKABLE_HIGHWAYS)
        t3 = time.perf_counter()
        feats = features_from_tables(tables)
        t4 = time.perf_counter()
        out = {"nodes": net.n_nodes, "edges": net.n_edges, "import_s": t1 - t0,
               "read_s": t2 - t1, "build_s": t3 - t2, "network_s": t3 - t1,
               "features_s": t4 - t3, "features": len(feats)}
    else:
        import osmnx as ox

        t1 = time.perf_counter()
        g = ox.graph_from_xml(path, bidirectional=True, simplify=True, retain_all=False)
        t2 = time.perf_counter()
        out = {"nodes": g.number_of_nodes(), "edges": g.number_of_edges(),
               "import_s": t1 - t0, "network_s": t2 - t1}
    print(json.dumps(out))


def run_child(kind: str, path: Path, timeout: float) -> dict[str, float] | None:
    """Run a reader in a subprocess; wall time and its own max RSS (os.wait4)."""
    cmd = [sys.executable, __file__, "--worker", kind, str(path)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not out.strip():
        return None
    res = json.loads(out.strip().splitlines()[-1])
    res["wall_s"] = wall
    res["peak_gb"] = usage.ru_maxrss / 1024 / 1024  # ru_maxrss is in KiB on Linux
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[4, 16, 64, 256])
    ap.add_argument("--osmnx-timeout", type=float, default=300.0,
                    help="seconds after which the osmnx XML run is stopped (default 300)")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    best = None
    with tempfile.TemporaryDirectory(prefix="geoplan-bench-osm-") as tmp:
        for km2 in args.sizes:
            pbf, xml = Path(tmp) / f"city{km2:g}.osm.pbf", Path(tmp) / f"city{km2:g}.osm"
            t0 = time.perf_counter()
            counts = write_city(km2, pbf, xml)
            print(f"km2={km2:g}: wrote {counts['nodes']} nodes, {counts['ways']} ways in "
                  f"{time.perf_counter() - t0:.1f} s (pbf {pbf.stat().st_size / 2**20:.1f} MB, "
                  f"xml {xml.stat().st_size / 2**20:.1f} MB)", flush=True)
            p = run_child("pbf", pbf, 3600)
            if p is None:
                print(f"km2={km2:g}: pbf path failed", flush=True)
                continue
            print(f"km2={km2:g} pbf: wall {p['wall_s']:.2f} s (network {p['network_s']:.2f} s "
                  f"= read {p['read_s']:.2f} + build {p['build_s']:.2f}; features "
                  f"{p['features_s']:.2f} s for {p['features']}; python+imports "
                  f"{p['import_s']:.2f} s), peak {p['peak_gb']:.2f} GB, nodes {p['nodes']}, "
                  f"edges {p['edges']}", flush=True)
            c = run_child("pbf_clip", pbf, 3600)
            if c is not None:
                print(f"km2={km2:g} pbf cut to a 4 km2 study area + 1200 m buffer: network "
                      f"{c['network_s']:.2f} s (read {c['read_s']:.2f} + build "
                      f"{c['build_s']:.2f}), peak {c['peak_gb']:.2f} GB, nodes {c['nodes']}",
                      flush=True)
            x = run_child("osmnx_xml", xml, args.osmnx_timeout)
            if x is None:
                print(f"km2={km2:g} osmnx graph_from_xml: stopped after "
                      f"{args.osmnx_timeout:.0f} s (timeout) or failed", flush=True)
                continue
            speed = x["network_s"] / p["network_s"]
            print(f"km2={km2:g} osmnx_xml: wall {x['wall_s']:.2f} s (graph_from_xml "
                  f"{x['network_s']:.2f} s), peak {x['peak_gb']:.2f} GB, nodes {x['nodes']}, "
                  f"edges {x['edges']} (all ways incl. buildings, directed); network speedup "
                  f"{speed:.1f}x, wall speedup {x['wall_s'] / p['wall_s']:.1f}x", flush=True)
            best = (speed, km2, p)
    if best is None:
        print("pbf_speedup_vs_osmnx_xml=nan km2=0 nodes=0 seconds=nan peak_gb=nan")
        return
    speed, km2, p = best
    print(f"pbf_speedup_vs_osmnx_xml={speed:.1f} km2={int(km2)} nodes={p['nodes']} "
          f"seconds={p['network_s']:.2f} peak_gb={p['peak_gb']:.2f}")


if __name__ == "__main__":
    main()
