"""The main job: from the config to coverage per area, with every output written.

:func:`analyse` computes (no files written); :func:`write_outputs` writes the GeoPackage,
tables, map and manifest through a staging folder, so an interrupted or failed run leaves
no half-written file; :func:`run` does both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from geoplan import progress
from geoplan.analysis.coverage import rollup, score_areas
from geoplan.analysis.ledger import FacilityLedger, Ledger, ledger_table
from geoplan.config import Config
from geoplan.errors import InputDataError
from geoplan.network.parts import select_parts
from geoplan.network.prepare import prepare_network
from geoplan.network.snapping import SnappedPoints, snap_points
from geoplan.network.walkgraph import WalkNetwork
from geoplan.notes import Note, note_text
from geoplan.outputs.labels import column_label
from geoplan.outputs.manifest import RunManifest
from geoplan.reach.csr import ReachGraph
from geoplan.reach.engine import nearest_time, node_reach, point_reach
from geoplan.reach.isochrones import isochrones, merge_isochrones
from geoplan.sources import osm
from geoplan.sources.areas import (
    areas_from_file,
    check_area_columns,
    compound_areas,
    grid_cells,
)
from geoplan.sources.facilities import FacilityLoad, flag_outside, load_facilities, move_to_issues
from geoplan.sources.population import (
    area_counts,
    build_demand,
    elderly_shares,
    grid_for_uncovered,
    residential_buildings,
)
from geoplan.workflows.mapscore import _some_names, check_map_score

if TYPE_CHECKING:
    import folium  # the maps import it when they are made

log = logging.getLogger(__name__)

#: Nearest-facility times are searched up to this many minutes (or twice the largest
#: threshold, if more), so medians and 90th percentiles stay informative beyond 15 min.
NEAREST_SEARCH_MIN = 60.0
#: A WGS84 layer whose median distance to the network exceeds this is checked for GCJ-02.
DATUM_CHECK_M = 15.0


@dataclass
class RunResult:
    """Everything a run computed (metric CRS unless stated)."""

    config: Config
    network: WalkNetwork
    boundary: shapely.Geometry
    facilities: gpd.GeoDataFrame
    issues: pd.DataFrame
    demand: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    streets: pd.DataFrame
    summary: pd.DataFrame
    isochrones: gpd.GeoDataFrame
    isochrones_by_type: gpd.GeoDataFrame
    shares_source: str
    manifest: RunManifest
    notes: list[str] = field(default_factory=list)
    standards: Any = None  # StandardsResult when [standards] is configured
    inventory: pd.DataFrame | None = None
    joins: pd.DataFrame | None = None  # match table of the [[joins]], when configured
    ledger: Ledger = field(default_factory=Ledger)
    facility_ledger: FacilityLedger | None = None

    def ledger_table(self) -> pd.DataFrame:
        """The population and facility ledgers as one table (see
        :mod:`geoplan.analysis.ledger`)."""
        return ledger_table(self.ledger, self.facility_ledger)


@contextmanager
def _step(manifest: RunManifest, index: int, total: int, name: str) -> Iterator[None]:
    log.info("[%d/%d] %s ...", index, total, name)
    t0 = time.perf_counter()
    with manifest.step(name), progress.step(index, total, name):
        yield
    dt = time.perf_counter() - t0
    log.info("[%d/%d] %s done in %.1f s", index, total, name, dt)


def _check_datum(load: FacilityLoad, net: WalkNetwork, cfg: Config) -> list[str]:
    """Warn when a facility layer fits the streets clearly better in another datum.

    Each layer with a longitude/latitude ``crs`` is read as declared, as GCJ-02 and as
    BD-09 and the fits compared (:mod:`geoplan.sources.datum`); no absolute threshold.
    """
    from geoplan.sources.datum import compare_readings, declared_datum

    warnings = []
    pts = load.points
    for layer in cfg.facilities:
        declared = declared_datum(layer.crs)
        label = layer.label or layer.path.stem
        sel = (pts["layer"] == label).to_numpy()
        if declared is None or not sel.any():
            continue
        geom = pts.geometry.to_numpy()[sel]
        fit = compare_readings(shapely.get_x(geom), shapely.get_y(geom), declared, net)
        msg = fit.message(f"facility layer '{label}' ({layer.path.name})")
        if msg:
            log.warning(msg)
            warnings.append(Note(msg, fit.message_zh(f"设施图层“{label}”（{layer.path.name}）")
                                 or msg))
    return warnings


def walking_buffer_m(cfg: Config) -> float:
    """How far beyond the study boundary supply still matters (metres).

    The largest catchment walked at the profile speed plus the snap limit: a facility that
    far outside can still be reached by a resident on the boundary.
    """
    return cfg.analysis.max_minutes * 60.0 * cfg.walking.speed_mps + cfg.walking.snap_max_m


def _study_boundary(cfg: Config, manifest: RunManifest | None = None) -> shapely.Geometry:
    """The configured boundary polygon (WGS84), checked against the OSM files' extent
    before any network is built; an empty geometry when none is configured."""
    sa = cfg.study_area
    # the same polygon the OSM files are cut to while read (study_area.boundary or the
    # boundary relation study_area.osm_relation of the files)
    cut = osm.StudyCut.of(cfg)
    poly = osm.configured_boundary(cfg.network, cut)
    if poly is None:
        return shapely.Polygon()
    extent = osm.study_boundary(cfg.network, warn_headerless=False)
    if not extent.is_empty:
        _require_overlap(poly, extent, sa.boundary or cut.setting, "the OSM files")
        if cfg.network.osm_files:
            share = _boundary_coverage(poly, extent, sa.boundary or cut.setting,
                                       cfg.network.min_boundary_coverage)
            if manifest is not None:
                manifest.set_counts(osm_boundary_coverage=round(share, 4))
    return poly


def _boundary_coverage(poly: shapely.Geometry, extent: shapely.Geometry, path: object,
                       threshold: float) -> float:
    """Share of the study boundary's area inside the OSM files' extent.

    Below ``threshold`` ([network] min_boundary_coverage) one line names both areas: the
    figures of the whole boundary would silently be computed on a part of it. Between it
    and 100 % a warning is logged.
    """
    both = gpd.GeoSeries([poly, shapely.intersection(poly, extent)], crs=4326)
    both = both.to_crs(both.estimate_utm_crs())
    total, inside = (float(a) / 1e6 for a in both.area)
    share = inside / total if total > 0 else 1.0
    msg = (f"the OSM files cover {inside:.2f} km² of the study boundary's {total:.2f} km² "
           f"({100 * share:.1f} %)")
    if share < threshold:
        raise InputDataError(
            f"{path}: {msg}, less than [network] min_boundary_coverage = {threshold:g}; use "
            "an OSM extract that covers the boundary, a smaller boundary, or lower "
            "min_boundary_coverage")
    if share < 0.9995:
        log.warning("%s: %s; the part outside has no walking network or buildings",
                    path, msg)
    return share


def _require_overlap(poly: shapely.Geometry, extent: shapely.Geometry, path: object,
                     what: str) -> None:
    """One line naming both extents when the study boundary misses the network source."""
    if shapely.intersects(poly, extent):
        return
    b, n = shapely.bounds(poly), shapely.bounds(extent)
    raise InputDataError(
        f"{path}: the study boundary ({b[0]:.4f}–{b[2]:.4f} E, {b[1]:.4f}–{b[3]:.4f} N) does "
        f"not overlap {what} ({n[0]:.4f}–{n[2]:.4f} E, {n[1]:.4f}–{n[3]:.4f} N); check "
        "study_area.boundary_crs and the OSM source")


def _check_areas_datum(cfg: Config, areas: gpd.GeoDataFrame, net: WalkNetwork) -> list[str]:
    """The same check for committee polygons (their boundaries follow streets)."""
    from geoplan.sources.datum import compare_readings, declared_datum, polygon_vertices

    if cfg.areas.source != "file" or not len(areas):
        return []
    # as declared: areas.crs (gcj02/bd09 already converted vertex by vertex), else the
    # file's own CRS, whose WGS84 reading is the declared one
    declared = declared_datum(cfg.areas.crs) if cfg.areas.crs else None
    lon, lat = polygon_vertices(areas.to_crs(4326).geometry.to_numpy())
    fit = compare_readings(lon, lat, declared or "wgs84", net)
    msg = fit.message(f"the areas file {cfg.areas.path} (polygon vertices)")
    if msg:
        log.warning(msg)
        return [Note(msg, fit.message_zh(f"区域文件{cfg.areas.path}（多边形顶点）") or msg)]
    return []


def _load_facilities(cfg: Config, net: WalkNetwork, boundary_wgs: shapely.Geometry,
                     load: FacilityLoad) -> tuple[FacilityLoad, list[str]]:
    """Check the datum of every facility layer read (warnings returned) and move the rows
    outside the study area to the issues."""
    if len(load.points) == 0:
        raise InputDataError("no facility has usable coordinates in any [[facilities]] layer; "
                             "see the reported rows and fix the coordinates")
    # Facilities outside the study area still serve residents inside it (edge effects):
    # keep those within walking reach of the boundary; residents outside are not scored.
    reach_area = gpd.GeoSeries([boundary_wgs], crs=4326).to_crs(net.crs).buffer(
        walking_buffer_m(cfg)).to_crs(4326).iloc[0]
    # the datum check sees every located row: a wrong datum also pushes rows "outside"
    notes = _check_datum(load, net, cfg)
    return flag_outside(load, reach_area), notes


def _place_facilities(cfg: Config, load: FacilityLoad, net: WalkNetwork,
                      boundary_wgs: shapely.Geometry
                      ) -> tuple[gpd.GeoDataFrame, SnappedPoints, pd.DataFrame,
                                 pd.DataFrame, FacilityLoad]:
    """Snap the facilities to the (selected) network; far ones are reported and kept."""
    pts = load.points.to_crs(net.crs)
    snapped = snap_points(net, pts.geometry.to_numpy(), cfg.walking.speed_mps)
    # Outside the boundary and off the network: the OSM source does not reach the place,
    # so the facility can serve nobody here (inside, a far facility is kept and reported).
    outside = ~shapely.covers(boundary_wgs, load.points.geometry.to_numpy())
    beyond = outside & (snapped.off_m > cfg.walking.snap_max_m)
    if beyond.any():
        detail = [Note(f"outside the study boundary and {d:.0f} m from the nearest walkable "
                       "way: the OSM source does not reach it; extend osm_files to include it",
                       f"位于研究范围外，距最近的可步行道路{d:.0f}米：OSM数据未覆盖该处；"
                       "请扩大 osm_files 的范围")
                  for d in snapped.off_m[beyond]]
        load = move_to_issues(load, beyond, "beyond_network", detail)
        snapped = snapped.subset(np.flatnonzero(~beyond))
        pts = load.points.to_crs(net.crs)
    far = snapped.off_m > cfg.walking.snap_max_m
    if far.any():
        limit = cfg.walking.snap_max_m
        detail = [Note(f"{d:.0f} m from the nearest walkable way (limit {limit:.0f} m); check "
                       "the location",
                       f"距最近的可步行道路{d:.0f}米（上限{limit:.0f}米）；请核对位置")
                  for d in snapped.off_m[far]]
        # Kept in the analysis (the off-network walk is counted) but reported.
        load = move_to_issues(load, far, "far_from_network", detail, action="kept")
        pts = load.points.to_crs(net.crs)
    pts = pts.copy()
    pts["snap_m"] = snapped.off_m
    pts["outside_boundary"] = ~shapely.covers(boundary_wgs, load.points.geometry.to_numpy())
    return pts, snapped, load.issues, load.inventory, load


def _served_from_outside(cfg: Config, fac: gpd.GeoDataFrame, demand: gpd.GeoDataFrame,
                         types: tuple[str, ...]) -> list[str]:
    """Count, per facility outside the boundary, the older residents inside for whom it is
    the nearest of its type within the circle time (column ``serves_inside_60``); a note
    names them for the report."""
    fac["serves_inside_60"] = 0.0
    outside = fac["outside_boundary"].to_numpy(bool)
    if not outside.any():
        return []
    w = demand["elderly_60"].to_numpy(np.float64)
    fid = fac["fid"].astype(str).to_numpy()
    for t in types:
        if f"{t}_nearest" not in demand:
            continue
        near = demand[f"{t}_nearest"].astype(str).to_numpy()
        ok = demand[f"{t}_time_min"].to_numpy(np.float64) <= cfg.analysis.circle_minutes
        served = pd.Series(w[ok]).groupby(near[ok]).sum()
        sel = outside & (fac["type"].to_numpy() == t)
        fac.loc[sel, "serves_inside_60"] = pd.Series(fid[sel]).map(served).fillna(0).to_numpy()
    used = fac[outside & (fac["serves_inside_60"].to_numpy() > 0)]
    if not len(used):
        return []
    names = ", ".join(f"{n or f} ({v:,.0f})" for n, f, v in zip(
        used["name"].fillna("").astype(str), used["fid"].astype(str),
        used["serves_inside_60"], strict=True))
    total = used["serves_inside_60"].sum()
    circle = cfg.analysis.circle_minutes
    return [Note(f"{len(used)} facilities outside the study boundary are the nearest within "
                 f"{circle:g} min for {total:,.0f} older residents inside it (60+ served): "
                 f"{names}",
                 f"研究范围外有{len(used)}处设施是范围内{total:,.0f}名60岁以上老人"
                 f"{circle:g}分钟内最近的设施（括号内为服务人数）：{names}")]


#: Walking speeds of the sensitivity band, relative to the configured 60+ speed.
SENSITIVITY_FACTORS = {"slow20": 0.8, "fast20": 1.2}


def _sensitivity(cfg: Config, summary: pd.DataFrame, times_min: dict[str, np.ndarray],
                 required: list[str] | tuple[str, ...], w60: np.ndarray) -> list[str]:
    """Circle share at ±20 % walking speed and at the 80+ speed, from the same times.

    Adds ``circle_share_slow20``, ``circle_share_fast20`` and ``circle_share_speed80`` to
    ``summary`` and returns the note that states the band.
    """
    from geoplan.analysis.coverage import speed_sensitivity

    wk = cfg.walking
    factors = {**SENSITIVITY_FACTORS, "speed80": 1.0 / wk.slow80}
    figs = speed_sensitivity(times_min, required, cfg.analysis.circle_minutes, w60, factors)
    for k, v in figs.items():
        summary[k] = v
    lo, hi = figs["circle_share_slow20"], figs["circle_share_fast20"]
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return []
    circle = cfg.analysis.circle_minutes
    s80 = 100 * figs["circle_share_speed80"]
    return [Note(f"Walking-speed sensitivity: {100 * lo:.1f} %–{100 * hi:.1f} % of older "
                 f"residents reach every required service within {circle:g} min at "
                 f"{0.8 * wk.speed_kmh:.2f}–{1.2 * wk.speed_kmh:.2f} km/h (±20 % of "
                 f"{wk.speed_kmh:g} km/h); {s80:.1f} % at the 80+ speed {wk.speed_80:.2f} km/h",
                 f"步行速度敏感性：步速为{0.8 * wk.speed_kmh:.2f}–{1.2 * wk.speed_kmh:.2f}"
                 f"公里/小时（{wk.speed_kmh:g}公里/小时的±20%）时，{100 * lo:.1f}%–"
                 f"{100 * hi:.1f}%的老年人在{circle:g}分钟内可达全部必需服务；按80岁以上老人"
                 f"步速{wk.speed_80:.2f}公里/小时计为{s80:.1f}%")]


def _accessibility(cfg: Config, graph: ReachGraph, fac: gpd.GeoDataFrame,
                   fac_snap: SnappedPoints, dem_snap: SnappedPoints,
                   demand: gpd.GeoDataFrame
                   ) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, str]], list[str]]:
    """2SFCA/E2SFCA per configured type and method.

    Columns ``acc_<type>_<method>`` per demand point (added to ``demand``; with supply
    other than capacity ``acc_<type>_<unit>_<method>``, unit ``beds``, ``nursing_beds``,
    ``floor_area_m2`` or ``count``, so labels name the right unit), ``supply_<type>[_<unit>]``
    and ``ratio_<method>`` per facility (added to ``fac``). Returns the columns, each
    column's (type, method), and the notes on supply.
    """
    from geoplan.analysis.accessibility import decays, supply_vector
    from geoplan.analysis.fca import floating_catchment

    acc = cfg.accessibility
    assert acc is not None
    catch = acc.catchment_min or cfg.analysis.circle_minutes
    methods = decays(acc, catch)
    weights = demand[acc.weight].to_numpy(np.float64)
    cols: dict[str, np.ndarray] = {}
    keys: dict[str, tuple[str, str]] = {}
    notes: list[str] = [Note(
        f"Accessibility: two-step floating catchment within {catch:g} min walking, "
        f"supply = {acc.supply}, demand = {acc.weight}, per {acc.per:g} elderly; "
        + "; ".join(f"{m}: decay {d.describe()}" for m, d in methods.items()),
        f"可达性：两步移动搜索法（2SFCA），服务范围为步行{catch:g}分钟；供给："
        f"{column_label(acc.supply, 'zh')}，需求：{column_label(acc.weight, 'zh')}，"
        f"按每{acc.per:g}名老人计；"
        + "；".join(f"{m}：距离衰减 {d.describe_zh()}" for m, d in methods.items()))]
    types_ = acc.types or cfg.facility_types
    ftype = fac["type"].to_numpy()
    for m in methods:
        fac[f"ratio_{m}"] = np.nan
    for t in types_:
        sel = np.flatnonzero(ftype == t)
        supply, note, unit = supply_vector(fac.iloc[sel], acc.supply, acc.missing_supply, t)
        if note:
            notes.append(note)
        suffix = "" if unit == "capacity" else f"_{unit}"  # so labels name the unit
        fac.loc[fac.index[sel], f"supply_{t}{suffix}"] = supply
        if len(sel):
            times = sp.csr_matrix(point_reach(graph, fac_snap.subset(sel), dem_snap,
                                              catch * 60.0))
            times.data = times.data / 60.0
            if acc.weight == "elderly_80":  # 80+ demand walks at the 80+ speed
                times.data = times.data * cfg.walking.slow80
                times.data[times.data > catch] = np.inf
                times.eliminate_zeros()
                times = sp.csr_matrix((times.data[np.isfinite(times.data)],
                                       times.indices[np.isfinite(times.data)],
                                       np.r_[0, np.cumsum(np.add.reduceat(
                                           np.isfinite(times.data).astype(np.int64),
                                           times.indptr[:-1]) if times.nnz else
                                           np.zeros(times.shape[0], np.int64))]),
                                      shape=times.shape)
        else:
            times = sp.csr_matrix((0, len(demand)))
        for m, decay in methods.items():
            res = floating_catchment(times, supply, weights, catch, decay, per=acc.per)
            col = f"acc_{t}{suffix}_{m}"
            cols[col] = demand[col] = res.access
            keys[col] = (t, m)
            fac.loc[fac.index[sel], f"ratio_{m}"] = res.ratio
    return cols, keys, notes


def _area_means(cols: dict[str, np.ndarray], apos: np.ndarray, weights: np.ndarray,
                n: int) -> pd.DataFrame:
    from geoplan.analysis.fca import weighted_mean_by_group

    return pd.DataFrame({k: weighted_mean_by_group(apos, v, weights, n)
                         for k, v in cols.items()})


def _gap_index(cfg: Config, areas: gpd.GeoDataFrame, acc_cols: dict[str, np.ndarray],
               acc_keys: dict[str, tuple[str, str]],
               demand_w: np.ndarray, standards: Any) -> pd.DataFrame:
    """The composite gap index columns for ``areas`` (see :mod:`geoplan.analysis.gapindex`)."""
    from geoplan.analysis.gapindex import access_shortfall, gap_index
    from geoplan.analysis.standards import street_shortfall

    g = cfg.gap_index
    assert g is not None
    comps: dict[str, np.ndarray] = {"uncovered": 1.0 - areas["circle_share"].to_numpy(float)}
    extra: dict[str, np.ndarray] = {}
    if acc_cols and g.access > 0:
        total_w = float(demand_w.sum())
        parts = []
        for key, point_acc in acc_cols.items():
            t, method = acc_keys[key]
            if method != g.access_method:
                continue
            # reference: the study area's population-weighted mean, unless set in config
            ref = g.access_reference or (float((point_acc * demand_w).sum()) / total_w
                                         if total_w > 0 else np.nan)
            short = (access_shortfall(areas[key].to_numpy(float), ref)
                     if np.isfinite(ref) and ref > 0 else np.full(len(areas), np.nan))
            extra[f"gap_access_{t}"] = short
            parts.append(short)
        if parts:
            stack = np.vstack(parts)
            n_ok = np.isfinite(stack).sum(axis=0)
            comps["access"] = np.divide(np.nansum(stack, axis=0), n_ok,
                                        out=np.full(len(areas), np.nan), where=n_ok > 0)
    if standards is not None and g.standards > 0:
        short = street_shortfall(standards.table).set_index("street_code")
        codes = areas["street_code"].astype(str) if "street_code" in areas else pd.Series(
            "", index=areas.index)
        comps["standards"] = codes.map(short["standards_shortfall"]).to_numpy(float)
    weights = {"uncovered": g.uncovered, "access": g.access, "standards": g.standards}
    out = gap_index(comps, weights, areas["elderly_60"].to_numpy(float))
    for k, v in extra.items():
        out[k] = v
    return out


def _areas_and_demand(cfg: Config, net: WalkNetwork, boundary: shapely.Geometry,
                      ledger: Ledger
                      ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, str,
                                 tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Areas, demand points, the source of the estimates, and the areas left out (mask,
    their 60+ and 80+).

    Areas of an areas file that do not reach the study area stay in the area table, with
    their residents recorded in ``ledger`` as excluded (``outside_study_area``).
    """
    feats = osm.features(cfg.network, cfg.output.cache_dir,
                         osm.StudyCut.of(cfg)).to_crs(net.crs)
    compounds = compound_areas(feats, boundary, cfg.areas.min_compound_m2)
    src = cfg.areas.source
    if src != "file" and len(feats) == 0:
        # Compounds and grid cells carry no counts: residents come only from mapped floor
        # area, and a streets-only OSM source has none.
        raise InputDataError(f"areas.source = '{src}' estimates residents from OSM buildings "
                             "and residential landuse, and the OSM source has none; give "
                             "committee polygons with elderly counts (areas.source = \"file\", "
                             "elderly60_column) or an OSM extract with buildings")
    if src == "file":
        areas = areas_from_file(cfg.areas, net.crs)
        outside = ~shapely.intersects(areas.geometry.to_numpy(), boundary)
        if outside.all():
            raise InputDataError(f"{cfg.areas.path}: no area overlaps the study area; check the "
                                 "file's CRS and extent")
    elif src == "compounds":
        areas = compounds
    elif src == "osm_admin":
        areas = osm.admin_areas(cfg.network, cfg.areas, boundary, net.crs)
    else:
        grid = grid_cells(boundary, cfg.areas.grid_size_m, net.crs)
        if src == "grid":
            areas = grid
        else:  # compounds+grid: compounds, plus grid cells for homes outside compounds
            homes = residential_buildings(feats, compounds, cfg.population)
            shapely.prepare(boundary)  # within as contains of the prepared boundary
            inside = shapely.contains(boundary, homes.geometry.to_numpy())
            cells = grid_for_uncovered(homes.geometry.to_numpy()[inside], compounds, grid)
            areas = pd.concat([compounds, cells], ignore_index=True)
            areas = gpd.GeoDataFrame(areas, geometry="geometry", crs=net.crs)
    if len(areas) == 0:
        raise InputDataError(f"areas.source = '{src}' gives no analysis area in the study area "
                             "(no residential compounds mapped?); try source = \"grid\"")
    if src != "file":
        outside = np.zeros(len(areas), dtype=bool)
    e60, e80 = areas["elderly_60"], areas["elderly_80"]
    need_shares = bool(e60.isna().any())
    shares = elderly_shares(cfg.population) if need_shares else None
    if shares is None and bool((e80.isna() & e60.notna()).any()) and (
            cfg.population.share_60 is not None or cfg.population.census_file is not None):
        shares = elderly_shares(cfg.population)  # to estimate the missing 80+ counts
    given, a60, a80 = area_counts(areas, shares)
    if given.any():
        ledger.enter("areas", "areas_file", float(a60.sum()), float(a80.sum()),
                     areas["area_id"].to_numpy()[given],
                     Note(f"committee counts in {cfg.areas.path.name}",
                          f"{cfg.areas.path.name}中的居委会统计数"))
    if outside.any():
        ids = areas["area_id"].to_numpy()[outside]
        n60, n80 = float(a60[outside].sum()), float(a80[outside].sum())
        ledger.exclude("areas", "outside_study_area", n60, n80, ids,
                       Note("areas that do not reach the study area (the extent of the OSM "
                            "network); they stay in the area table with their counts as "
                            "excluded",
                            "与研究范围（OSM路网范围）不相交的区域；它们仍列在区域表中，"
                            "其人数记为未纳入"))
        log.warning("%d areas of %s lie outside the study area (%s%s): their %.0f residents "
                    "aged 60+ are not scored (see the ledger)", len(ids), cfg.areas.path,
                    ", ".join(map(str, ids[:5])), " …" if len(ids) > 5 else "", n60)
    demand = build_demand(feats, areas, compounds, boundary, cfg.population, shares,
                          skip=outside, ledger=ledger)
    if len(demand) == 0:
        raise InputDataError("no residential building or compound found in the study area to "
                             "carry the elderly population; check the OSM source")
    o60, o80 = np.where(outside, a60, 0.0), np.where(outside, a80, 0.0)
    return (areas, demand, shares.source if shares else Note("committee counts",
                                                             "居委会统计的老年人数"),
            (outside, o60, o80))


def _note_parts(cfg: Config, net: WalkNetwork, demand: gpd.GeoDataFrame,
                dem_snap: SnappedPoints, fac: gpd.GeoDataFrame, fac_snap: SnappedPoints,
                areas: pd.DataFrame, ledger: Ledger, kept: tuple[int, ...]) -> None:
    """Warn about residents on network parts analysed on their own (ledger note)."""
    if len(kept) < 2:
        return
    part = net.edges["part"].to_numpy()
    dpart = part[dem_snap.edge]
    fpart = part[fac_snap.edge] if len(fac_snap) else np.zeros(0, dtype=np.int64)
    sep = dpart != 0
    if not sep.any() and not (fpart != 0).any():
        return
    w60 = demand["elderly_60"].to_numpy(np.float64)
    w80 = demand["elderly_80"].to_numpy(np.float64)
    ids = areas["area_id"].to_numpy()[np.unique(demand["area_pos"].to_numpy()[sep])]
    no_fac = [p for p in np.unique(dpart[sep]) if not (fpart == p).any()]
    n_nofac = float(w60[np.isin(dpart, no_fac)].sum())
    text = Note(f"{len(kept) - 1} network part(s) not connected to the main one are analysed "
                "on their own: walking times never cross between parts"
                + (f"; {n_nofac:.0f} of these residents aged 60+ live on a part without any "
                   "facility" if no_fac else ""),
                f"{len(kept) - 1}个与主路网不相连的路网片区单独计算：步行时间不跨片区"
                + (f"；其中{n_nofac:.0f}名60岁以上老人所在片区没有任何设施" if no_fac else ""))
    ledger.note("network", "separate_network_part", float(w60[sep].sum()),
                float(w80[sep].sum()), ids, text)
    log.warning("%.0f residents aged 60+ (%.0f aged 80+) in %d areas live on %d walking-network "
                "part(s) not connected to the main network; they are analysed on their own part "
                "(%d facilities there)%s", float(w60[sep].sum()), float(w80[sep].sum()),
                len(ids), len(kept) - 1, int((fpart != 0).sum()),
                f"; {n_nofac:.0f} of them have no facility on their part" if no_fac else "")


def _exclude_far_homes(cfg: Config, demand: gpd.GeoDataFrame, dem_snap: SnappedPoints,
                       areas: pd.DataFrame, ledger: Ledger
                       ) -> tuple[gpd.GeoDataFrame, SnappedPoints, np.ndarray, np.ndarray,
                                  np.ndarray]:
    """Leave out homes farther than ``snap_max_m`` from any analysed way (ledger).

    Returns the kept demand and its snapping, and per area the 60+ and 80+ left out and
    whether the area has no demand point near a way at all.
    """
    n = len(areas)
    far = dem_snap.off_m > cfg.walking.snap_max_m
    apos = demand["area_pos"].to_numpy()
    w60 = demand["elderly_60"].to_numpy(np.float64)
    w80 = demand["elderly_80"].to_numpy(np.float64)
    x60 = np.bincount(apos[far], weights=w60[far], minlength=n)
    x80 = np.bincount(apos[far], weights=w80[far], minlength=n)
    if not far.any():
        return demand, dem_snap, x60, x80, np.zeros(n, dtype=bool)
    near_pts = np.bincount(apos[~far], minlength=n)
    far_pts = np.bincount(apos[far], minlength=n)
    no_way = (far_pts > 0) & (near_pts == 0)
    ids = areas["area_id"].to_numpy()
    limit = cfg.walking.snap_max_m
    for mask, reason, text in (
            (no_way, "no_walkable_way_in_area",
             Note(f"areas none of whose homes lie within {limit:g} m of a walkable way "
                  "(beyond the network's extent, or the network misses their streets)",
                  f"区域内没有住宅距可步行道路{limit:g}米以内（超出路网范围，或路网缺少"
                  "其街道）")),
            (~no_way & (far_pts > 0), "home_far_from_network",
             Note(f"homes farther than walking.snap_max_m = {limit:g} m from any walkable "
                  "way", f"住宅距任何可步行道路超过 walking.snap_max_m = {limit:g}米"))):
        if mask.any():
            ledger.exclude("network", reason, float(x60[mask].sum()), float(x80[mask].sum()),
                           ids[mask], text)
    log.warning("%d homes carrying %.0f residents aged 60+ lie farther than %g m from any "
                "walkable way and are not scored (%d areas; see the ledger)", int(far.sum()),
                float(x60.sum()), limit, int((far_pts > 0).sum()))
    keep = ~far
    return (demand[keep].reset_index(drop=True), dem_snap.subset(keep), x60, x80, no_way)


def analyse(cfg: Config, *, use_cache: bool = True) -> RunResult:
    """Run the whole analysis in memory.

    Parameters
    ----------
    cfg : Config
        The validated configuration.
    use_cache : bool, default True
        Use the prepared-network cache.

    Returns
    -------
    RunResult
    """
    manifest = RunManifest(config=cfg, seed=cfg.analysis.seed, command="run")
    if cfg.source_file:
        manifest.add_input(cfg.source_file, "config")
    for p in cfg.network.osm_files:
        manifest.add_input(p, "osm")
    for layer in cfg.facilities:
        manifest.add_input(layer.path, "facilities:" + "+".join(layer.types))
    for jn in cfg.joins:
        manifest.add_input(jn.path, f"join:{jn.layer}")
    for p, role in ((cfg.areas.path, "areas"), (cfg.areas.streets_file, "streets"),
                    (cfg.population.census_file, "census")):
        if p is not None:
            manifest.add_input(p, role)
    total = 6 + sum(x is not None for x in (cfg.accessibility, cfg.standards, cfg.gap_index))
    check_map_score(cfg)  # a typo is found now, not after the whole analysis
    # The input tables before the network (minutes on a city): a wrong column name or a bad
    # row is reported at once. Facility tables are small and read whole (once); of the
    # areas file only the header is read here.
    read = load_facilities(cfg.facilities, cfg.joins)
    if cfg.areas.source == "file" and cfg.areas.path is not None:
        check_area_columns(cfg.areas)
    ledger = Ledger()
    boundary_wgs = _study_boundary(cfg, manifest)
    with _step(manifest, 1, total, "walking network"):
        net, cached = prepare_network(cfg, use_cache=use_cache)
        log.info("network: %d nodes, %d edges, %.1f km%s", net.n_nodes, net.n_edges,
                 net.report.get("length_km", 0), " (cached)" if cached else "")
        # the hull of every vertex: no union of the edges needed (that is n log n work
        # and memory on a city's million edges for the same hull)
        net_hull = gpd.GeoSeries([shapely.convex_hull(shapely.multipoints(
            shapely.get_coordinates(net.edges.geometry.to_numpy())))],
            crs=net.crs).to_crs(4326).iloc[0]
    if boundary_wgs.is_empty:
        boundary_wgs = osm.study_boundary(cfg.network)
        if boundary_wgs.is_empty:
            boundary_wgs = net_hull
    else:
        _require_overlap(boundary_wgs, net_hull, cfg.study_area.boundary
                         or osm.StudyCut.of(cfg).setting,
                         "the walking network")
    boundary = gpd.GeoSeries([boundary_wgs], crs=4326).to_crs(net.crs).iloc[0]

    with _step(manifest, 2, total, "facilities"):
        load, notes = _load_facilities(cfg, net, boundary_wgs, read)
    with _step(manifest, 3, total, "areas and demand"):
        areas, demand, shares_source, (outside, o60, o80) = _areas_and_demand(
            cfg, net, boundary, ledger)
        notes = [*notes, *_check_areas_datum(cfg, areas, net)]
        log.info("areas: %d; demand points: %d carrying %.0f people aged 60+ (%s)",
                 len(areas), len(demand), demand["elderly_60"].sum(), shares_source)
        # network parts: the largest, plus every part that alone serves homes or facilities
        parts = select_parts(net, np.concatenate([
            demand.geometry.to_numpy(), load.points.to_crs(net.crs).geometry.to_numpy()]),
            cfg.walking.snap_max_m)
        net = parts.network
        if parts.dropped_parts:
            log.info("dropped %d small disconnected parts (%d nodes, %.0f m of ways) that "
                     "serve no home or facility the other parts do not reach",
                     parts.dropped_parts, parts.dropped_nodes, parts.dropped_length_m)
        fac, fac_snap, issues, inventory, load = _place_facilities(cfg, load, net,
                                                                   boundary_wgs)
        fac_ledger = FacilityLedger.from_issues(load.read, load.blank, len(fac), issues,
                                                load.left_out)
        fac_ledger.check()
        log.info("facilities: %d placed; %d rows reported", len(fac), len(issues))

    an = cfg.analysis
    types = cfg.facility_types
    with _step(manifest, 4, total, "nearest-facility times"):
        graph = ReachGraph.from_network(net)
        dem_snap = snap_points(net, demand.geometry.to_numpy(), cfg.walking.speed_mps)
        demand, dem_snap, ex60, ex80, no_way = _exclude_far_homes(cfg, demand, dem_snap,
                                                                   areas, ledger)
        if len(demand) == 0:
            raise InputDataError(
                f"no home lies within walking.snap_max_m = {cfg.walking.snap_max_m:g} m of a "
                "walkable way; check that the OSM network covers the areas")
        demand["snap_m"] = dem_snap.off_m
        _note_parts(cfg, net, demand, dem_snap, fac, fac_snap, areas, ledger, parts.kept)
        cutoff = 60.0 * max(NEAREST_SEARCH_MIN, 2 * an.max_minutes)
        times_min: dict[str, np.ndarray] = {}
        fac_types = fac["type"].to_numpy()
        for t in types:
            sel = np.flatnonzero(fac_types == t)
            if len(sel) == 0:
                times_min[t] = np.full(len(demand), np.inf)
                continue
            tt, nearest = nearest_time(graph, fac_snap.subset(sel), dem_snap, cutoff)
            times_min[t] = tt / 60.0
            demand[f"{t}_time_min"] = np.where(np.isfinite(tt), tt / 60.0, np.nan)
            demand[f"{t}_nearest"] = np.where(nearest >= 0,
                                              fac["fid"].to_numpy()[sel][np.maximum(nearest, 0)],
                                              "")
    notes = [*notes, *_served_from_outside(cfg, fac, demand, types)]
    with _step(manifest, 5, total, "isochrones"):
        thresholds_s = [60.0 * m for m in an.thresholds_min]
        nt = node_reach(graph, fac_snap, max(thresholds_s))
        iso = isochrones(net, fac_snap, nt, thresholds_s, walk_in_m=an.walk_in_m,
                         source_ids=fac["fid"].to_numpy())
        iso = iso.merge(fac[["fid", "type"]], left_on="source", right_on="fid", how="left")
        iso = iso.drop(columns=["source"])
        iso_type = merge_isochrones(iso, iso["type"].to_numpy()).rename(
            columns={"group": "type"})
    with _step(manifest, 6, total, "coverage and gaps"):
        required = an.required_types or types
        w60 = demand["elderly_60"].to_numpy(np.float64)
        w80 = demand["elderly_80"].to_numpy(np.float64)
        apos = demand["area_pos"].to_numpy()
        slow80 = cfg.walking.slow80  # 80+ figures at the 80+ speed, from the same times
        scored = score_areas(areas.drop(columns="geometry"), apos, w60, w80, times_min,
                             an.thresholds_min, an.circle_minutes, required, slow80)
        est = np.ones(len(areas), dtype=bool)
        est_pts = demand.groupby("area_pos")["pop_estimated"].any()
        est[est_pts.index.to_numpy()] = est_pts.to_numpy()
        est &= areas["elderly_60"].isna().to_numpy()
        scored["pop_estimated"] = est
        # residents of the area not scored (see the ledger), and why
        scored["excluded_60"] = ex60 + o60
        scored["excluded_80"] = ex80 + o80
        scored["excluded_reason"] = np.select(
            [outside, no_way, (ex60 > 0) | (ex80 > 0)],
            ["outside_study_area", "no_walkable_way_in_area", "home_far_from_network"], "")
        ledger.set_scored(w60, w80, int(np.count_nonzero(
            np.bincount(apos, minlength=len(areas)))))
        ledger.check()
        areas_out = gpd.GeoDataFrame(scored, geometry=areas.geometry.to_numpy(), crs=net.crs)
        has_street = (areas["street_code"].astype(str) != "").any()
        if has_street:
            streets = rollup(areas[["street_code", "street_name"]].astype(str), apos, w60, w80,
                             times_min, an.thresholds_min, an.circle_minutes, required,
                             slow80)
        else:
            streets = pd.DataFrame()
        whole = pd.DataFrame({"study_area": [cfg.study_area.name]}).iloc[
            np.zeros(len(areas), dtype=np.int64)].reset_index(drop=True)
        summary = rollup(whole, apos, w60, w80, times_min, an.thresholds_min,
                         an.circle_minutes, required, slow80)
        if an.sensitivity:
            notes = [*notes, *_sensitivity(cfg, summary, times_min, required, w60)]
        summary["pop_estimated"] = bool(est.any())
        summary["excluded_60"] = ledger.excluded60
        summary["excluded_80"] = ledger.excluded80
    step = 6
    acc_cols: dict[str, np.ndarray] = {}
    acc_keys: dict[str, tuple[str, str]] = {}
    if cfg.accessibility is not None:
        step += 1
        with _step(manifest, step, total, "accessibility (2SFCA/E2SFCA)"):
            acc_cols, acc_keys, acc_notes = _accessibility(cfg, graph, fac, fac_snap,
                                                           dem_snap, demand)
            notes = [*notes, *acc_notes]
            aw = demand[cfg.accessibility.weight].to_numpy(np.float64)
            means = _area_means(acc_cols, apos, aw, len(areas_out))
            for k in means:
                areas_out[k] = means[k].to_numpy()
            if len(streets):
                skeys = areas[["street_code"]].astype(str).iloc[apos]["street_code"]
                codes, spos = np.unique(skeys.to_numpy(), return_inverse=True)
                smeans = _area_means(acc_cols, spos.ravel(), aw, len(codes))
                smeans.index = codes
                for k in smeans:
                    streets[k] = streets["street_code"].astype(str).map(smeans[k]).to_numpy()
            for k, v in _area_means(acc_cols, np.zeros(len(demand), dtype=np.int64), aw,
                                    1).items():
                summary[k] = v.to_numpy()
    standards_res = None
    if cfg.standards is not None:
        from geoplan.workflows.standards import check_config

        step += 1
        with _step(manifest, step, total, "planning standards"):
            standards_res = check_config(cfg, inventory=inventory)
            notes = [*notes, *standards_res.notes]
    if cfg.gap_index is not None:
        step += 1
        with _step(manifest, step, total, "composite gap index"):
            gi = _gap_index(cfg, areas_out, acc_cols, acc_keys,
                            demand[(cfg.accessibility.weight if cfg.accessibility
                                    else "elderly_60")].to_numpy(np.float64), standards_res)
            for k in gi:
                areas_out[k] = gi[k].to_numpy()
    manifest.set_counts(
        network_nodes=net.n_nodes, network_edges=net.n_edges,
        network_length_km=net.report.get("length_km"), network_cached=cached,
        facilities=len(fac), facility_rows_reported=len(issues), areas=len(areas),
        demand_points=len(demand), elderly_60=round(float(w60.sum()), 1),
        elderly_80=round(float(w80.sum()), 1),
        circle_share=round(float(summary["circle_share"].iloc[0]), 4),
        network_report=net.report,
    )
    manifest.set_ledger({"people": ledger.to_dict(), "facilities": fac_ledger.to_dict()})
    notes = [*notes, Note(f"Elderly estimate source: {shares_source}",
                          f"老年人口估算来源：{note_text(shares_source, 'zh')}")]
    return RunResult(config=cfg, network=net, boundary=boundary, facilities=fac, issues=issues,
                     demand=demand, areas=areas_out, streets=streets, summary=summary,
                     isochrones=iso, isochrones_by_type=iso_type, shares_source=shares_source,
                     manifest=manifest, notes=notes, standards=standards_res,
                     inventory=inventory, joins=load.joins, ledger=ledger,
                     facility_ledger=fac_ledger)


def output_paths(cfg: Config) -> dict[str, Any]:
    """Where :func:`write_outputs` puts each file."""
    name = cfg.study_area.name
    out = cfg.output
    paths: dict[str, Any] = {"gpkg": out.dir / f"{name}-coverage.gpkg",
                             "tables": out.dir / f"{name}-areas",
                             "manifest": out.dir / "manifest.json",
                             "map": out.maps_dir / f"{name}-coverage.html"}
    if out.embed:
        paths["embed"] = out.maps_dir / f"{name}-map-embed.html"
    if out.static_map:
        paths["png"] = out.maps_dir / f"{name}-coverage.png"
        paths["pdf"] = out.maps_dir / f"{name}-coverage.pdf"
    return paths


def write_outputs(result: RunResult) -> dict[str, Any]:
    """Write GeoPackage, area tables (CSV, XLSX), maps and manifest atomically.

    Maps: the folium HTML (self-contained with ``output.offline``), an ``<iframe>``
    fragment with ``output.embed``, and a PNG + PDF for print with ``output.static_map``.
    """
    from geoplan.outputs.atomic import StagedOutputs, atomic_write
    from geoplan.outputs.gpkg import write_geopackage
    from geoplan.outputs.tables import write_area_tables
    from geoplan.outputs.webmap import map_fragment, save_map

    cfg = result.config
    paths = output_paths(cfg)
    lang = cfg.output.lang
    circle = cfg.analysis.circle_minutes
    manifest = result.manifest
    with manifest.step("reproject outputs"):
        areas_wgs = result.areas.to_crs(4326)
        fac_wgs = result.facilities.to_crs(4326)
        iso_wgs = result.isochrones.to_crs(4326)
        iso_type_wgs = result.isochrones_by_type.to_crs(4326)
        dem_wgs = result.demand.drop(columns=["area_pos"]).to_crs(4326)
        edges_wgs = result.network.edges[["u", "v", "length_m", "time_s", "highway", "name",
                                          "geometry"]].to_crs(4326)
    std = result.standards
    with StagedOutputs({"data": cfg.output.dir, "maps": cfg.output.maps_dir}) as staged:
        rel = {k: p.name for k, p in paths.items()}
        with manifest.step("write GeoPackage"):
            write_geopackage(staged.path("data", rel["gpkg"]), {
                "areas": areas_wgs, "demand_points": dem_wgs, "facilities": fac_wgs,
                "isochrones": iso_wgs, "isochrones_by_type": iso_type_wgs,
                "walk_network": edges_wgs, "issues": result.issues,
                "ledger": result.ledger_table(),
                "streets": result.streets if len(result.streets) else None,
                "summary": result.summary,
                "standards": std.table if std is not None else None,
                "standards_summary": std.summary if std is not None else None,
                "standards_missing": (std.missing if std is not None and len(std.missing)
                                      else None),
                "joins": result.joins,
            })
        with manifest.step("write tables"):
            sheets = {"areas": areas_wgs.drop(columns="geometry"), "streets": result.streets,
                      "summary": result.summary}
            if std is not None:
                sheets.update({"standards": std.table, "standards_summary": std.summary})
                if len(std.missing):
                    sheets["standards_missing"] = std.missing
            sheets.update({"facilities": fac_wgs.drop(columns="geometry"),
                           "issues": result.issues, "ledger": result.ledger_table()})
            if result.joins is not None:
                sheets["joins"] = result.joins
            tables = write_area_tables(staged, ("data", rel["tables"]), sheets, lang=lang,
                                       circle_minutes=circle, notes=result.notes)
        with manifest.step("write map"):
            out = cfg.output
            m = coverage_map(result, areas_wgs=areas_wgs, fac_wgs=fac_wgs,
                             iso_wgs=iso_wgs, iso_type_wgs=iso_type_wgs)
            # The map is built for these files only: its last rendering needs no copy.
            save_map(m, staged.path("maps", rel["map"]), offline=out.offline,
                     last_use=not out.embed)
            if out.embed:
                with atomic_write(staged.path("maps", rel["embed"])) as fh:
                    fh.write(map_fragment(m, offline=out.offline, last_use=True))
        if out.static_map:
            with manifest.step("write static map"):
                from geoplan.outputs.staticmap import write_static_map

                write_static_map([staged.path("maps", rel["png"]),
                                  staged.path("maps", rel["pdf"])],
                                 result.areas, result.facilities, result.isochrones_by_type,
                                 boundary=result.boundary, lang=lang,
                                 title=cfg.study_area.title(lang),
                                 score=cfg.output.map_score, circle_minutes=circle,
                                 types=list(cfg.facility_types),
                                 font_cache=cfg.output.cache_dir / "pdf-fonts")
        manifest.add_output(staged.path("data", rel["gpkg"]), final=paths["gpkg"])
        for kind in ("csv", "xlsx"):
            manifest.add_output(tables[kind], final=paths["tables"].with_suffix(f".{kind}"))
        for key in ("map", "embed", "png", "pdf"):
            if key in paths:
                manifest.add_output(staged.path("maps", rel[key]), final=paths[key])
        manifest.finish()
        manifest.write(staged.path("data", rel["manifest"]))
    return paths


def map_score(areas: pd.DataFrame, cfg: Config) -> str:
    """The configured ``output.map_score``, checked against the areas table.

    Raises
    ------
    GeoplanError
        If it is not a numeric column of ``areas``; the message lists the ones that are.
    """
    from geoplan.errors import GeoplanError

    score = cfg.output.map_score
    numeric = [str(c) for c in areas.columns if c != "geometry"
               and pd.api.types.is_numeric_dtype(areas[c]) and not pd.api.types.is_bool_dtype(
                   areas[c]) and c not in ("n_demand_points",)]
    if score not in numeric:
        raise GeoplanError(f"output.map_score = '{score}' is not a numeric column of the "
                           f"areas table; use one of: {_some_names(numeric)}")
    return score


def coverage_map(result: RunResult, *, areas_wgs: gpd.GeoDataFrame | None = None,
                 fac_wgs: gpd.GeoDataFrame | None = None,
                 iso_wgs: gpd.GeoDataFrame | None = None,
                 iso_type_wgs: gpd.GeoDataFrame | None = None) -> folium.Map:
    """The interactive coverage map of a run (areas, facilities, isochrones, overlays).

    Areas are coloured by ``output.map_score``: a coverage share with the fixed 0-100 %
    classes, any other score (gap index, accessibility, walking times) as an overlay with
    mapclassify quantile classes that is switched on when the map opens.
    """
    from geoplan.outputs.labels import high_is_bad, is_share_column
    from geoplan.outputs.webmap import build_map

    cfg = result.config
    lang = cfg.output.lang
    areas_wgs = result.areas.to_crs(4326) if areas_wgs is None else areas_wgs
    fac_wgs = result.facilities.to_crs(4326) if fac_wgs is None else fac_wgs
    iso_wgs = result.isochrones.to_crs(4326) if iso_wgs is None else iso_wgs
    iso_type_wgs = (result.isochrones_by_type.to_crs(4326) if iso_type_wgs is None
                    else iso_type_wgs)
    score = map_score(areas_wgs, cfg)
    share_score = is_share_column(score) and not high_is_bad(score)
    boundary = gpd.GeoSeries([result.boundary], crs=result.network.crs).to_crs(4326)
    m = build_map(areas_wgs, fac_wgs, iso_type_wgs, isochrones=iso_wgs, lang=lang,
                  title=cfg.study_area.title(lang),
                  score=score if share_score else "circle_share",
                  circle_minutes=cfg.analysis.circle_minutes, boundary=boundary.iloc[0],
                  types=list(cfg.facility_types), basemap=cfg.output.basemap,
                  tianditu_key=cfg.output.tianditu_key or None,
                  detail_limit=cfg.output.map_detail_limit)
    _add_score_layers(m, areas_wgs, cfg, shown=None if share_score else score)
    return m


def _add_score_layers(m: Any, areas_wgs: gpd.GeoDataFrame, cfg: Config,
                      shown: str | None = None) -> None:
    """Gap-index and accessibility overlays on the coverage map, hidden at start except
    ``shown`` (the configured map score when it is not a coverage share)."""
    from geoplan.outputs.scorelayers import add_choropleth
    from geoplan.outputs.webmap import finish_layers

    lang, circle = cfg.output.lang, cfg.analysis.circle_minutes
    gap_extra = [*(c for c in areas_wgs.columns if c.startswith(("gap_uncovered", "gap_access",
                                                                 "gap_standards"))),
                 "gap_index_rank", "gap_components"]
    layers = (["gap_index"] if "gap_index" in areas_wgs else []) + \
        [c for c in areas_wgs.columns if c.startswith("acc_")]
    if shown is not None and shown not in layers:
        layers.append(shown)
    for col in layers:
        add_choropleth(m, areas_wgs, col, lang=lang, circle_minutes=circle,
                       show=col == shown,
                       extra=gap_extra if col == "gap_index" else ())
    finish_layers(m)


def run(cfg: Config, *, use_cache: bool = True) -> RunResult:
    """Analyse and write every output; see :func:`analyse` and :func:`write_outputs`."""
    result = analyse(cfg, use_cache=use_cache)
    write_outputs(result)
    return result
