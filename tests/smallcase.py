"""A small synthetic study area built inside tests (no demo data needed).

A 6 x 6 grid of streets 150 m apart with a six-storey building in every block, two
committee polygons with elderly counts, two canteens, and a tail of ways with different
``highway`` and ``name`` tags that the network simplification merges into one edge.
A ``geoplan run`` on it takes a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

from tests.osmxml import DLAT, DLON, LAT0, LON0, write_osm

CONFIG = """
[study_area]
name = "small"
[network]
osm_files = ["net.osm"]
[[facilities]]
type = "canteen"
path = "fac.csv"
x = "lon"
y = "lat"
crs = "wgs84"
[areas]
source = "file"
path = "areas.geojson"
elderly60_column = "e60"
elderly80_column = "e80"
[output]
dir = "@OUT@/data"
maps_dir = "@OUT@/maps"
cache_dir = "@CACHE@"
static_map = false
"""

N, STEP = 6, 150.0


def _lonlat(east_m: float, north_m: float) -> tuple[float, float]:
    return LON0 + east_m * DLON, LAT0 + north_m * DLAT


def write_network(path: Path) -> Path:
    """The grid, its buildings and the merged tail (see the module docstring)."""
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    for i in range(N):
        for j in range(N):
            nodes[1 + i * N + j] = (i * STEP, j * STEP)
    wid = 1
    for i in range(N):
        ways.append((wid, [1 + i * N + j for j in range(N)],
                     {"highway": "residential", "name": f"纵{i}路"}))
        ways.append((wid + 1, [1 + j * N + i for j in range(N)], {"highway": "footway"}))
        wid += 2
    # Two tails east of the grid: chains of ways with differing tags between degree-2
    # nodes, merged into one edge each by the simplification.
    nid = 500
    for row, tags in ((1, [("footway", "甲路"), ("residential", "乙路"), ("path", "丙路"),
                           ("service", "丁路")]),
                      (4, [("residential", "东路"), ("residential", "西路"),
                           ("living_street", "南路"), ("footway", "北路")])):
        prev = 1 + (N - 1) * N + row
        for k, (hw, name) in enumerate(tags):
            nodes[nid] = ((N - 1) * STEP + 60.0 * (k + 1), row * STEP)
            ways.append((wid, [prev, nid], {"highway": hw, "name": name}))
            prev, nid, wid = nid, nid + 1, wid + 1
    nid = 1000
    for i in range(N - 1):
        for j in range(N - 1):
            e0, n0 = i * STEP + 40, j * STEP + 40
            refs = []
            for de, dn in ((0, 0), (60, 0), (60, 60), (0, 60)):
                nodes[nid] = (e0 + de, n0 + dn)
                refs.append(nid)
                nid += 1
            ways.append((wid, [*refs, refs[0]],
                         {"building": "residential", "building:levels": "6"}))
            wid += 1
    return write_osm(path, nodes, ways)


def write_case(folder: Path, out: Path | None = None, cache: Path | None = None) -> Path:
    """Write the study area into ``folder``; return its config file.

    Outputs go to ``out`` (default ``folder/out``), the network cache to ``cache``
    (default ``<out>/cache``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = out if out is not None else folder / "out"
    cache = cache if cache is not None else out / "cache"
    write_network(folder / "net.osm")
    half = N * STEP / 2
    polys = [shapely.box(*_lonlat(-10, -10), *_lonlat(half, N * STEP)),
             shapely.box(*_lonlat(half, -10), *_lonlat(N * STEP, N * STEP))]
    gpd.GeoDataFrame({"code": ["310110012001", "310110012002"], "name": ["甲居委", "乙居委"],
                      "e60": [900, 800], "e80": [100, 90]},
                     geometry=polys, crs=4326).to_file(folder / "areas.geojson",
                                                      driver="GeoJSON")
    (lon1, lat1), (lon2, lat2) = _lonlat(160, 160), _lonlat(600, 460)
    (folder / "fac.csv").write_text(f"name,lon,lat\nA,{lon1},{lat1}\nB,{lon2},{lat2}\n",
                                    encoding="utf-8")
    cfg = folder / "c.toml"
    cfg.write_text(CONFIG.replace("@OUT@", out.as_posix()).replace("@CACHE@", cache.as_posix()),
                   encoding="utf-8")
    return cfg


def output_files(out: Path) -> list[Path]:
    """Every file under ``out`` except the network cache (sorted)."""
    if not out.exists():
        return []
    return sorted(p for p in out.rglob("*") if p.is_file() and "cache" not in p.parts)
