"""Polygons in any datum: the study boundary (one polygon chosen from a file of many) and
area polygons given in GCJ-02 or BD-09.

Chinese boundary files (from Amap-derived packages such as ``cnmaps``, or drawn on an Amap
or Baidu base map) hold GCJ-02 or BD-09 coordinates although the file says nothing, so every
GIS reads them as WGS84 and places them a few hundred metres off OpenStreetMap. A declared
datum converts the polygons vertex by vertex (``shapely.transform`` with the same
conversion as facility points), before any area, clip or buffer is computed.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.errors import InputDataError
from geoplan.sources.crs import to_wgs84

#: Datums given as longitude/latitude degrees and converted here (others go to pyproj).
DEGREE_DATUMS = ("wgs84", "gcj02", "bd09")


def polygons_to_wgs84(geoms: np.ndarray, crs: str) -> np.ndarray:
    """Convert polygon coordinates vertex by vertex from ``crs`` to WGS84 degrees.

    Parameters
    ----------
    geoms : ndarray of shapely geometries (n,)
        Longitude/latitude degrees in ``crs`` ("gcj02", "bd09" or "wgs84"), or x/y of an
        ``"EPSG:nnnn"`` system.
    crs : str
        The datum of the coordinates.

    Returns
    -------
    ndarray of shapely geometries (n,)
        The same shapes in WGS84 degrees (every vertex converted, topology kept).

    Raises
    ------
    InputDataError
        For an unknown datum or EPSG code.
    """
    def convert(xy: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(xy[:, 0], xy[:, 1], crs)
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms, dtype=object), convert)


def read_polygons_wgs84(path: Path, crs: str | None, setting: str) -> gpd.GeoDataFrame:
    """Read a polygon file and return it in WGS84 degrees, honouring a declared datum.

    Parameters
    ----------
    path : Path
        GeoJSON, GeoPackage or Shapefile.
    crs : str or None
        ``None``: the file's own CRS. ``"gcj02"``/``"bd09"``/``"wgs84"``: the file's
        coordinates are longitude/latitude in that datum (whatever the file says).
        ``"EPSG:nnnn"``: the coordinates are in that system.
    setting : str
        The config setting that names the file, for messages.

    Raises
    ------
    InputDataError
        Unreadable file, no polygons, no CRS and none declared, or a declared degree datum
        on a file in a projected CRS.
    """
    from geoplan.sources.tables import read_table

    gdf = read_table(path)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputDataError(f"{path}: {setting} must be a polygon file (GeoJSON, GeoPackage "
                             "or Shapefile), not a table")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if len(gdf) == 0 or not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        kinds = ", ".join(sorted(set(gdf.geom_type))) or "nothing"
        raise InputDataError(f"{path}: {setting} must hold polygons (found {kinds})")
    geoms = shapely.make_valid(gdf.geometry.to_numpy())
    key = (crs or "").strip().lower()
    if key in DEGREE_DATUMS:
        if gdf.crs is not None and not gdf.crs.is_geographic:
            raise InputDataError(f"{path}: declared crs '{crs}' (longitude/latitude) but the "
                                 f"file is in a projected CRS ({gdf.crs.to_string()}); give its "
                                 "EPSG code instead")
        wgs = polygons_to_wgs84(geoms, key)
    elif key:
        wgs = polygons_to_wgs84(geoms, crs)
    else:
        if gdf.crs is None:
            raise InputDataError(f"{path}: the file has no CRS; declare it for {setting} "
                                 "(crs = \"wgs84\", \"gcj02\", \"bd09\" or \"EPSG:nnnn\")")
        wgs = gpd.GeoSeries(geoms, crs=gdf.crs).to_crs(4326).to_numpy()
    out = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=wgs, crs=4326)
    out["geometry"] = shapely.make_valid(out.geometry.to_numpy())
    return out.reset_index(drop=True)


def polygon_keys(column: pd.Series) -> pd.Series:
    """The text a boundary code or name is matched against, one per polygon.

    Values are stripped; whole numbers read as floats lose their ``.0`` (310110.0 ->
    "310110"); a blank cell is "" (not NaN: with pandas' string dtype NaN stays NaN under
    ``astype(str)`` and would break comparisons and messages). Used by the run and by
    ``geoplan init``, so init finds a column only where the run will match too.
    """
    keys = column.astype(object).where(column.notna(), "").astype(str).str.strip()
    return keys.where(~keys.str.fullmatch(r"\d+\.0"), keys.str[:-2])


def study_boundary_from_file(path: Path, crs: str | None, *, code: str | None = None,
                             name: str | None = None, code_column: str = "adcode",
                             name_column: str = "name") -> shapely.Geometry:
    """The study-area polygon (WGS84) from a boundary file, picked by code or name.

    Parameters
    ----------
    path : Path
        Polygon file with one or many polygons (e.g. all districts of a city).
    crs : str or None
        Datum of the file's coordinates (see :func:`read_polygons_wgs84`).
    code, name : str, optional
        Which polygon: the row whose ``code_column`` equals ``code`` or whose
        ``name_column`` equals ``name``. Without either the file must hold exactly one
        polygon (or all of them are the study area, as a union).
    code_column, name_column : str
        Columns holding the code (e.g. the 6-digit ``adcode``) and the name.

    Returns
    -------
    shapely.Geometry
        The (multi)polygon in WGS84 degrees.

    Raises
    ------
    InputDataError
        Missing column, or no polygon with that code or name (the message lists what the
        file holds).
    """
    gdf = read_polygons_wgs84(path, crs, "study_area.boundary")
    for value, col, setting in ((code, code_column, "boundary_code_column"),
                                (name, name_column, "boundary_name_column")):
        if value is None:
            continue
        if col not in gdf.columns:
            have = ", ".join(map(str, gdf.columns.drop("geometry")))
            raise InputDataError(f"{path}: column '{col}' not found (set study_area.{setting}; "
                                 f"columns are: {have})")
        keys = polygon_keys(gdf[col])
        sel = (keys == str(value).strip()).to_numpy(dtype=bool)
        if not sel.any():
            shown = [k if k else "(blank)" for k in pd.unique(keys)[:8]]
            sample = ", ".join(shown)
            raise InputDataError(f"{path}: no polygon with {col} = '{value}' (the file holds "
                                 f"{len(gdf)}: {sample}{' …' if len(gdf) > 8 else ''})")
        gdf = gdf[sel]
    return shapely.union_all(gdf.geometry.to_numpy())
