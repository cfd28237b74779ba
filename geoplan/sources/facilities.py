"""Load facility tables (canteens, day-care centres ...) into WGS84 points.

Each configured :class:`~geoplan.config.FacilityLayer` is read with
:func:`~geoplan.sources.tables.read_table`, its coordinates are checked and converted to
WGS84 (:func:`~geoplan.sources.crs.to_wgs84`), and every row that cannot be used is
reported in an issues table rather than dropped silently:

======================== ========= =====================================================
problem                  action    when
======================== ========= =====================================================
missing_coordinates      dropped   x or y blank, empty geometry, or a layer without
                                   coordinates (``has_coordinates = false``, to geocode)
unparseable_coordinates  dropped   x or y is not a number (a few rows; if most rows fail
                                   the column is wrong and an error is raised instead)
unparseable_<attribute>  kept      capacity, beds, nursing_beds or floor_area_m2 is not a
                                   number; it becomes unknown (NaN), never 0
negative_<attribute>     kept      that value is negative; it becomes unknown (NaN)
unmapped_category        dropped   the row's category (``category_column``) is not in the
                                   layer's category map (also one warning listing them)
low_geocode_quality      kept      geocoder confidence below ``min_quality`` or match level
                                   in ``bad_match_levels``; the point carries the reason in
                                   ``geocode_note`` (``low_quality = "drop"``: dropped)
duplicate                dropped   same name within 30 m of an earlier row of the same
                                   facility type (any layer); the first is kept. With
                                   ``same_place_m`` on a layer: also a row within that
                                   distance of a same-type row of an earlier layer,
                                   whatever its name (two lists of the same facilities)
outside_study_area       dropped   :func:`flag_outside`
======================== ========= =====================================================

Coordinates written in degrees, minutes and seconds (``121°29'43.2"E``, ``31度17分``)
are converted to decimal degrees.

Problems that make a whole file unusable (missing column, non-numeric or swapped
coordinate columns, values out of range) raise :class:`~geoplan.errors.InputDataError`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from geoplan.config import FacilityLayer, Join
from geoplan.errors import InputDataError
from geoplan.sources.crs import is_geographic, to_wgs84
from geoplan.sources.tables import read_table, require_columns, row_word, source_rows

__all__ = [
    "DUPLICATE_RADIUS_M",
    "ISSUE_COLUMNS",
    "POINT_COLUMNS",
    "FacilityLoad",
    "flag_outside",
    "load_facilities",
    "load_facility_layer",
    "move_to_issues",
]

log = logging.getLogger(__name__)

#: Columns of :attr:`FacilityLoad.points`, in order.
POINT_COLUMNS = ("fid", "layer", "type", "name", "address", "street", "capacity", "beds",
                 "nursing_beds", "floor_area_m2", "public", "geocode_note", "source_row",
                 "lon_src", "lat_src", "geometry")
#: Numeric attributes: point column -> FacilityLayer setting naming the source column.
NUMERIC_ATTRIBUTES = {"capacity": "capacity_column", "beds": "beds_column",
                      "nursing_beds": "nursing_beds_column",
                      "floor_area_m2": "floor_area_column"}
#: Columns of :attr:`FacilityLoad.inventory`, in order.
INVENTORY_COLUMNS = ("fid", "layer", "type", "name", "address", "street", "district",
                     "capacity", "beds", "nursing_beds", "floor_area_m2", "public",
                     "source_row", "located")
#: Columns of :attr:`FacilityLoad.issues`, in order.
ISSUE_COLUMNS = ("layer", "file", "row", "name", "problem", "detail", "action")
#: Two rows with the same name closer than this (metres) are one facility.
DUPLICATE_RADIUS_M = 30.0

_EARTH_R = 6371008.8


@dataclass
class FacilityLoad:
    """Facilities ready for analysis plus the rows that were not used.

    Attributes
    ----------
    points : geopandas.GeoDataFrame
        EPSG:4326 points with columns :data:`POINT_COLUMNS`: ``fid`` ("<label>:<row>"),
        ``layer`` (label), ``type``, ``name``, ``address``, ``street``, ``capacity``
        (float, NaN when unknown), ``source_row`` (the row number as seen in Excel, header
        = row 1; for GIS files the 1-based feature number), ``lon_src``, ``lat_src``
        (coordinates as given in the file) and ``geometry`` (WGS84).
    issues : pandas.DataFrame
        One row per problem, columns :data:`ISSUE_COLUMNS`.
    files : dict of str to str
        Source file of each layer label (used to fill ``issues.file``).
    inventory : pandas.DataFrame
        Every facility row of the tables, located or not and wherever it lies (duplicates
        removed), columns :data:`INVENTORY_COLUMNS`: the existing stock that planning
        standards count (a care home without coordinates still has its beds).
        ``district`` is the layer's ``district_column`` (NaN without one): standards
        count only the district's rows of a city-wide list.
    joins : pandas.DataFrame or None
        The match table of the ``[[joins]]`` (:func:`~geoplan.sources.joins.apply_joins`),
        None when none is configured.
    read : dict of str to int
        Data rows read per layer label, blank rows included (for the facility ledger:
        rows read = points + dropped issues + blank rows).
    blank : dict of str to int
        Blank rows skipped per layer label.
    left_out : dict of str to int
        Rows left out on purpose, per reason: ``category_left_out`` (a category mapped to
        ``""``), ``filtered_out`` (not in ``filter_values``). Not issues, but counted by
        the facility ledger (rows read = placed + not placed).
    """

    points: gpd.GeoDataFrame
    issues: pd.DataFrame
    files: dict[str, str] = field(default_factory=dict)
    inventory: pd.DataFrame = field(default_factory=lambda: _empty_inventory())
    joins: pd.DataFrame | None = None
    read: dict[str, int] = field(default_factory=dict)
    blank: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------- helpers


def _empty_points() -> gpd.GeoDataFrame:
    data: dict[str, pd.Series] = {
        c: pd.Series([], dtype=object) for c in POINT_COLUMNS if c != "geometry"}
    for c in (*NUMERIC_ATTRIBUTES, "public", "lon_src", "lat_src"):
        data[c] = pd.Series([], dtype=np.float64)
    data["source_row"] = pd.Series([], dtype=np.int64)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs="EPSG:4326"),
                            crs="EPSG:4326")


def _empty_inventory() -> pd.DataFrame:
    data: dict[str, pd.Series] = {c: pd.Series([], dtype=object) for c in INVENTORY_COLUMNS}
    for c in (*NUMERIC_ATTRIBUTES, "public"):
        data[c] = pd.Series([], dtype=np.float64)
    data["source_row"] = pd.Series([], dtype=np.int64)
    data["located"] = pd.Series([], dtype=bool)
    return pd.DataFrame(data)


def _concat_inventory(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_inventory()
    return pd.concat(frames, ignore_index=True)[list(INVENTORY_COLUMNS)]


def _empty_issues() -> pd.DataFrame:
    data = {c: pd.Series([], dtype=object) for c in ISSUE_COLUMNS}
    data["row"] = pd.Series([], dtype=np.int64)
    return pd.DataFrame(data)


def _issue_frame(layer: str, file: str, rows: ArrayLike, names: ArrayLike, problem: str,
                 detail: pd.Series | str, action: str) -> pd.DataFrame:
    rows_a = np.asarray(rows, dtype=np.int64)
    n = rows_a.size
    det = (np.full(n, detail, dtype=object) if isinstance(detail, str)
           else np.asarray(detail, dtype=object))
    return pd.DataFrame({
        "layer": np.full(n, layer, dtype=object),
        "file": np.full(n, file, dtype=object),
        "row": rows_a,
        "name": np.asarray(names, dtype=object),
        "problem": np.full(n, problem, dtype=object),
        "detail": det,
        "action": np.full(n, action, dtype=object),
    })


def _concat_issues(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_issues()
    out = pd.concat(frames, ignore_index=True)
    out["row"] = out["row"].astype(np.int64)
    return out[list(ISSUE_COLUMNS)]


def _concat_points(frames: Sequence[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_points()
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")


def _log_issues(issues: pd.DataFrame) -> None:
    """One warning per (layer, problem) with a count and the first example."""
    if issues.empty:
        return
    first = issues.groupby(["layer", "problem"], sort=False).head(1)
    counts = issues.groupby(["layer", "problem"], sort=False).size()
    for rec in first.itertuples(index=False):  # one line per group, not per row
        n = int(counts[(rec.layer, rec.problem)])
        name = "" if pd.isna(rec.name) else f" '{rec.name}'"
        log.warning("facilities '%s' (%s): %d row%s %s, %s (e.g. row %d%s: %s)", rec.layer,
                    rec.file, n, "" if n == 1 else "s", rec.problem, rec.action, rec.row,
                    name, rec.detail)


def _text(values: pd.Series) -> pd.Series:
    """Strings with surrounding spaces trimmed; blank and missing cells are NaN."""
    obj = values.astype(object)
    missing = obj.isna()
    txt = obj.where(missing, obj.astype(str).str.strip())
    return txt.mask(missing | (txt == ""))


def _numbers(values: pd.Series, *, thousands: bool = False) -> NDArray[np.float64]:
    """Parse numbers (full-width digits allowed); anything else becomes NaN."""
    txt = _text(values)
    ok = txt.notna()
    norm = txt[ok].astype(str).str.normalize("NFKC").str.strip()
    if thousands:
        norm = norm.str.replace(",", "", regex=False)
    out = np.full(len(values), np.nan)
    parsed = pd.to_numeric(norm, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    out[ok.to_numpy()] = parsed
    out[~np.isfinite(out)] = np.nan
    return out


#: Degrees-minutes-seconds: optional hemisphere (N/S/E/W, 东经/西经/北纬/南纬) before or
#: after, degrees with ° or 度, optional minutes (' ′ ’ 分) and seconds (" ″ ” '' 秒).
_DMS = re.compile(
    r"^(?P<pre>[NSEWnsew]|[东西]经|[南北]纬|[东西南北])?\s*(?P<sign>[-+])?\s*"
    r"(?P<deg>\d+(?:\.\d+)?)\s*(?:°|º|度)\s*"
    r"(?:(?P<min>\d+(?:\.\d+)?)\s*(?:'|′|’|分)\s*)?"
    r"(?:(?P<sec>\d+(?:\.\d+)?)\s*(?:\"|″|”|''|′′|秒)\s*)?"
    r"(?P<post>[NSEWnsew]|[东西]经|[南北]纬)?$")


def _dms(values: pd.Series) -> NDArray[np.float64]:
    """Decimal degrees of degrees-minutes-seconds texts; NaN where a text is not DMS.

    Minutes and seconds must be below 60. South and west (S, W, 南纬, 西经, or a minus
    sign) are negative.
    """
    txt = _text(values)
    ok = txt.notna()
    norm = txt[ok].astype(str).str.normalize("NFKC").str.strip()
    parts = norm.str.extract(_DMS)
    out = np.full(len(values), np.nan)
    if parts.empty:
        return out
    deg = pd.to_numeric(parts["deg"], errors="coerce").to_numpy(np.float64)
    mins = pd.to_numeric(parts["min"], errors="coerce").fillna(0).to_numpy(np.float64)
    secs = pd.to_numeric(parts["sec"], errors="coerce").fillna(0).to_numpy(np.float64)
    hemi = (parts["pre"].fillna("") + parts["post"].fillna("")).str.upper()
    neg = (hemi.str.contains("S|W|南|西", regex=True).to_numpy()
           | (parts["sign"] == "-").to_numpy())
    val = deg + mins / 60 + secs / 3600
    val = np.where((mins >= 60) | (secs >= 60), np.nan, val)
    out[ok.to_numpy()] = np.where(neg, -val, val)
    return out


def _coordinates(values: pd.Series) -> tuple[NDArray[np.float64], int]:
    """Numbers of a coordinate column, DMS texts converted; also how many were DMS."""
    num = _numbers(values)
    todo = np.isnan(num) & values.notna().to_numpy()
    if not todo.any():
        return num, 0
    dms = _dms(values.reset_index(drop=True)[todo])
    got = np.isfinite(dms)
    idx = np.flatnonzero(todo)[got]
    num[idx] = dms[got]
    return num, int(got.sum())


def _haversine_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike,
                 lat2: ArrayLike) -> NDArray[np.float64]:
    lo1, la1, lo2, la2 = (np.radians(np.asarray(v, dtype=np.float64))
                          for v in (lon1, lat1, lon2, lat2))
    h = (np.sin((la2 - la1) / 2) ** 2
         + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2)
    return 2 * _EARTH_R * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


class _Where:
    """Names the file and settings of one layer in messages."""

    def __init__(self, layer: FacilityLayer, index: int | None) -> None:
        self.file = str(layer.path)
        self.label = layer.label or layer.path.stem
        self.index = index
        self.row = "row"  # "feature" for GIS files

    def setting(self, key: str) -> str:
        if self.index is None:
            return f"{key} of the [[facilities]] layer '{self.label}'"
        return f"facilities[{self.index}].{key}"


def _fmt(v: float) -> str:
    return f"{v:.6g}"


# ---------------------------------------------------------------------------- checks


def _check_numeric_column(raw: pd.Series, parsed: NDArray[np.float64], column: str,
                          key: str, rows: NDArray[np.int64], where: _Where) -> None:
    nonblank = raw.notna().to_numpy()
    if not nonblank.any():
        raise InputDataError(
            f"column '{column}' in {where.file} is empty in every row; if the file has no "
            f"coordinates set {where.setting('has_coordinates')} = false, otherwise point "
            f"{where.setting(key)} at the {'longitude' if key == 'x' else 'latitude'} column")
    bad = nonblank & np.isnan(parsed)
    if bad.sum() > 0.5 * nonblank.sum():
        i = int(np.flatnonzero(bad)[0])
        if raw[bad].astype(str).str.contains("°|º|度|′|分|秒", regex=True).mean() > 0.5:
            raise InputDataError(
                f"column '{column}' in {where.file} holds degrees-minutes-seconds values that "
                f"cannot be read (e.g. {where.row} {rows[i]}: '{raw.iloc[i]}'); write them as "
                "decimal degrees (e.g. 121.4953) or as 121°29'43.1\"E with minutes and "
                "seconds below 60")
        raise InputDataError(
            f"column '{column}' in {where.file} is not numeric (e.g. {where.row} {rows[i]}: "
            f"'{raw.iloc[i]}'); point {where.setting(key)} at the "
            f"{'longitude' if key == 'x' else 'latitude'} column")


def _check_lonlat(x: NDArray[np.float64], y: NDArray[np.float64], rows: NDArray[np.int64],
                  xcol: str, ycol: str, where: _Where) -> None:
    """Raise on swapped columns and on values outside the valid degree ranges."""
    if x.size == 0:
        return
    ax, ay = np.abs(x), np.abs(y)
    lat_lon = (ay > 90) & (ay <= 180) & (ax <= 90)
    china_swapped = (x >= 15) & (x <= 55) & (y >= 70) & (y <= 140)
    swapped = lat_lon | china_swapped
    if swapped.mean() > 0.5:
        i = int(np.flatnonzero(swapped)[0])
        raise InputDataError(
            f"{where.file}: columns '{xcol}' (x) and '{ycol}' (y) appear swapped (e.g. "
            f"{where.row} {rows[i]}: x={_fmt(x[i])} looks like a latitude, y={_fmt(y[i])} like a "
            f"longitude); exchange {where.setting('x')} and {where.setting('y')}")
    bad = (ax > 180) | (ay > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        hint = " (x and y look swapped in this row)" if swapped[i] else ""
        raise InputDataError(
            f"{where.file} {where.row} {rows[i]}: longitude {_fmt(x[i])} / latitude "
            f"{_fmt(y[i])} is out of range (|lon| <= 180, |lat| <= 90){hint}; "
            f"{int(bad.sum())} {where.row}(s) affected, fix the values in the file")


def _same_place_pairs(frame: pd.DataFrame, same_place: Mapping[str, float]) -> pd.DataFrame:
    """Pairs (``pos_a`` < ``pos_b``) of rows of the same type in different layers, ``b`` of a
    layer with ``same_place_m`` > 0 and within that distance of ``a``, whatever the names.

    A k-d tree (scipy) on local metres finds the candidates; the haversine distance decides.
    """
    radius = frame["layer"].map(same_place).fillna(0.0).to_numpy(np.float64)
    cols = ["pos_a", "pos_b", "fid_a", "dist", "how"]
    if not (radius > 0).any():
        return pd.DataFrame(columns=cols)
    from scipy.spatial import cKDTree

    lon, lat = frame["lon"].to_numpy(np.float64), frame["lat"].to_numpy(np.float64)
    ok = np.isfinite(lon) & np.isfinite(lat)
    lat0 = float(np.mean(lat[ok])) if ok.any() else 0.0
    xy = np.column_stack([lon * 111_320.0 * np.cos(np.radians(lat0)), lat * 110_574.0])
    idx = np.flatnonzero(ok)
    tree = cKDTree(xy[idx])
    b_rows = idx[radius[idx] > 0]
    if len(b_rows) == 0:
        return pd.DataFrame(columns=cols)
    hits = tree.query_ball_point(xy[b_rows], r=1.01 * radius[b_rows])
    pa = np.concatenate([idx[np.asarray(h, dtype=np.int64)] for h in hits])
    pb = np.repeat(b_rows, [len(h) for h in hits])
    types, layers = frame["type"].to_numpy(), frame["layer"].to_numpy()
    keep = (pa < pb) & (types[pa] == types[pb]) & (layers[pa] != layers[pb])
    pa, pb = pa[keep], pb[keep]
    dist = _haversine_m(lon[pa], lat[pa], lon[pb], lat[pb])
    close = dist <= radius[pb]
    pos = frame["pos"].to_numpy()
    return pd.DataFrame({"pos_a": pos[pa[close]], "pos_b": pos[pb[close]],
                         "fid_a": frame["fid"].to_numpy()[pa[close]], "dist": dist[close],
                         "how": "place"})


def _duplicates(points: gpd.GeoDataFrame, same_place: Mapping[str, float] | None = None
                ) -> tuple[NDArray[np.bool_], pd.Series]:
    """Rows whose name repeats within :data:`DUPLICATE_RADIUS_M` of an earlier same-type row,
    and rows of a layer with ``same_place_m`` that lie within it of a same-type row of an
    earlier layer (:func:`_same_place_pairs`)."""
    n = len(points)
    mask = np.zeros(n, dtype=bool)
    detail = pd.Series(np.full(n, "", dtype=object), index=points.index)
    if n < 2:
        return mask, detail
    key = _text(points["name"])
    key = key.where(key.isna(), key.astype(str).str.normalize("NFKC")
                    .str.replace(r"\s+", "", regex=True))
    frame = pd.DataFrame({
        "pos": np.arange(n), "type": points["type"].to_numpy(), "key": key.to_numpy(),
        "lon": shapely.get_x(points.geometry.values), "lat": shapely.get_y(points.geometry.values),
        "fid": points["fid"].to_numpy()})
    frame["layer"] = points["layer"].to_numpy()
    place = _same_place_pairs(frame, same_place or {})
    named = frame[frame["key"].notna()]
    pairs = named.merge(named, on=["type", "key"], suffixes=("_a", "_b"))
    pairs = pairs[pairs["pos_a"] < pairs["pos_b"]]
    dist = _haversine_m(pairs["lon_a"], pairs["lat_a"], pairs["lon_b"], pairs["lat_b"])
    by_name = pairs.assign(dist=dist, how="name")[dist <= DUPLICATE_RADIUS_M]
    close = pd.concat([by_name[["pos_a", "pos_b", "fid_a", "dist", "how"]], place],
                      ignore_index=True) if len(place) else by_name
    # a name match first, then the earliest row at the same place
    close = close.assign(order=(close["how"] != "name").astype(int)).sort_values(
        ["pos_b", "order", "pos_a"]).drop_duplicates("pos_b")
    if close.empty:
        return mask, detail
    pos = close["pos_b"].to_numpy()
    mask[pos] = True
    names = points["name"].astype(object).fillna("").astype(str).to_numpy()
    what = np.where(close["how"].to_numpy() == "name", "same name as ",
                    "same type, another name ('" + names[close["pos_a"].to_numpy()]
                    + "', same_place_m of its layer), as ")
    text = (what + close["fid_a"].astype(str) + ", "
            + close["dist"].round().astype(int).astype(str)
            + " m away; the first is kept (check whether they are separate facilities)")
    detail.iloc[pos] = text.to_numpy()
    detail.attrs["kept_pos"] = close["pos_a"].to_numpy()
    detail.attrs["dropped_pos"] = pos
    return mask, detail


#: Columns a kept duplicate takes over from the dropped one where its own are blank.
_CORE_COLUMNS = frozenset({"fid", "layer", "type", "name", "source_row", "lon_src", "lat_src",
                           "geometry", "located", "geocode_note"})


def _fill_from(frame: pd.DataFrame, kept: NDArray[np.int64],
               dropped: NDArray[np.int64]) -> pd.DataFrame:
    """Fill blank attributes of rows ``kept`` with those of rows ``dropped`` (positions)."""
    out = frame.copy()
    for col in out.columns:
        if col in _CORE_COLUMNS:
            continue
        vals = out[col].to_numpy(copy=True)
        take = pd.isna(vals[kept]) & ~pd.isna(vals[dropped])
        if take.any():
            vals[kept[take]] = vals[dropped[take]]
            out[col] = vals
    return out


def _drop_duplicates(load: FacilityLoad,
                     same_place: Mapping[str, float] | None = None) -> FacilityLoad:
    """Report repeated names at one place once and keep the first row.

    The kept row takes over what it lacks from the dropped rows (address, street,
    capacity, beds, joined columns ...), in the points and in the inventory.
    """
    dup, detail = _duplicates(load.points, same_place)
    if not dup.any():
        return load
    kept, dropped = detail.attrs["kept_pos"], detail.attrs["dropped_pos"]
    pts = load.points
    points = gpd.GeoDataFrame(_fill_from(pts, kept, dropped), geometry="geometry",
                              crs=pts.crs)
    inv = load.inventory
    pos = pd.Series(np.arange(len(inv)), index=inv["fid"].to_numpy())
    fids = pts["fid"].to_numpy()
    known = np.isin(fids[kept], pos.index) & np.isin(fids[dropped], pos.index)
    inventory = (_fill_from(inv, pos[fids[kept][known]].to_numpy(),
                            pos[fids[dropped][known]].to_numpy()) if known.any() else inv)
    load = FacilityLoad(points, load.issues, load.files, inventory, joins=load.joins,
                        read=dict(load.read), blank=dict(load.blank),
                        left_out=dict(load.left_out))
    return move_to_issues(load, dup, "duplicate", detail)


def _category_types(layer: FacilityLayer, raw: pd.Series, names: pd.Series,
                    rows: NDArray[np.int64], where: _Where
                    ) -> tuple[NDArray[np.object_], pd.DataFrame]:
    """Facility type of each row from its category; unmapped rows get ``""`` and an issue.

    Categories mapped to ``""`` are left out on purpose (one info line); categories the
    map does not know are reported row by row (``unmapped_category``) and in one warning
    that lists them with their counts, so none is dropped silently.
    """
    from geoplan.sources.facility_types import category_key

    mapping = layer.category_types()
    keys = raw.map(lambda v: v if pd.isna(v) else category_key(v))
    types = keys.map(mapping)
    unknown = types.isna().to_numpy()
    skipped = (types == "").to_numpy()
    if skipped.any():
        log.info("facilities '%s' (%s): %d rows of categories mapped to \"\" left out",
                 where.label, where.file, int(skipped.sum()))
    out = types.fillna("").to_numpy(dtype=object)
    shown = raw.fillna("(blank)")
    if unknown.any():
        counts = shown[unknown].value_counts(sort=False)
        listed = ", ".join(f"'{k}' ({n})" for k, n in counts.items())
        log.warning("facilities '%s' (%s): %d rows have categories the category map does not "
                    "cover: %s; they are left out and listed in the issues table; map them in "
                    "[facilities.categories] (a type, or \"\" to leave one out)", where.label,
                    where.file, int(unknown.sum()), listed)
    detail = (f"{layer.category_column} = '" + shown[unknown].astype(str)
              + "' is not in the category map; map it in [facilities.categories] (a type key, "
              "or \"\" to leave it out)")
    issues = _issue_frame(where.label, where.file, rows[unknown], names[unknown],
                          "unmapped_category", detail, "dropped")
    return out, issues


def _geocode_quality(layer: FacilityLayer, column: Callable[[str | None], pd.Series],
                     where: _Where) -> tuple[NDArray[np.object_], NDArray[np.bool_]]:
    """Per row: why its geocode is not trusted (NaN when it is) and whether it is low."""
    n = len(column(None))
    notes = pd.Series(np.full(n, "", dtype=object))
    if layer.quality_column is not None and layer.min_quality is not None:
        raw = column(layer.quality_column)
        q = _numbers(raw)
        low = ~np.isnan(q) & (q < layer.min_quality)
        notes[low] = (f"geocoder {layer.quality_column} " + raw[low].astype(str)
                      + f" < {layer.min_quality:g}")
        bad = raw.notna().to_numpy() & np.isnan(q)
        notes[bad] = (f"geocoder {layer.quality_column} '" + raw[bad].astype(str)
                      + "' is not a number")
    if layer.match_level_column is not None:
        level = column(layer.match_level_column)
        bad_levels = {_level_key(v) for v in layer.bad_match_levels}
        hit = level.map(lambda v: not pd.isna(v) and _level_key(v) in bad_levels)
        hit = hit.to_numpy(dtype=bool)
        text = f"geocoder {layer.match_level_column} '" + level[hit].astype(str) + "'"
        notes[hit] = np.where(notes[hit] == "", text, notes[hit] + "; " + text)
    low_quality = (notes != "").to_numpy()
    if low_quality.any():
        log.debug("facilities '%s': %d rows with low geocoder quality", where.label,
                  int(low_quality.sum()))
    return notes.mask(~low_quality).to_numpy(dtype=object), low_quality


def _level_key(value: object) -> str:
    """Text compared for match levels: NFKC, no spaces."""
    return "".join(unicodedata.normalize("NFKC", str(value)).split())


# ---------------------------------------------------------------------------- loading


def load_facility_layer(layer: FacilityLayer, *, index: int | None = None) -> FacilityLoad:
    """Read one facility table and convert its coordinates to WGS84 points.

    Parameters
    ----------
    layer : FacilityLayer
        File, columns and coordinate system of the layer.
    index : int, optional
        Position of the layer in the config, used to name settings in messages
        (``facilities[index].x``).

    Returns
    -------
    FacilityLoad
        Points and issues of this layer (duplicates within the layer already removed).

    Raises
    ------
    InputDataError
        If a configured column is missing, a coordinate column is empty or not numeric,
        x and y look swapped, coordinates are out of range, or the file has no data rows.
    """
    where = _Where(layer, index)
    label, file = where.label, where.file
    table = read_table(layer.path, sheet=layer.sheet, encoding=layer.encoding)
    is_geo = isinstance(table, gpd.GeoDataFrame)
    wanted = {"name_column": layer.name_column, "address_column": layer.address_column,
              "street_column": layer.street_column, "public_column": layer.public_column,
              "district_column": layer.district_column,
              "category_column": layer.category_column,
              "quality_column": layer.quality_column,
              "match_level_column": layer.match_level_column,
              "filter_column": layer.filter_column,
              **{key: getattr(layer, key) for key in NUMERIC_ATTRIBUTES.values()}}
    if layer.has_coordinates and not is_geo:
        for key in ("x", "y"):
            if not getattr(layer, key):
                raise InputDataError(
                    f"{file}: {where.setting(key)} is not set; name the "
                    f"{'longitude' if key == 'x' else 'latitude'} column, or set "
                    f"{where.setting('has_coordinates')} = false")
        wanted = {"x": layer.x, "y": layer.y, **wanted}
    require_columns(table, {where.setting(k): v for k, v in wanted.items()}, file)

    rows = source_rows(table)  # as the user sees them: spreadsheet rows or feature ids
    where.row = row_word(table)
    attrs = table.drop(columns="geometry") if is_geo else table
    blank = attrs.isna().all(axis=1).to_numpy() if attrs.shape[1] else np.zeros(len(table), bool)
    if is_geo:
        blank = blank & (table.geometry.isna().to_numpy() | table.geometry.is_empty.to_numpy())
    if blank.any():
        log.debug("facilities '%s' (%s): skipped %d blank rows", label, file, int(blank.sum()))
    keep = ~blank
    counts = {"read": {label: len(table)}, "blank": {label: int(blank.sum())}}
    table, rows = table[keep].reset_index(drop=True), rows[keep]
    if len(table) == 0:
        raise InputDataError(f"{file}: no data rows; the file has a header but no facilities")
    if layer.filter_column is not None:
        wanted_values = {_level_key(v) for v in layer.filter_values}
        sel = _text(table[layer.filter_column]).map(
            lambda v: not pd.isna(v) and _level_key(v) in wanted_values).to_numpy(dtype=bool)
        log.info("facilities '%s' (%s): %d of %d rows have %s in %s; the others are left out",
                 label, file, int(sel.sum()), len(table), layer.filter_column,
                 ", ".join(layer.filter_values))
        table, rows = table[sel].reset_index(drop=True), rows[sel]
        counts["left_out"] = {"filtered_out": int((~sel).sum())}
        if len(table) == 0:
            raise InputDataError(f"{file}: no row has {layer.filter_column} in "
                                 f"{', '.join(layer.filter_values)}; check "
                                 f"{where.setting('filter_values')}")

    def column(col: str | None) -> pd.Series:
        if col is None:
            return pd.Series(np.full(len(table), np.nan, dtype=object))
        return _text(table[col]).reset_index(drop=True)

    issue_frames: list[pd.DataFrame] = []
    if layer.category_column is not None:
        row_types, unmapped = _category_types(layer, column(layer.category_column),
                                              column(layer.name_column), rows, where)
        issue_frames.append(unmapped)
        used = row_types != ""
        skipped = int(np.count_nonzero(~used)) - len(unmapped)  # unmapped ones are issues
        if skipped:
            counts.setdefault("left_out", {})["category_left_out"] = skipped
        table, rows, row_types = (table[used].reset_index(drop=True), rows[used],
                                  row_types[used])
        if len(table) == 0:
            _log_issues(_concat_issues(issue_frames))
            raise InputDataError(f"{file}: no row has a category that the category map of "
                                 f"{where.setting('category_column')} uses")
    else:
        row_types = np.full(len(table), layer.type, dtype=object)

    names, addresses, streets = (column(layer.name_column), column(layer.address_column),
                                 column(layer.street_column))
    geocode_note, low_quality = _geocode_quality(layer, column, where)

    # capacity, beds, floor area: unknown (NaN) unless a non-negative number, never 0
    numeric: dict[str, np.ndarray] = {}
    for attr, key in NUMERIC_ATTRIBUTES.items():
        col = getattr(layer, key)
        if col is None:
            numeric[attr] = np.full(len(table), np.nan)
            continue
        raw = column(col)
        values = _numbers(raw, thousands=True)
        negative = values < 0
        bad = raw.notna().to_numpy() & np.isnan(values)
        issue_frames.append(_issue_frame(
            label, file, rows[bad], names[bad], f"unparseable_{attr}",
            f"{attr} '" + raw[bad].astype(str)
            + "' is not a number; treated as unknown (fix it to count it)", "kept"))
        issue_frames.append(_issue_frame(
            label, file, rows[negative], names[negative], f"negative_{attr}",
            f"{attr} " + raw[negative].astype(str)
            + f" is negative; treated as unknown (give the {attr} as 0 or more in column "
            f"'{col}')", "kept"))
        values[negative] = np.nan
        numeric[attr] = values
    # public (公办) or not: 1.0 / 0.0, NaN when the column is absent or the cell blank
    if layer.public_column is not None:
        raw = column(layer.public_column)
        yes = {v.strip().lower() for v in layer.public_values}
        public = np.where(raw.isna(), np.nan,
                          raw.fillna("").str.strip().str.lower().isin(yes).astype(float))
    else:
        public = np.full(len(table), np.nan)

    fids = (f"{label}:" + pd.Series(rows, dtype=np.int64).astype(str)).to_numpy(dtype=object)
    inventory = pd.DataFrame({
        "fid": fids, "layer": np.full(len(table), label, dtype=object),
        "type": row_types.astype(object),
        "name": names.to_numpy(dtype=object), "address": addresses.to_numpy(dtype=object),
        "street": streets.to_numpy(dtype=object),
        "district": column(layer.district_column).to_numpy(dtype=object), **numeric,
        "public": public, "source_row": rows, "located": np.zeros(len(table), dtype=bool)})

    if not layer.has_coordinates:
        detail = ("no coordinates in the source (has_coordinates = false); geocode the "
                  "address" + (": " + addresses).fillna(""))
        issues = _concat_issues([*issue_frames, _issue_frame(
            label, file, rows, names, "missing_coordinates", detail, "dropped")])
        _log_issues(issues)
        return FacilityLoad(_empty_points(), issues, {label: file}, inventory, **counts)

    if is_geo:
        geom = table.geometry
        empty = (geom.isna() | geom.is_empty).to_numpy()
        issue_frames.append(_issue_frame(label, file, rows[empty], names[empty],
                                         "missing_coordinates", "the feature has no geometry",
                                         "dropped"))
        ok = ~empty
        src = geom[ok]
        not_point = (src.geom_type != "Point").to_numpy()
        if not_point.any():
            log.warning("facilities '%s' (%s): %d features are not points; using a point "
                        "inside each shape", label, file, int(not_point.sum()))
            src = src.representative_point()
        x_src, y_src = shapely.get_x(src.values), shapely.get_y(src.values)
        wgs = gpd.GeoSeries(src.values, crs=table.crs).to_crs("EPSG:4326")
        lon, lat = shapely.get_x(wgs.values), shapely.get_y(wgs.values)
        if layer.crs.strip().lower() in ("gcj02", "bd09"):
            lon, lat = to_wgs84(lon, lat, layer.crs)  # Chinese web-map data labelled 4326
        _check_lonlat(lon, lat, rows[ok], "geometry x", "geometry y", where)
    else:
        assert layer.x is not None and layer.y is not None  # checked above
        x_raw, y_raw = column(layer.x), column(layer.y)
        (x_num, x_dms), (y_num, y_dms) = _coordinates(x_raw), _coordinates(y_raw)
        if x_dms or y_dms:
            log.info("facilities '%s' (%s): %d coordinates in degrees-minutes-seconds "
                     "converted to decimal degrees", label, file, x_dms + y_dms)
        _check_numeric_column(x_raw, x_num, layer.x, "x", rows, where)
        _check_numeric_column(y_raw, y_num, layer.y, "y", rows, where)
        x_blank, y_blank = x_raw.isna().to_numpy(), y_raw.isna().to_numpy()
        missing = x_blank | y_blank
        which = np.where(x_blank & y_blank, f"'{layer.x}' and '{layer.y}' are blank",
                         np.where(x_blank, f"'{layer.x}' is blank", f"'{layer.y}' is blank"))
        issue_frames.append(_issue_frame(
            label, file, rows[missing], names[missing], "missing_coordinates",
            pd.Series(which[missing]) + "; add the coordinates or geocode the address",
            "dropped"))
        unparse = ~missing & (np.isnan(x_num) | np.isnan(y_num))
        issue_frames.append(_issue_frame(
            label, file, rows[unparse], names[unparse], "unparseable_coordinates",
            f"'{layer.x}'='" + x_raw[unparse].astype(str) + f"', '{layer.y}'='"
            + y_raw[unparse].astype(str) + "' is not a number; fix the value", "dropped"))
        ok = ~missing & ~unparse
        x_src, y_src = x_num[ok], y_num[ok]
        if is_geographic(layer.crs):
            _check_lonlat(x_src, y_src, rows[ok], layer.x, layer.y, where)
        lon, lat = to_wgs84(x_src, y_src, layer.crs)
        bad = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lon) > 180) | (np.abs(lat) > 90)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputDataError(
                f"{file} {where.row} {rows[ok][i]}: x={_fmt(x_src[i])}, y={_fmt(y_src[i])} "
                f"cannot be converted from {layer.crs} to longitude/latitude; check "
                f"{where.setting('crs')} and the x/y columns")

    n_ok = int(ok.sum())
    points = gpd.GeoDataFrame({
        "fid": (f"{label}:" + pd.Series(rows[ok], dtype=np.int64).astype(str)).to_numpy(
            dtype=object),
        "layer": np.full(n_ok, label, dtype=object),
        "type": row_types[ok].astype(object),
        "name": names[ok].to_numpy(dtype=object),
        "address": addresses[ok].to_numpy(dtype=object),
        "street": streets[ok].to_numpy(dtype=object),
        **{attr: values[ok] for attr, values in numeric.items()},
        "public": public[ok],
        "geocode_note": geocode_note[ok],
        "source_row": rows[ok],
        "lon_src": np.asarray(x_src, dtype=np.float64),
        "lat_src": np.asarray(y_src, dtype=np.float64),
    }, geometry=shapely.points(lon, lat), crs="EPSG:4326")
    flagged = ok & low_quality
    issue_frames.append(_issue_frame(
        label, file, rows[flagged], names[flagged], "low_geocode_quality",
        pd.Series(geocode_note[flagged]) + (
            "; dropped (low_quality = \"drop\"), check the location" if layer.low_quality
            == "drop" else "; kept and marked on the map, check the location"),
        "dropped" if layer.low_quality == "drop" else "kept"))
    issues = _concat_issues(issue_frames)
    if len(issues):
        issues = issues.sort_values("row", kind="stable", ignore_index=True)
    _log_issues(issues)
    inventory["located"] = ok
    if layer.low_quality == "drop" and flagged.any():
        inventory.loc[flagged, "located"] = False
        points = points[~flagged[ok]].reset_index(drop=True)
        n_ok = len(points)
    load = FacilityLoad(points if n_ok else _empty_points(), issues, {label: file}, inventory,
                        **counts)
    return _drop_duplicates(load)


def load_facilities(layers: Sequence[FacilityLayer],
                    joins: Sequence[Join] = ()) -> FacilityLoad:
    """Load all facility layers, attach joined tables, drop duplicates across layers.

    Parameters
    ----------
    layers : sequence of FacilityLayer
        The configured layers, in config order.
    joins : sequence of Join
        Tables attached by name (:func:`~geoplan.sources.joins.apply_joins`) before
        duplicates across layers are dropped (a kept duplicate takes the dropped one's
        attached values). The match table is :attr:`FacilityLoad.joins`.

    Returns
    -------
    FacilityLoad
        All points (``fid`` unique) and all issues, layer by layer.

    Raises
    ------
    InputDataError
        As :func:`load_facility_layer`, or if two layers share a label.
    """
    labels = [layer.label or layer.path.stem for layer in layers]
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label in seen:
            raise InputDataError(
                f"{layers[i].path}: facility layers {seen[label]} and {i} are both labelled "
                f"'{label}'; set facilities[{i}].label to a distinct name")
        seen[label] = i
    loads = [load_facility_layer(layer, index=i) for i, layer in enumerate(layers)]
    files: dict[str, str] = {}
    read: dict[str, int] = {}
    blank: dict[str, int] = {}
    left_out: dict[str, int] = {}
    for ld in loads:
        files.update(ld.files)
        read.update(ld.read)
        blank.update(ld.blank)
        for reason, n in ld.left_out.items():
            left_out[reason] = left_out.get(reason, 0) + n
    points = _concat_points([ld.points for ld in loads])
    issues = _concat_issues([ld.issues for ld in loads])
    inventory = _concat_inventory([ld.inventory for ld in loads])
    matches = None
    if joins:
        from geoplan.sources.joins import apply_joins

        points, inventory, matches, join_issues = apply_joins(points, inventory, joins)
        issues = _concat_issues([issues, *join_issues])
    load = FacilityLoad(points, issues, files, inventory, joins=matches, read=read, blank=blank,
                        left_out=left_out)
    same_place = {label: layer.same_place_m for label, layer in zip(labels, layers,
                                                                     strict=True)}
    return _drop_duplicates(load, same_place)


def move_to_issues(load: FacilityLoad, mask: ArrayLike | pd.Series, problem: str,
                   detail: pd.Series | Sequence[str] | str,
                   action: str = "dropped") -> FacilityLoad:
    """Record the masked points as issues and (for ``action="dropped"``) remove them.

    Parameters
    ----------
    load : FacilityLoad
        Points and issues so far; not modified.
    mask : array_like of bool or pandas.Series
        True for the points concerned, aligned with ``load.points`` (a Series is aligned
        by index, missing entries count as False).
    problem : str
        Problem key, e.g. ``"far_from_network"``.
    detail : pandas.Series, sequence of str or str
        Explanation: a Series aligned with ``load.points`` by index; a sequence with one
        entry per point or one per masked point (in order); or one text for all.
    action : str, default "dropped"
        What happens to the points. Only ``"dropped"`` removes them; any other action
        (e.g. ``"kept"``) only records the issue.

    Returns
    -------
    FacilityLoad
        A new load; the points' index is reset.
    """
    pts = load.points
    if isinstance(mask, pd.Series):
        m = mask.reindex(pts.index, fill_value=False).to_numpy(dtype=bool)
    else:
        m = np.asarray(mask, dtype=bool)
        if m.shape != (len(pts),):
            raise ValueError(f"mask has shape {m.shape}, expected ({len(pts)},)")
    if not m.any():
        return load
    det: pd.Series | str
    if isinstance(detail, pd.Series):
        det = detail.reindex(pts.index)[m].astype(object).fillna("")
    elif isinstance(detail, str):
        det = detail
    else:
        arr = np.asarray(detail, dtype=object)
        if arr.shape == (len(pts),):
            arr = arr[m]
        elif arr.shape != (int(m.sum()),):
            raise ValueError(f"detail has {arr.size} entries; expected {len(pts)} (one per "
                             f"point) or {int(m.sum())} (one per masked point)")
        det = pd.Series(arr)
    sel = pts[m]
    new = _issue_frame("", "", sel["source_row"], sel["name"], problem, det, action)
    new["layer"] = sel["layer"].to_numpy(dtype=object)
    new["file"] = sel["layer"].map(load.files).fillna("").to_numpy(dtype=object)
    _log_issues(new)
    points = pts[~m] if action == "dropped" else pts
    points = gpd.GeoDataFrame(points.reset_index(drop=True), geometry="geometry",
                              crs="EPSG:4326")
    inventory = load.inventory
    if problem == "duplicate" and action == "dropped":  # a duplicate is not extra stock
        inventory = inventory[~inventory["fid"].isin(sel["fid"])].reset_index(drop=True)
    return FacilityLoad(points, _concat_issues([load.issues, new]), dict(load.files),
                        inventory, joins=load.joins, read=dict(load.read),
                        blank=dict(load.blank), left_out=dict(load.left_out))


def flag_outside(load: FacilityLoad, boundary_wgs84: shapely.Geometry) -> FacilityLoad:
    """Move facilities outside the study area to the issues (``outside_study_area``).

    Parameters
    ----------
    load : FacilityLoad
        Points in WGS84.
    boundary_wgs84 : shapely.Geometry
        The study-area polygon in WGS84 degrees. Points on the boundary count as inside.

    Returns
    -------
    FacilityLoad
        A new load without the outside points.

    Raises
    ------
    InputDataError
        If every facility lies outside the area: then the coordinates (swapped x/y, wrong
        ``crs``) or the area are wrong, not the facilities.
    """
    pts = load.points
    if len(pts) == 0:
        return load
    geoms = pts.geometry.values
    inside = shapely.covers(boundary_wgs84, geoms)
    if not inside.any():
        fx0, fy0, fx1, fy1 = shapely.total_bounds(geoms)
        ax0, ay0, ax1, ay1 = shapely.bounds(boundary_wgs84)
        layers = ", ".join(dict.fromkeys(pts["layer"].astype(str)))
        raise InputDataError(
            f"all {len(pts)} facilities (layers: {layers}) lie outside the study area: they "
            f"span lon {fx0:.4f}..{fx1:.4f}, lat {fy0:.4f}..{fy1:.4f}, the area spans lon "
            f"{ax0:.4f}..{ax1:.4f}, lat {ay0:.4f}..{ay1:.4f}; check for swapped x/y columns "
            "or a wrong crs setting (wgs84/gcj02/bd09 shifts are a few hundred metres)")
    # distance in metres on a local equirectangular projection (a rough figure for people)
    lat0 = float(np.mean(shapely.bounds(boundary_wgs84)[[1, 3]]))
    scale = np.array([111_320.0 * np.cos(np.radians(lat0)), 110_574.0])

    def to_m(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        return xy * scale

    dist = shapely.distance(shapely.transform(boundary_wgs84, to_m),
                            shapely.transform(geoms, to_m))
    text = ("about " + pd.Series(np.round(dist).astype(np.int64)).astype(str)
            + " m outside the study area; check its coordinates if it should be inside")
    detail = pd.Series(text.to_numpy(dtype=object), index=pts.index)
    return move_to_issues(load, ~inside, "outside_study_area", detail)
