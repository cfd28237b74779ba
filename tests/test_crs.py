"""Datum conversions checked against the independent ``prcoords`` implementation."""

from __future__ import annotations

import warnings

import numpy as np
import prcoords
import pytest

from geoplan.errors import InputDataError
from geoplan.sources import crs

N = 3000


def haversine_m(lon1, lat1, lon2, lat2):
    lo1, la1, lo2, la2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(h))


@pytest.fixture(scope="module")
def china_points():
    rng = np.random.default_rng(20240930)
    return rng.uniform(73.0, 135.0, N), rng.uniform(18.0, 53.0, N)


def _ref(func, lon, lat):
    """Apply a prcoords function (which takes and returns (lat, lon)) point by point."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = [func((la, lo)) for lo, la in zip(lon, lat, strict=True)]
    return np.array([c.lon for c in out]), np.array([c.lat for c in out])


def test_wgs_to_gcj_matches_prcoords(china_points):
    lon, lat = china_points
    got = crs.wgs84_to_gcj02(lon, lat)
    ref = _ref(prcoords.wgs_gcj, lon, lat)
    assert haversine_m(*got, *ref).max() < 0.001
    # the offset is real: typically hundreds of metres, never zero
    shift = haversine_m(lon, lat, *got)
    assert shift.min() > 1
    assert 200 < np.median(shift) < 1000


def test_gcj_inverse_is_exact_and_matches_prcoords_bored(china_points):
    lon, lat = china_points
    gcj = crs.wgs84_to_gcj02(lon, lat)
    back = crs.gcj02_to_wgs84(*gcj)
    assert haversine_m(lon, lat, *back).max() < 1.0
    # exact inverse: forward of the result reproduces the input to < 1e-9 degrees
    fwd = crs.wgs84_to_gcj02(*back)
    assert np.abs(fwd[0] - gcj[0]).max() < 1e-9
    assert np.abs(fwd[1] - gcj[1]).max() < 1e-9
    ref = _ref(prcoords.gcj_wgs_bored, *gcj)
    assert haversine_m(*back, *ref).max() < 1.0
    # and better than the one-step approximation, which is metre-level off
    rough = _ref(prcoords.gcj_wgs, *gcj)
    assert haversine_m(lon, lat, *rough).max() > haversine_m(lon, lat, *back).max()


def test_bd09_matches_prcoords(china_points):
    lon, lat = china_points
    gcj = crs.wgs84_to_gcj02(lon, lat)
    bd = crs.gcj02_to_bd09(*gcj)
    assert haversine_m(*bd, *_ref(prcoords.gcj_bd, *gcj)).max() < 0.001
    assert haversine_m(*crs.bd09_to_gcj02(*bd), *_ref(prcoords.bd_gcj_bored, *bd)).max() < 1.0
    assert haversine_m(*crs.bd09_to_gcj02(*bd), *gcj).max() < 1.0
    wgs = crs.bd09_to_wgs84(*bd)
    assert haversine_m(*wgs, *_ref(prcoords.bd_wgs_bored, *bd)).max() < 1.0
    assert haversine_m(*wgs, lon, lat).max() < 1.0
    assert haversine_m(*crs.wgs84_to_bd09(lon, lat), *bd).max() < 0.001


def test_shanghai_offset_is_a_few_hundred_metres():
    # People's Square, Shanghai (WGS84)
    lon, lat = 121.4737, 31.2304
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    d = float(haversine_m(lon, lat, glon, glat))
    assert 300 < d < 700
    assert glon > lon and glat < lat  # GCJ-02 in Shanghai is shifted east and south
    blon, blat = crs.wgs84_to_bd09(lon, lat)
    assert 800 < float(haversine_m(lon, lat, blon, blat)) < 1500


def test_outside_china_and_nan_unchanged():
    lon = np.array([-0.1276, 139.7671, 2.35, np.nan, 121.5])
    lat = np.array([51.5072, 35.6812, 48.85, 31.2, np.nan])
    for func in (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_shapes_preserved():
    lon = np.full((2, 3), 121.5)
    lat = np.full((2, 3), 31.3)
    out = crs.gcj02_to_wgs84(lon, lat)
    assert out[0].shape == (2, 3)
    assert np.all(out[0] < 121.5)
    with pytest.raises(ValueError):
        crs.wgs84_to_gcj02([1.0, 2.0], [1.0])


def test_to_wgs84_dispatch(china_points):
    lon, lat = china_points[0][:50], china_points[1][:50]
    np.testing.assert_array_equal(crs.to_wgs84(lon, lat, "WGS84")[0], lon)
    gcj = crs.wgs84_to_gcj02(lon, lat)
    assert haversine_m(*crs.to_wgs84(*gcj, " GCJ02 "), lon, lat).max() < 1e-3
    bd = crs.wgs84_to_bd09(lon, lat)
    assert haversine_m(*crs.to_wgs84(*bd, "bd09"), lon, lat).max() < 1e-3
    x, y = crs.to_wgs84(lon, lat, "epsg:4326")
    assert haversine_m(x, y, lon, lat).max() < 1e-6
    # UTM zone 51N: easting 500000 lies on the central meridian 123 E
    x, y = crs.to_wgs84([500000.0], [3460000.0], "EPSG:32651")
    assert x[0] == pytest.approx(123.0, abs=1e-9)
    assert 31.2 < y[0] < 31.3


def test_to_wgs84_unknown_crs():
    with pytest.raises(InputDataError, match="gcj02"):
        crs.to_wgs84([121.0], [31.0], "mars")
    with pytest.raises(InputDataError, match="EPSG"):
        crs.to_wgs84([121.0], [31.0], "EPSG:99999999")
    assert crs.is_geographic("GCJ02")
    assert crs.is_geographic("EPSG:4490")
    assert not crs.is_geographic("EPSG:32651")
