"""Vectorised conversions between WGS84, GCJ-02 and BD-09 coordinates.

Chinese web maps (Amap/Gaode, Tencent, Google China) publish coordinates in GCJ-02, a
datum with a deliberate, non-linear offset of a few hundred metres from WGS84; Baidu
adds a further offset on top (BD-09). OpenStreetMap and GPS use WGS84. Everything in
geoplan is computed in WGS84, so facility coordinates copied from a Chinese map must be
converted first.

The formulas are the published ones (Krasovsky 1940 ellipsoid, ``a = 6378245``,
``ee = 0.00669342162296594323``; see e.g. the eviltransform / PRCoords write-ups).
They are implemented here, on numpy arrays, because no well-kept library offers them
vectorised: the maintained packages (``prcoords``, ``coord-convert``, ``eviltransform``)
work one point at a time in pure Python and their inverses are one-step approximations
(metre-level error) unless called in their slow "exact" modes. The inverse here is
exact: a fixed-point iteration on the forward formula down to < 1e-9 degrees.

As in the standard algorithm, points outside a rough bounding box of mainland China
(lon 72.004-137.8347, lat 0.8293-55.8271) are not shifted by the GCJ-02 step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geoplan.errors import InputDataError

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "is_geographic",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Krasovsky 1940 semi-major axis (metres) and squared eccentricity used by GCJ-02.
GCJ_A = 6378245.0
GCJ_EE = 0.00669342162296594323

#: Rough bounding box of mainland China used by the standard algorithm.
CHINA_LON = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)

#: Baidu's constant offsets (degrees) and the x_pi factor of the BD-09 formula.
BD_DLON = 0.0065
BD_DLAT = 0.0060
_X_PI = np.pi * 3000.0 / 180.0

#: Convergence tolerance (degrees) and iteration cap of the exact inverses.
_TOL = 1e-10
_MAX_ITER = 50

FloatArray = NDArray[np.float64]


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon and lat differ in shape: {lon_a.shape} vs {lat_a.shape}")
    return lon_a, lat_a


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether points fall in the rough mainland-China box where GCJ-02 applies.

    Parameters
    ----------
    lon, lat : array_like
        Coordinates in degrees.

    Returns
    -------
    numpy.ndarray of bool
        False for points outside the box and for NaN.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    return ((lon_a >= CHINA_LON[0]) & (lon_a <= CHINA_LON[1])
            & (lat_a >= CHINA_LAT[0]) & (lat_a <= CHINA_LAT[1]))


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 minus WGS84 in degrees, evaluated at WGS84 ``lon``, ``lat`` (no box test)."""
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    common = 20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
            + common * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y / 30.0 * np.pi)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
            + common * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    # dlat, dlon are arc lengths in metres; turn them into degrees on the Krasovsky ellipsoid.
    rad = np.radians(lat)
    magic = 1.0 - GCJ_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (GCJ_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 to GCJ-02 (the datum of Amap/Gaode and Tencent maps).

    Parameters
    ----------
    lon, lat : array_like
        WGS84 coordinates in degrees.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        GCJ-02 longitude and latitude. Points outside China and NaN are returned unchanged.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    dlon, dlat = _gcj_offset(lon_a, lat_a)
    return (np.where(inside, lon_a + dlon, lon_a), np.where(inside, lat_a + dlat, lat_a))


def _invert(forward: Any, lon: FloatArray, lat: FloatArray,
            todo: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(w) = (lon, lat)`` for ``w`` where ``todo`` by fixed-point iteration.

    ``w <- w - (forward(w) - target)`` converges because the offsets vary slowly (their
    Jacobian is ~1e-4), gaining about four digits per step.
    """
    out_lon, out_lat = lon.copy(), lat.copy()
    idx = np.flatnonzero(todo)
    tgt_lon, tgt_lat = lon.ravel()[idx], lat.ravel()[idx]
    w_lon, w_lat = tgt_lon.copy(), tgt_lat.copy()
    for _ in range(_MAX_ITER):
        f_lon, f_lat = forward(w_lon, w_lat)
        e_lon, e_lat = f_lon - tgt_lon, f_lat - tgt_lat
        w_lon = w_lon - e_lon
        w_lat = w_lat - e_lat
        if idx.size == 0 or max(np.max(np.abs(e_lon)), np.max(np.abs(e_lat))) < _TOL:
            break
    out_lon.ravel()[idx] = w_lon
    out_lat.ravel()[idx] = w_lat
    return out_lon, out_lat


def _gcj_forward_unchecked(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 to WGS84 exactly (iterated inverse, error < 1e-9 degrees).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 coordinates in degrees.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        WGS84 longitude and latitude. Points outside China and NaN are returned unchanged.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    return _invert(_gcj_forward_unchecked, lon_a, lat_a, in_china(lon_a, lat_a))


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 to BD-09 (the datum of Baidu maps).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 coordinates in degrees.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        BD-09 longitude and latitude.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    z = np.hypot(lon_a, lat_a) + 0.00002 * np.sin(lat_a * _X_PI)
    theta = np.arctan2(lat_a, lon_a) + 0.000003 * np.cos(lon_a * _X_PI)
    return z * np.cos(theta) + BD_DLON, z * np.sin(theta) + BD_DLAT


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 to GCJ-02 exactly (iterated inverse of :func:`gcj02_to_bd09`).

    Parameters
    ----------
    lon, lat : array_like
        BD-09 coordinates in degrees.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        GCJ-02 longitude and latitude; NaN stays NaN.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    return _invert(gcj02_to_bd09, lon_a, lat_a, np.isfinite(lon_a) & np.isfinite(lat_a))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 to WGS84 (BD-09 -> GCJ-02 -> WGS84, both steps exact).

    Parameters
    ----------
    lon, lat : array_like
        BD-09 coordinates in degrees.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        WGS84 longitude and latitude.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 to BD-09 (WGS84 -> GCJ-02 -> BD-09).

    Parameters
    ----------
    lon, lat : array_like
        WGS84 coordinates in degrees.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        BD-09 longitude and latitude.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def is_geographic(crs: str) -> bool:
    """Whether ``crs`` gives longitude/latitude in degrees (not projected metres).

    Parameters
    ----------
    crs : str
        "wgs84", "gcj02", "bd09" or an EPSG code such as "EPSG:32651".

    Returns
    -------
    bool
    """
    key = crs.strip().lower()
    if key in ("wgs84", "gcj02", "bd09"):
        return True
    return bool(_pyproj_crs(crs).is_geographic)


def _pyproj_crs(crs: str) -> Any:
    if not crs.strip().lower().startswith("epsg:"):
        raise InputDataError(f"coordinate system '{crs}' is not known; use wgs84, gcj02, bd09 "
                             "or an EPSG code such as 'EPSG:32651'")
    try:
        return CRS.from_user_input(crs.strip().upper())
    except CRSError:
        raise InputDataError(f"coordinate system '{crs}' is not a known EPSG code; check the "
                             "crs setting (e.g. 'EPSG:4326' or 'EPSG:32651')") from None


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates in ``crs`` to WGS84 longitude/latitude.

    Parameters
    ----------
    lon, lat : array_like
        Coordinates: degrees for "wgs84", "gcj02", "bd09"; for an EPSG code the x and y
        of that system (easting/northing for projected systems), in x/y order.
    crs : str
        "wgs84", "gcj02", "bd09" (case-insensitive) or "EPSG:nnnn".

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        WGS84 longitude and latitude in degrees.

    Raises
    ------
    InputDataError
        If ``crs`` is not one of the above or not a known EPSG code.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    key = crs.strip().lower()
    if key == "wgs84":
        return lon_a.copy(), lat_a.copy()
    if key == "gcj02":
        return gcj02_to_wgs84(lon_a, lat_a)
    if key == "bd09":
        return bd09_to_wgs84(lon_a, lat_a)
    src = _pyproj_crs(crs)
    transformer = Transformer.from_crs(src, "EPSG:4326", always_xy=True)
    x, y = transformer.transform(lon_a, lat_a)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
