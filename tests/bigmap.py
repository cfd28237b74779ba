"""A generated whole-city result for the map tests (seeded, vectorised, no data files).

Committees are irregular polygons on a grid covering a Shanghai-sized extent, facilities
of the eight types are scattered over it, every facility has a jagged walking catchment
per threshold, and the merged catchments per type hold them all, as a run at city scale
produces them. Building points are generated too: the map must not draw them.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.sources.facility_types import FACILITY_TYPES

UTM = "EPSG:32651"  # UTM 51N: Shanghai
ORIGIN = (330_000.0, 3_440_000.0)  # south-west corner, about 121.2 E 31.07 N
TYPES = tuple(FACILITY_TYPES)[:8]
THRESHOLDS = (5.0, 10.0, 15.0)


@dataclass
class City:
    """Frames of a generated city, in :data:`UTM`."""

    areas: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    isochrones: gpd.GeoDataFrame
    isochrones_by_type: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    boundary: shapely.Geometry


def _blobs(cx: np.ndarray, cy: np.ndarray, radius: np.ndarray, n: int,
           rng: np.random.Generator, roughness: float) -> np.ndarray:
    """Star-shaped polygons with ``n`` vertices each around the centres (vectorised)."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = radius[:, None] * (1 + roughness * (rng.random((len(cx), n)) - 0.5))
    x = cx[:, None] + r * np.cos(ang)
    y = cy[:, None] + r * np.sin(ang)
    ring = np.stack([x, y], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    return shapely.polygons(ring)


def make_city(n_areas: int = 6000, n_buildings: int = 300_000, n_facilities: int = 4000,
              seed: int = 15) -> City:
    """A seeded city of ``n_areas`` committees (600 m cells), buildings and facilities.

    Parameters
    ----------
    n_areas, n_buildings, n_facilities : int
        Sizes (the issue's whole-city figures by default: 6,000 committees, 4,000
        facilities; 300,000 buildings).
    seed : int
        Random seed.

    Returns
    -------
    City
    """
    rng = np.random.default_rng(seed)
    cell = 600.0
    cols = int(np.ceil(np.sqrt(n_areas)))
    i = np.arange(n_areas)
    cx = ORIGIN[0] + (i % cols + 0.5) * cell
    cy = ORIGIN[1] + (i // cols + 0.5) * cell
    # Committee outlines with 60 vertices each (surveyed boundaries are detailed).
    polys = _blobs(cx, cy, np.full(n_areas, cell * 0.62), 60, rng, 0.15)
    cells = shapely.box(cx - cell / 2, cy - cell / 2, cx + cell / 2, cy + cell / 2)
    polys = shapely.intersection(polys, cells)
    share = rng.random(n_areas)
    share[rng.random(n_areas) < 0.02] = np.nan
    street = (i // 30).astype(str)
    areas = gpd.GeoDataFrame({
        "area_id": [f"a{k}" for k in i], "area_kind": "committee",
        "code": [f"31011{k:07d}" for k in i], "name": [f"第{k}居委会" for k in i],
        "street_code": [f"310110{int(s):03d}" for s in street],
        "street_name": [f"街道{s}" for s in street],
        "elderly_60": rng.integers(200, 3000, n_areas).astype(float),
        "elderly_80": rng.integers(20, 400, n_areas).astype(float),
        "pop_estimated": rng.random(n_areas) < 0.3,
        "circle_share": share, "circle_share80": share * 0.9,
        "uncovered_60": rng.integers(0, 1000, n_areas).astype(float),
        "gap_index": rng.random(n_areas), "gap_index_rank": rng.permutation(n_areas) + 1,
        "gap_uncovered": rng.random(n_areas), "gap_access": rng.random(n_areas),
        "acc_canteen_2sfca": rng.gamma(2.0, 3.0, n_areas),
        "acc_day_care_2sfca": rng.gamma(2.0, 3.0, n_areas),
    }, geometry=polys, crs=UTM)
    for t in TYPES[:4]:
        areas[f"{t}_share_15"] = rng.random(n_areas)
    width, height = cols * cell, np.ceil(n_areas / cols) * cell
    fx = ORIGIN[0] + rng.random(n_facilities) * width
    fy = ORIGIN[1] + rng.random(n_facilities) * height
    ftype = np.asarray(TYPES)[rng.integers(0, len(TYPES), n_facilities)]
    facilities = gpd.GeoDataFrame({
        "fid": [f"f{k}" for k in range(n_facilities)], "type": ftype,
        "name": [f"设施{k}号" for k in range(n_facilities)],
        "address": [f"某路{k}号" for k in range(n_facilities)], "street": "街道",
        "capacity": rng.integers(10, 300, n_facilities).astype(float),
        "snap_m": rng.random(n_facilities) * 50,
    }, geometry=shapely.points(fx, fy), crs=UTM)
    iso = []
    for t in THRESHOLDS:
        # Walking catchments are jagged: 120 vertices, radius ~ 60 m per minute.
        g = _blobs(fx, fy, np.full(n_facilities, 60.0 * t), 120, rng, 0.5)
        iso.append(gpd.GeoDataFrame({"fid": facilities["fid"], "type": ftype,
                                     "threshold_min": t}, geometry=g, crs=UTM))
    isochrones = pd.concat(iso, ignore_index=True)
    # Merged catchments per type and time: the catchments as one multipolygon each (a
    # union takes 20 s here; overlapping parts only make the map's input larger).
    groups = isochrones.groupby(["type", "threshold_min"], sort=True)
    by_type = gpd.GeoDataFrame(
        [{"type": k[0], "threshold_min": k[1],
          "geometry": shapely.multipolygons(isochrones.geometry.to_numpy()[idx])}
         for k, idx in groups.indices.items()], geometry="geometry", crs=UTM)
    bx = ORIGIN[0] + rng.random(n_buildings) * width
    by = ORIGIN[1] + rng.random(n_buildings) * height
    buildings = gpd.GeoDataFrame({"elderly": rng.random(n_buildings) * 20},
                                 geometry=shapely.points(bx, by), crs=UTM)
    boundary = shapely.box(ORIGIN[0], ORIGIN[1], ORIGIN[0] + width, ORIGIN[1] + height)
    return City(areas, facilities, isochrones, by_type, buildings, boundary)


def fake_result(config: Any, city: City) -> SimpleNamespace:
    """What :func:`geoplan.workflows.coverage.coverage_map` reads of a run result."""
    return SimpleNamespace(config=config, areas=city.areas, facilities=city.facilities,
                           isochrones=city.isochrones,
                           isochrones_by_type=city.isochrones_by_type,
                           demand=city.buildings, boundary=city.boundary,
                           network=SimpleNamespace(crs=city.areas.crs))
