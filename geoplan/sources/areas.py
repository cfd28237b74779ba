"""Analysis areas: residents' committees from a polygon file, OSM residential compounds
(小区, ``landuse=residential``), or a regular grid.

Every area frame has the columns ``area_id``, ``area_kind`` (``committee``,
``compound`` or ``grid``), ``code``, ``name``, ``street_code``, ``street_name``,
``elderly_60`` and ``elderly_80`` (NaN when the source gives no count) and polygon
``geometry`` in the network's metric CRS.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.config import Areas
from geoplan.errors import InputDataError
from geoplan.sources.tables import read_table, row_word, source_rows

log = logging.getLogger(__name__)

AREA_COLUMNS = ["area_id", "area_kind", "code", "name", "street_code", "street_name",
                "elderly_60", "elderly_80"]


def _text(series: pd.Series) -> pd.Series:
    """Column as stripped text, missing values as ''."""
    return series.astype("object").where(series.notna(), "").astype(str).str.strip()


def _numeric(series: pd.Series, path: Path, column: str, rows: np.ndarray,
             word: str = "row") -> np.ndarray:
    """Counts of a column; ``rows`` name the records (feature ids or spreadsheet rows)."""
    text = _text(series)
    values = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
    bad = ((text != "") & values.isna()).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputDataError(f"{path}: column '{column}' {word} {rows[i]} is not a number "
                             f"({text.iloc[i]!r}); fix the value or leave it blank")
    neg = (values < 0).to_numpy()
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise InputDataError(f"{path}: column '{column}' {word} {rows[i]} is negative "
                             f"({text.iloc[i]}); give a count of 0 or more, or leave it blank")
    return values.to_numpy(np.float64)


def street_names(path: Path | None) -> dict[str, str]:
    """Map street codes to names from an admin table (columns ``code``, ``name``)."""
    if path is None:
        return {}
    df = read_table(path)
    if not {"code", "name"} <= set(df.columns):
        raise InputDataError(f"{path}: a streets table needs columns 'code' and 'name' "
                             f"(found: {', '.join(map(str, df.columns))})")
    return dict(zip(_text(df["code"]), _text(df["name"]), strict=True))


def _wanted_columns(spec: Areas) -> dict[str, str | None]:
    return {"areas.code_column": spec.code_column, "areas.name_column": spec.name_column,
            "areas.street_code_column": spec.street_code_column,
            "areas.street_name_column": spec.street_name_column,
            "areas.elderly60_column": spec.elderly60_column,
            "areas.elderly80_column": spec.elderly80_column}


def _missing_column(spec: Areas, columns: list[str]) -> None:
    for setting, col in _wanted_columns(spec).items():
        if col and col not in columns:
            have = ", ".join(str(c) for c in columns if c != "geometry")
            raise InputDataError(f"{spec.path}: column '{col}' not found (set {setting}; "
                                 f"columns are: {have})")


def check_area_columns(spec: Areas) -> None:
    """Check the configured columns of the areas file from its header only (no features
    read), so that a wrong name is reported before any work.

    Files the header cannot be read from pass here; :func:`areas_from_file` reads them
    and reports what is wrong.

    Raises
    ------
    InputDataError
        A configured column the file does not have, naming file, setting and columns.
    """
    import pyogrio

    if spec.path is None or spec.path.suffix.lower() not in (".gpkg", ".geojson", ".json",
                                                               ".shp", ".fgb"):
        return  # tables and missing files: the full read says what is wrong
    try:
        fields = [str(f) for f in pyogrio.read_info(spec.path)["fields"]]
    except Exception:
        return
    _missing_column(spec, fields)


def areas_from_file(spec: Areas, crs: object) -> gpd.GeoDataFrame:
    """Read committee (or other) polygons with code, name, street and elderly counts.

    Raises
    ------
    InputDataError
        File without a CRS, missing columns, duplicate codes, non-polygon geometry.
    """
    assert spec.path is not None
    if spec.crs is not None:  # declared datum: convert every vertex (GCJ-02/BD-09 files)
        from geoplan.sources.boundary import read_polygons_wgs84

        gdf = read_polygons_wgs84(spec.path, spec.crs, "areas.path")
    else:
        gdf = read_table(spec.path)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputDataError(f"{spec.path}: areas.path must be a polygon file (GeoPackage, "
                             "GeoJSON or Shapefile), not a table")
    _missing_column(spec, [str(c) for c in gdf.columns])
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise InputDataError(f"{spec.path}: areas must be polygons "
                             f"(found {', '.join(sorted(set(gdf.geom_type)))})")
    codes = _text(gdf[spec.code_column])
    dup = codes[codes.duplicated(keep=False)]
    if len(dup):
        raise InputDataError(f"{spec.path}: duplicate area code '{dup.iloc[0]}' "
                             f"({dup.duplicated().sum() + 1} rows); area codes must be unique")
    names = street_names(spec.streets_file)
    street = (_text(gdf[spec.street_code_column])
              if spec.street_code_column else pd.Series("", index=gdf.index))
    if spec.street_name_column:
        sname = _text(gdf[spec.street_name_column])
    else:
        sname = street.map(lambda c: names.get(c, ""))
    rows, word = source_rows(gdf), row_word(gdf)  # GeoPackage fid / feature number
    e60 = (_numeric(gdf[spec.elderly60_column], spec.path, spec.elderly60_column, rows, word)
           if spec.elderly60_column else np.full(len(gdf), np.nan))
    e80 = (_numeric(gdf[spec.elderly80_column], spec.path, spec.elderly80_column, rows, word)
           if spec.elderly80_column else np.full(len(gdf), np.nan))
    _check_80_within_60(e60, e80, source_rows(gdf), codes.to_numpy(), spec)
    out = gpd.GeoDataFrame({
        "area_id": codes.to_numpy(), "area_kind": "committee", "code": codes.to_numpy(),
        "name": _text(gdf[spec.name_column]).to_numpy(),
        "street_code": street.to_numpy(), "street_name": sname.to_numpy(),
        "elderly_60": e60, "elderly_80": e80,
    }, geometry=gdf.geometry.to_numpy(), crs=gdf.crs).to_crs(crs)
    out["geometry"] = shapely.make_valid(out.geometry.to_numpy())
    return out.reset_index(drop=True)


def _check_80_within_60(e60: np.ndarray, e80: np.ndarray, index: np.ndarray,
                        codes: np.ndarray, spec: Areas) -> None:
    """Reject areas counting more residents aged 80+ than aged 60+ (80+ are among the 60+).

    Raises
    ------
    InputDataError
        Naming the file, the first offending feature (its number as GIS software shows it:
        ``index`` holds :func:`~geoplan.sources.tables.source_rows`) with its code and both
        columns, and how many features are affected.
    """
    bad = np.isfinite(e60) & np.isfinite(e80) & (e80 > e60)
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    raise InputDataError(
        f"{spec.path}: feature {int(index[i])} (code '{codes[i]}') has {e80[i]:g} residents "
        f"aged 80+ in column '{spec.elderly80_column}' but only {e60[i]:g} aged 60+ in column "
        f"'{spec.elderly60_column}' ({int(bad.sum())} feature(s) affected); the 80+ are part "
        "of the 60+: check whether the columns are swapped (areas.elderly60_column / "
        "areas.elderly80_column) or fix the counts")


def compound_areas(features: gpd.GeoDataFrame, boundary: shapely.Geometry,
                   min_area_m2: float) -> gpd.GeoDataFrame:
    """Residential compounds (``landuse=residential``) inside the study boundary.

    Parameters
    ----------
    features : GeoDataFrame
        OSM features in a metric CRS (see :func:`geoplan.sources.osm.features`).
    boundary : shapely geometry
        Study boundary in the same CRS.
    min_area_m2 : float
        Smaller landuse polygons are ignored (slivers, single courtyards).
    """
    lu = features[features["landuse"] == "residential"]
    geom = shapely.make_valid(lu.geometry.to_numpy())
    shapely.prepare(boundary)
    inside = shapely.intersects(geom, boundary) if len(lu) else np.zeros(0, dtype=bool)
    geom = geom[inside]
    # cut only the compounds that cross the boundary: the others are their own
    # intersection, and an overlay per compound is most of this function's time
    cross = ~shapely.contains(boundary, geom)
    geom[cross] = shapely.intersection(geom[cross], boundary)
    lu = lu[inside]
    big = shapely.area(geom) >= min_area_m2
    lu, geom = lu[big], geom[big]
    order = np.argsort(lu["osm_id"].to_numpy(), kind="stable")
    lu, geom = lu.iloc[order], geom[order]
    n = len(lu)
    out = gpd.GeoDataFrame({
        "area_id": [f"C{i + 1:04d}" for i in range(n)], "area_kind": "compound",
        "code": lu["osm_id"].to_numpy(), "name": lu["name"].to_numpy(),
        "street_code": "", "street_name": "",
        "elderly_60": np.nan, "elderly_80": np.nan,
    }, geometry=geom, crs=features.crs)
    return out.reset_index(drop=True)


def grid_cells(boundary: shapely.Geometry, size_m: float, crs: object) -> gpd.GeoDataFrame:
    """Square cells of ``size_m`` covering ``boundary`` (clipped to it), row-major ids."""
    x0, y0, x1, y1 = boundary.bounds
    nx_, ny_ = int(np.ceil((x1 - x0) / size_m)), int(np.ceil((y1 - y0) / size_m))
    cols, rows = np.meshgrid(np.arange(nx_), np.arange(ny_))
    cols, rows = cols.ravel(), rows.ravel()
    cells = shapely.box(x0 + cols * size_m, y0 + rows * size_m,
                        x0 + (cols + 1) * size_m, y0 + (rows + 1) * size_m)
    clipped = shapely.intersection(cells, boundary)
    keep = ~shapely.is_empty(clipped)
    ids = [f"G{r:03d}-{c:03d}" for r, c in zip(rows[keep], cols[keep], strict=True)]
    return gpd.GeoDataFrame({
        "area_id": ids, "area_kind": "grid", "code": ids, "name": ids,
        "street_code": "", "street_name": "", "elderly_60": np.nan, "elderly_80": np.nan,
    }, geometry=clipped[keep], crs=crs)


def assign_points(points: np.ndarray, areas: gpd.GeoDataFrame) -> np.ndarray:
    """Position in ``areas`` of the area containing each point (-1 when none).

    A point inside several overlapping areas goes to the first of them in frame order,
    so the result is deterministic.
    """
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(areas) == 0:
        return out
    tree = shapely.STRtree(areas.geometry.to_numpy())
    pi, ai = tree.query(points, predicate="within")
    order = np.lexsort((ai, pi))
    pi, ai = pi[order], ai[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    out[pi[first]] = ai[first]
    return out


def street_outlines(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Street (街道) polygons dissolved from the areas that carry a street code.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        Area frame (any CRS) with ``street_code`` and, optionally, ``street_name``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per street code (sorted): ``street_code``, ``street_name``, ``n_areas``
        and the union of its areas, in the areas' CRS; empty when no area has a code.
        Area polygons are made valid first (OSM-derived rings can self-cross).
    """
    cols = ["street_code", "street_name", "n_areas"]
    empty = gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=areas.crs)
    if "street_code" not in areas or not len(areas):
        return empty
    code = areas["street_code"].fillna("").astype(str).str.strip()
    keep = (code != "").to_numpy() & ~shapely.is_missing(areas.geometry.to_numpy())
    if not keep.any():
        return empty
    name = (areas["street_name"].fillna("").astype(str) if "street_name" in areas
            else pd.Series("", index=areas.index))
    frame = gpd.GeoDataFrame(
        {"street_code": code[keep].to_numpy(), "street_name": name[keep].to_numpy(),
         "n_areas": 1}, geometry=shapely.make_valid(areas.geometry.to_numpy()[keep]),
        crs=areas.crs)
    agg = {"street_name": "first", "n_areas": "sum"}
    try:
        out = frame.dissolve("street_code", aggfunc=agg, sort=True)
    except shapely.errors.GEOSException:  # robustness: snap to a fine grid and retry
        grid = 0.01 if areas.crs is not None and areas.crs.is_projected else 1e-7
        out = frame.dissolve("street_code", aggfunc=agg, sort=True, grid_size=grid)
    return out.reset_index()[[*cols, "geometry"]]
