"""Demand: residential buildings (or filler points) carrying an elderly estimate.

Where committee counts exist they are spread over the residential floor area inside
each committee. Without them, residents are estimated from floor area
(``population.m2_per_resident``) and the district's census shares of 60+ and 80+
residents; every such figure is flagged ``pop_estimated`` and labelled an estimate in
the outputs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.analysis.ledger import Ledger
from geoplan.config import Population
from geoplan.errors import InputDataError
from geoplan.notes import Note, note_text
from geoplan.sources.areas import assign_points

log = logging.getLogger(__name__)

#: Building values that are homes.
RESIDENTIAL = frozenset({"residential", "apartments", "house", "dormitory", "detached",
                         "terrace", "semidetached_house", "bungalow", "flats"})
#: Building values that are certainly not homes, even inside a residential compound.
NON_RESIDENTIAL = frozenset({
    "university", "school", "college", "kindergarten", "commercial", "retail", "office",
    "industrial", "hospital", "church", "temple", "mosque", "chapel", "cathedral", "stadium",
    "hotel", "warehouse", "garage", "garages", "parking", "public", "civic", "government",
    "train_station", "transportation", "service", "roof", "construction", "sports_hall",
    "shed", "kiosk", "hut", "toilets", "greenhouse", "carport", "manufacture", "supermarket",
    "bridge", "gatehouse", "pavilion", "sports_centre", "library", "museum", "fire_station",
})
#: Spacing of filler points in compounds (or committees) without mapped homes, metres.
FILL_SPACING_M = 40.0


@dataclass(frozen=True)
class ElderlyShares:
    """Shares of residents aged 60+ and 80+, and where they come from.

    ``residents``, ``elderly_60`` and ``elderly_80`` are the district's counts behind the
    shares when known (census or config), else None.
    """

    share_60: float
    share_80: float
    source: str
    residents: float | None = None
    elderly_60: float | None = None
    elderly_80: float | None = None


def elderly_shares(pop: Population) -> ElderlyShares:
    """Elderly shares from the config or the district census table.

    Each figure is taken from the first source that has it: the config's share
    (``share_60``/``share_80``), the config's count (``elderly_60``/``elderly_80``) divided
    by the residents (``residents``, else the census), then the census row of
    ``district_code`` in ``census_file`` (the national county table ``.xlsx`` or the small
    CSV, see :func:`~geoplan.sources.census.district_census`). Without an 80+ figure the
    80+ share is 16 % of the 60+ share.

    Raises
    ------
    InputDataError
        If no source gives the 60+ share, or the census file lacks the district or the
        needed columns.
    """
    from geoplan.sources.census import district_census

    census = (district_census(pop.census_file, pop.district_code)
              if pop.census_file is not None and pop.district_code else None)
    residents = pop.residents if pop.residents is not None else (
        census.residents if census else None)
    where = (Note(f"2020 census, {census.name} ({census.code})",
                  f"2020年人口普查，{census.name}（{census.code}）") if census else "")

    def pick(age: int) -> tuple[float | None, float | None, str]:
        share, count = getattr(pop, f"share_{age}"), getattr(pop, f"elderly_{age}")
        if share is not None:
            return share, (share * residents if residents else None), Note(
                "config share", "配置文件中的比例")
        if count is not None and residents:
            return count / residents, count, Note("config count", "配置文件中的人数")
        if census is not None:
            return (getattr(census, f"share_{age}"), getattr(census, f"elderly_{age}"),
                    where)
        return None, None, ""

    s60, c60, src60 = pick(60)
    if s60 is None:
        raise InputDataError("population: set share_60 (and share_80), elderly_60 with "
                             "residents, or census_file with district_code to estimate the "
                             "elderly without committee counts")
    s80, c80, src80 = pick(80)
    if s80 is None:
        s80, c80, src80 = s60 * 0.16, (c60 * 0.16 if c60 else None), Note(
            "16 % of 60+", "60岁以上老人的16%")
    source = src60 if src60 == src80 else Note(
        f"60+: {src60}; 80+: {src80}",
        f"60岁以上：{note_text(src60)}；80岁以上：{note_text(src80)}")
    if source in ("config share", "config count"):
        source = Note("config", "配置文件")
    return ElderlyShares(s60, s80, source, residents, c60, c80)


def _levels(text: pd.Series, default: float) -> np.ndarray:
    first = text.astype(str).str.extract(r"(\d+(?:\.\d+)?)", expand=False)
    lv = pd.to_numeric(first, errors="coerce").to_numpy(np.float64, copy=True)
    lv[~(lv > 0) | (lv > 120)] = default
    return lv


def residential_buildings(features: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame,
                          pop: Population) -> gpd.GeoDataFrame:
    """Homes among OSM buildings, with footprint, levels and floor area.

    A building is a home if its ``building`` tag says so, or if it is a generic
    ``building=yes`` (or an unlisted value) standing inside a residential compound.
    """
    b = features[features["building"] != ""]
    btype = b["building"].str.lower()
    geom = b.geometry.to_numpy()
    rep = shapely.point_on_surface(geom)
    in_compound = assign_points(rep, compounds) >= 0 if len(compounds) else np.zeros(
        len(b), dtype=bool)
    is_home = btype.isin(RESIDENTIAL).to_numpy() | (
        ~btype.isin(NON_RESIDENTIAL).to_numpy() & ~btype.isin(RESIDENTIAL).to_numpy()
        & in_compound)
    footprint = shapely.area(geom)
    keep = is_home & (footprint >= pop.min_building_m2)
    levels = _levels(b["building_levels"], pop.default_levels)
    levels_known = b["building_levels"].str.match(r"^\s*\d", na=False).to_numpy()
    out = gpd.GeoDataFrame({
        "osm_id": b["osm_id"].to_numpy()[keep], "building": btype.to_numpy()[keep],
        "footprint_m2": footprint[keep], "levels": levels[keep],
        "levels_known": levels_known[keep],
        "floor_area_m2": footprint[keep] * levels[keep],
    }, geometry=rep[keep], crs=features.crs)
    return out.reset_index(drop=True)


def fill_points(polygons: np.ndarray, spacing: float = FILL_SPACING_M
                ) -> tuple[np.ndarray, np.ndarray]:
    """Regular points inside each polygon (at least one: its representative point).

    Returns
    -------
    points : ndarray of Point
    owner : ndarray of int64
        Position of the polygon each point belongs to.
    """
    if len(polygons) == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    b = shapely.bounds(polygons)
    nx_ = np.maximum(1, np.ceil((b[:, 2] - b[:, 0]) / spacing)).astype(np.int64)
    ny_ = np.maximum(1, np.ceil((b[:, 3] - b[:, 1]) / spacing)).astype(np.int64)
    counts = nx_ * ny_
    owner = np.repeat(np.arange(len(polygons)), counts)
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    ix, iy = k % nx_[owner], k // nx_[owner]
    x = b[owner, 0] + (ix + 0.5) * spacing
    y = b[owner, 1] + (iy + 0.5) * spacing
    pts = shapely.points(x, y)
    inside = shapely.contains_xy(polygons[owner], x, y)
    pts, owner = pts[inside], owner[inside]
    missing = np.setdiff1d(np.arange(len(polygons)), owner)
    if len(missing):
        pts = np.concatenate([pts, shapely.point_on_surface(polygons[missing])])
        owner = np.concatenate([owner, missing])
    order = np.argsort(owner, kind="stable")
    return pts[order], owner[order]


def area_counts(areas: pd.DataFrame, shares: ElderlyShares | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each area's own elderly counts as used by :func:`build_demand`.

    Returns
    -------
    given : ndarray of bool
        Areas with a 60+ count.
    a60, a80 : ndarray of float
        The counts (0 where not given); a missing 80+ count next to a 60+ count is
        estimated with the census ratio of 80+ to 60+ (0 without census shares).
    """
    a60 = areas["elderly_60"].to_numpy(np.float64)
    a80 = areas["elderly_80"].to_numpy(np.float64)
    given = ~np.isnan(a60)
    ratio = shares.share_80 / shares.share_60 if shares is not None and shares.share_60 else 0.0
    a80 = np.where(np.isnan(a80), np.nan_to_num(a60) * ratio, a80)
    return given, np.where(given, a60, 0.0), np.where(given, a80, 0.0)


def build_demand(features: gpd.GeoDataFrame, areas: gpd.GeoDataFrame,
                 compounds: gpd.GeoDataFrame, boundary: shapely.Geometry,
                 pop: Population, shares: ElderlyShares | None, *,
                 skip: np.ndarray | None = None, ledger: Ledger | None = None
                 ) -> gpd.GeoDataFrame:
    """Demand points with elderly counts, assigned to analysis areas.

    Parameters
    ----------
    features : GeoDataFrame
        OSM buildings and landuse in the metric CRS.
    areas : GeoDataFrame
        Analysis areas (committees, compounds and/or grid cells) in the same CRS. Areas
        with ``elderly_60`` given (committee counts) have them spread by floor area.
    compounds : GeoDataFrame
        Residential compounds (used to classify generic buildings and to fill
        compounds that have no mapped homes).
    boundary : shapely geometry
        Study boundary; demand outside it is left out.
    pop : Population
        Estimation settings.
    shares : ElderlyShares or None
        Census shares for areas without counts (None when every area has counts).
    skip : ndarray of bool, optional
        Areas that get no demand points (e.g. outside the study area; the caller records
        their residents as excluded).
    ledger : Ledger, optional
        Receives the residents estimated by census spreading (entered) and those on
        homes that fall in no analysis area (excluded).

    Returns
    -------
    GeoDataFrame
        Columns ``demand_id``, ``area_pos`` (position in ``areas``), ``area_id``,
        ``source`` (building / compound / area), ``floor_area_m2``, ``elderly_60``,
        ``elderly_80``, ``pop_estimated``; point geometry.
    """
    homes = residential_buildings(features, compounds, pop)
    # within(home, boundary) as contains(boundary, home): GEOS then tests every home against
    # one prepared boundary instead of a full relate per home
    shapely.prepare(boundary)
    homes = homes[shapely.contains(boundary, homes.geometry.to_numpy())]
    pts = [homes.geometry.to_numpy()]
    floor = [homes["floor_area_m2"].to_numpy()]
    source = [np.full(len(homes), "building", dtype=object)]
    # Compounds with no mapped home: filler points carrying area x default FAR.
    if len(compounds):
        has_home = np.zeros(len(compounds), dtype=bool)
        owner = assign_points(homes.geometry.to_numpy(), compounds)
        has_home[owner[owner >= 0]] = True
        empty = compounds.geometry.to_numpy()[~has_home]
        fp, fo = fill_points(empty)
        n_per = np.bincount(fo, minlength=len(empty))
        pts.append(fp)
        floor.append(shapely.area(empty)[fo] * pop.default_far / n_per[fo])
        source.append(np.full(len(fp), "compound", dtype=object))
    points = np.concatenate(pts)
    floor_area = np.concatenate(floor).astype(np.float64)
    src = np.concatenate(source)
    area_pos = assign_points(points, areas)

    # Areas with committee counts but no homes inside get filler points too.
    counts_given, a60, a80 = area_counts(areas, shares)
    skip = np.zeros(len(areas), dtype=bool) if skip is None else np.asarray(skip, dtype=bool)
    covered = np.zeros(len(areas), dtype=bool)
    covered[area_pos[area_pos >= 0]] = True
    lacking = np.flatnonzero(counts_given & ~covered & ~skip & (a60 > 0))
    if len(lacking):
        fp, fo = fill_points(areas.geometry.to_numpy()[lacking])
        points = np.concatenate([points, fp])
        floor_area = np.concatenate([floor_area, np.ones(len(fp))])
        src = np.concatenate([src, np.full(len(fp), "area", dtype=object)])
        area_pos = np.concatenate([area_pos, lacking[fo]])
        log.info("%d areas with elderly counts have no mapped homes; their counts are spread "
                 "over %d evenly spaced points", len(lacking), len(fp))
    outside = area_pos < 0
    # Homes in no area with counts carry census estimates (when there are census shares):
    # they enter the run, and those in no analysis area at all are left out (ledger).
    spread = ~(counts_given[np.maximum(area_pos, 0)] & ~outside)
    if shares is not None and ledger is not None and spread.any():
        res = floor_area[spread] / pop.m2_per_resident
        ledger.enter("demand", "census_spreading", float(res.sum() * shares.share_60),
                     float(res.sum() * shares.share_80),
                     areas["area_id"].to_numpy()[np.unique(area_pos[spread & ~outside])],
                     Note(f"floor area / {pop.m2_per_resident:g} m² per resident x census "
                          f"shares ({shares.source})",
                          f"建筑面积 ÷ 人均{pop.m2_per_resident:g}平方米 × 普查年龄比例"
                          f"（{shares.source}）"))
        if outside.any():
            res = floor_area[outside] / pop.m2_per_resident
            ledger.exclude("demand", "outside_every_area", float(res.sum() * shares.share_60),
                           float(res.sum() * shares.share_80), None,
                           Note(f"{int(outside.sum())} homes in the study area lie in no "
                                "analysis area (e.g. outside every mapped compound); use "
                                "areas.source = \"compounds+grid\" to count them",
                                f"研究范围内有{int(outside.sum())}处住宅不在任何分析区域内"
                                "（如在所有已绘制小区之外）；设置 areas.source = "
                                "\"compounds+grid\" 可将其计入"))
    if outside.any():
        log.info("%d demand points lie outside every analysis area and are left out",
                 int(outside.sum()))
    points, floor_area, src, area_pos = (points[~outside], floor_area[~outside],
                                         src[~outside], area_pos[~outside])

    e60 = np.zeros(len(points))
    e80 = np.zeros(len(points))
    estimated = np.ones(len(points), dtype=bool)
    given = counts_given[area_pos]
    if given.any():
        # Spread committee counts by floor-area share inside each committee.
        ag = area_pos[given]
        tot = np.bincount(ag, weights=floor_area[given], minlength=len(areas))
        n_pts = np.bincount(ag, minlength=len(areas))
        # an area whose homes all have zero floor area shares its count evenly
        w = np.where(tot[ag] > 0, floor_area[given] / np.where(tot[ag] > 0, tot[ag], 1.0),
                     1.0 / n_pts[ag])
        e60[given] = w * a60[ag]
        e80[given] = w * a80[ag]
        estimated[given] = False
    rest = ~given
    if rest.any():
        if shares is None:
            raise InputDataError("population: some areas have no elderly counts; set "
                                 "population.census_file/district_code or share_60")
        residents = floor_area[rest] / pop.m2_per_resident
        e60[rest] = residents * shares.share_60
        e80[rest] = residents * shares.share_80
    order = np.lexsort((shapely.get_x(points), shapely.get_y(points), area_pos))
    out = gpd.GeoDataFrame({
        "demand_id": np.arange(1, len(points) + 1),
        "area_pos": area_pos[order],
        "area_id": areas["area_id"].to_numpy()[area_pos[order]],
        "source": src[order],
        "floor_area_m2": np.where(src[order] == "area", np.nan, floor_area[order]),
        "elderly_60": e60[order], "elderly_80": e80[order],
        "pop_estimated": estimated[order],
    }, geometry=points[order], crs=areas.crs)
    return out


def grid_for_uncovered(points: np.ndarray, compounds: gpd.GeoDataFrame,
                       grid: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Grid cells holding points that fall in no compound, minus the compounds' space."""
    outside = assign_points(points, compounds) < 0 if len(compounds) else np.ones(
        len(points), dtype=bool)
    cell = assign_points(points[outside], grid)
    used = np.unique(cell[cell >= 0])
    cells = grid.iloc[used].copy()
    if len(compounds):
        cells["geometry"] = shapely.difference(cells.geometry.to_numpy(),
                                               shapely.union_all(compounds.geometry.to_numpy()))
    return cells[~cells.geometry.is_empty].reset_index(drop=True)

