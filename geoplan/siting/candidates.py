"""Candidate sites for new facilities: from a user file, and generated.

Generated candidates come from three places a planner would look:

* **clusters**: k-means centres (scikit-learn, seeded) of the demand that the existing
  facilities leave uncovered, weighted by elderly;
* **buildings**: street-facing non-residential OSM buildings (shops, offices, public
  buildings: where a canteen or station can rent ground-floor space);
* **grid**: one walking-network node per grid cell (an even spread for exploration).

Every candidate is checked: outside the study area, too far from a walkable way, or at an
existing facility of the same type → reported in the issues table and not used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.config import Candidates
from geoplan.errors import InputDataError
from geoplan.network.walkgraph import WalkNetwork
from geoplan.sources.crs import to_wgs84
from geoplan.sources.facilities import _coordinates, _issue_frame, _numbers
from geoplan.sources.tables import read_table, require_columns, source_rows

log = logging.getLogger(__name__)

#: Highway values that count as a street a building can face (not footpaths in parks).
STREET_HIGHWAYS = ("residential", "living_street", "unclassified", "tertiary", "secondary",
                   "primary", "trunk", "service", "pedestrian", "tertiary_link",
                   "secondary_link", "primary_link", "road")

CANDIDATE_COLUMNS = ("cid", "origin", "name", "cost", "capacity", "geometry")


@dataclass
class CandidateSet:
    """Candidate sites (metric CRS) and the rows reported while building them."""

    sites: gpd.GeoDataFrame
    issues: pd.DataFrame


def _frame(cid: list[str] | np.ndarray, source: str, names: np.ndarray | list[str],
           geoms: np.ndarray, crs: object, cost: np.ndarray | None = None,
           capacity: np.ndarray | None = None) -> gpd.GeoDataFrame:
    n = len(geoms)
    return gpd.GeoDataFrame({
        "cid": np.asarray(cid, dtype=object), "origin": np.full(n, source, dtype=object),
        "name": np.asarray(names, dtype=object),
        "cost": np.full(n, np.nan) if cost is None else cost,
        "capacity": np.full(n, np.nan) if capacity is None else capacity,
    }, geometry=np.asarray(geoms), crs=crs)


def from_file(spec: Candidates, crs: object) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Read a candidate file: CSV/XLSX with x/y columns, or GeoJSON/GPKG points or polygons.

    Polygons (vacant plots, 街坊) are represented by a point guaranteed inside them.
    GCJ-02 and BD-09 coordinates are converted as for facilities.
    """
    path = spec.file
    df = read_table(path, sheet=spec.sheet, encoding=spec.encoding)
    attrs = df.drop(columns="geometry") if isinstance(df, gpd.GeoDataFrame) else df
    if len(df) == 0 or (attrs.shape[1] and not isinstance(df, gpd.GeoDataFrame)
                        and attrs.isna().all(axis=None)):
        raise InputDataError(f"{path}: the candidate file has no rows (only a header); add "
                             "candidate sites to it, or remove candidates.file")
    label = f"candidates:{path.name}"
    rows = source_rows(df)  # spreadsheet rows, or feature ids of a GIS file
    names = (df[spec.name_column].astype(str).to_numpy() if spec.name_column and
             spec.name_column in df.columns else np.asarray([f"{path.stem}-{i + 1}"
                                                            for i in range(len(df))]))
    issues = []
    if isinstance(df, gpd.GeoDataFrame):
        geom = df.geometry.to_numpy()
        empty = shapely.is_missing(geom) | shapely.is_empty(geom)
        pts = shapely.point_on_surface(np.where(empty, shapely.Point(0, 0), geom))
        if spec.crs.lower() in ("gcj02", "bd09", "wgs84"):
            if df.crs is not None and not df.crs.is_geographic:
                raise InputDataError(f"{path}: candidates.crs = '{spec.crs}' but the file is "
                                     f"in a projected CRS ({df.crs.to_string()}); set "
                                     "candidates.crs to its EPSG code")
            lon, lat = to_wgs84(shapely.get_x(pts), shapely.get_y(pts), spec.crs)
        else:
            src = gpd.GeoSeries(pts, crs=df.crs or spec.crs).to_crs(4326)
            lon, lat = src.x.to_numpy(), src.y.to_numpy()
    else:
        require_columns(df, {"candidates.x": spec.x, "candidates.y": spec.y}, path)
        (x, _), (y, _) = _coordinates(df[spec.x]), _coordinates(df[spec.y])  # DMS too
        empty = ~(np.isfinite(x) & np.isfinite(y))
        lon, lat = to_wgs84(np.where(empty, 0, x), np.where(empty, 0, y), spec.crs)
    if empty.any():
        issues.append(_issue_frame(label, path.name, rows[empty], names[empty],
                                   "missing_coordinates", "no usable location", "dropped"))
    cost = capacity = None
    for key, col in (("cost", spec.cost_column), ("capacity", spec.capacity_column)):
        if col is None:
            continue
        require_columns(df, {f"candidates.{key}_column": col}, path)
        vals = _numbers(df[col], thousands=True)
        bad = ~np.isfinite(vals) & ~empty
        if bad.any():
            issues.append(_issue_frame(label, path.name, rows[bad], names[bad],
                                       f"bad_{key}",
                                       f"{key} not readable in column '{col}'", "dropped"))
            empty = empty | bad
        neg = (vals < 0) & ~empty
        if neg.any():
            issues.append(_issue_frame(label, path.name, rows[neg], names[neg],
                                       f"negative_{key}",
                                       f"{key} in column '{col}' is negative", "dropped"))
            empty = empty | neg
        if key == "cost":
            cost = vals
        else:
            capacity = vals
    keep = ~empty
    pts = gpd.GeoSeries(shapely.points(lon[keep], lat[keep]), crs=4326).to_crs(crs)
    # F<feature id> for GIS files, F<data record number> (1, 2, ...) for tables
    first = 0 if isinstance(df, gpd.GeoDataFrame) else int(df.attrs.get("first_row", 2)) - 1
    out = _frame([f"F{r - first}" for r in rows[keep]], "file", names[keep], pts.to_numpy(), crs,
                 None if cost is None else cost[keep],
                 None if capacity is None else capacity[keep])
    out["source_row"] = rows[keep]
    return out, (pd.concat(issues, ignore_index=True) if issues else pd.DataFrame())


def from_clusters(k: int, demand_xy: np.ndarray, weights: np.ndarray, uncovered: np.ndarray,
                  crs: object, seed: int) -> gpd.GeoDataFrame:
    """``k`` weighted k-means centres of the uncovered demand (fewer if fewer points)."""
    sel = uncovered & (weights > 0)
    xy, w = demand_xy[sel], weights[sel]
    k = min(k, len(xy))
    if k == 0:
        return _frame([], "cluster", [], np.array([], dtype=object), crs)
    from sklearn.cluster import KMeans  # 0.3 s or more to import: only when clustering

    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(xy, sample_weight=w)
    centres = km.cluster_centers_
    order = np.lexsort((centres[:, 1], centres[:, 0]))  # stable ids across runs
    centres = centres[order]
    ids = [f"K{i + 1}" for i in range(k)]
    return _frame(ids, "cluster", ids, shapely.points(centres), crs)


def from_buildings(features: gpd.GeoDataFrame, network: WalkNetwork, values: tuple[str, ...],
                   street_m: float) -> gpd.GeoDataFrame:
    """Street-facing non-residential buildings: within ``street_m`` of a street edge."""
    crs = network.crs
    b = features[features["building"].isin(values)]
    if len(b) == 0:
        return _frame([], "building", [], np.array([], dtype=object), crs)
    geom = b.geometry.to_numpy()
    # merged edges carry "a;b" when their ways differ: a street if any part is one
    parts = network.edges["highway"].astype(str).str.split(";").explode()
    is_street = parts.isin(STREET_HIGHWAYS).groupby(level=0).any()
    streets = network.edges.geometry.to_numpy()[is_street.to_numpy()]
    if len(streets) == 0:
        return _frame([], "building", [], np.array([], dtype=object), crs)
    tree = shapely.STRtree(streets)
    bi, _ = tree.query(geom, predicate="dwithin", distance=street_m)
    near = np.zeros(len(geom), dtype=bool)
    near[bi] = True
    ids = [f"B{o}" for o in b["osm_id"].astype(str).to_numpy()[near]]
    names = [f"{v} {o}" for v, o in zip(b["building"].to_numpy()[near],
                                         b["osm_id"].astype(str).to_numpy()[near], strict=True)]
    return _frame(ids, "building", names, shapely.point_on_surface(geom[near]), crs)


def from_grid(network: WalkNetwork, boundary: shapely.Geometry, size_m: float
              ) -> gpd.GeoDataFrame:
    """The network node nearest to the centre of each ``size_m`` grid cell (inside boundary)."""
    nodes = network.nodes.geometry.to_numpy()
    x, y = shapely.get_x(nodes), shapely.get_y(nodes)
    x0, y0 = boundary.bounds[:2]
    cx = np.floor((x - x0) / size_m).astype(np.int64)
    cy = np.floor((y - y0) / size_m).astype(np.int64)
    centre_x, centre_y = x0 + (cx + 0.5) * size_m, y0 + (cy + 0.5) * size_m
    d = np.hypot(x - centre_x, y - centre_y)
    order = np.lexsort((np.arange(len(d)), d, cy, cx))
    first = np.ones(len(order), dtype=bool)
    key = cx[order] * 10_000_000 + cy[order]
    first[1:] = key[1:] != key[:-1]
    pick = order[first]
    pick = pick[shapely.within(nodes[pick], boundary)]
    ids = [f"G{i}" for i in pick]
    return _frame(ids, "grid", ids, nodes[pick], network.crs)


def candidate_sites(spec: Candidates, *, network: WalkNetwork, boundary: shapely.Geometry,
                    features: gpd.GeoDataFrame, demand_xy: np.ndarray, weights: np.ndarray,
                    uncovered: np.ndarray, existing: np.ndarray, snap_max_m: float,
                    seed: int) -> CandidateSet:
    """Collect candidate sites from every configured source and drop unusable ones.

    Parameters
    ----------
    spec : Candidates
        The scenario's candidate settings.
    network : WalkNetwork
        For street edges, nodes, CRS and the snap check.
    boundary : shapely geometry
        Study area (metric CRS).
    features : GeoDataFrame
        OSM buildings (metric CRS) with ``building`` and ``osm_id``.
    demand_xy, weights, uncovered : ndarray
        Demand point coordinates (metric), elderly weights, and which points existing
        facilities leave uncovered (for the clusters).
    existing : ndarray of shapely Points
        Existing facilities of the scenario's type (metric); candidates within
        ``spec.exclude_existing_m`` of one are not proposed again.
    snap_max_m : float
        Candidates farther than this from a walkable way are dropped.
    seed : int
        k-means seed.

    Returns
    -------
    CandidateSet
    """
    crs = network.crs
    parts, issues = [], []
    if spec.file is not None:
        f, iss = from_file(spec, crs)
        parts.append(f)
        issues.append(iss)
        outside = ~shapely.within(f.geometry.to_numpy(),
                                  shapely.buffer(boundary, snap_max_m))
        if len(f) and outside.all():
            raise InputDataError(f"{spec.file}: none of the {len(f)} candidate sites lies in the "
                                 "study area; check the file's coordinates and candidates.crs "
                                 f"(now '{spec.crs}')")
    if spec.clusters > 0:
        parts.append(from_clusters(spec.clusters, demand_xy, weights, uncovered, crs, seed))
    if spec.buildings:
        parts.append(from_buildings(features, network, spec.building_values,
                                    spec.street_facing_m))
    if spec.grid_m > 0:
        parts.append(from_grid(network, boundary, spec.grid_m))
    sites = pd.concat([p for p in parts if len(p)] or [parts[0]], ignore_index=True)
    sites = gpd.GeoDataFrame(sites, geometry="geometry", crs=crs)
    geom = sites.geometry.to_numpy()
    label = "candidates"
    rows = (sites["source_row"].fillna(-1).astype(np.int64).to_numpy()
            if "source_row" in sites else np.full(len(sites), -1))
    bad = np.zeros(len(sites), dtype=bool)

    def report(mask: np.ndarray, problem: str, detail: str | list[str]) -> None:
        nonlocal bad
        mask = mask & ~bad
        if mask.any():
            det = detail if isinstance(detail, str) else list(np.asarray(detail)[mask])
            issues.append(_issue_frame(label, "", rows[mask], sites["cid"].to_numpy()[mask],
                                       problem, det, "dropped"))
            bad |= mask

    report(~shapely.within(geom, shapely.buffer(boundary, snap_max_m)), "outside_study_area",
           "candidate outside the study area")
    if len(existing) and spec.exclude_existing_m > 0:
        tree = shapely.STRtree(np.asarray(existing))
        ci, _ = tree.query(geom, predicate="dwithin", distance=spec.exclude_existing_m)
        near = np.zeros(len(geom), dtype=bool)
        near[ci] = True
        report(near, "at_existing_facility",
               f"within {spec.exclude_existing_m:g} m of an existing facility of this type")
    _, dist = network.edge_tree.query_nearest(geom, return_distance=True, all_matches=False)
    report(dist > snap_max_m, "far_from_network",
           [f"{d:.0f} m from the nearest walkable way" for d in dist])
    dup = sites.duplicated(subset=["cid"], keep="first").to_numpy()
    report(dup, "duplicate", "same candidate from two sources")
    sites = sites[~bad].reset_index(drop=True)
    issues_df = pd.concat([i for i in issues if len(i)], ignore_index=True) if any(
        len(i) for i in issues) else pd.DataFrame(columns=["layer", "file", "row", "name",
                                                           "problem", "detail", "action"])
    counts = sites["origin"].value_counts().to_dict()
    log.info("candidates: %d usable (%s); %d reported", len(sites),
             ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), int(bad.sum()))
    return CandidateSet(sites=sites, issues=issues_df)
