"""Which datum do coordinates really use? Compare how each reading fits the streets.

Chinese web maps use GCJ-02 (Amap, Tencent) or BD-09 (Baidu), shifted by a few hundred
metres from WGS84. Data copied from them is often labelled WGS84. An absolute test ("the
points lie more than 15 m from the nearest way") fails in dense districts, where any
point lies within 15 m of some way. Instead each layer is read three ways (as declared,
as if GCJ-02, as if BD-09), and the fits are compared: the mean distance from the points
(or polygon vertices) to the nearest walkable way, each distance capped (so a few points
genuinely far from any way, or shifted off the network's extent, do not dominate: a
winsorised mean). Facilities have street access and committee boundaries follow streets,
so the right reading fits clearly better: points placed with the wrong datum land
anywhere in a block, and a few of them deep inside one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geoplan.network.walkgraph import WalkNetwork
from geoplan.sources.crs import (
    bd09_to_wgs84,
    gcj02_to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

log = logging.getLogger(__name__)

__all__ = ["DatumFit", "compare_readings", "declared_datum", "polygon_vertices", "way_distance"]

#: Distances above this (metres) count as this much in the fit score.
CAP_M = 300.0
#: Another reading "fits clearly better" when its score is below this share of the
#: declared reading's score ...
RATIO = 0.6
#: ... and better by at least this many metres.
MIN_GAIN_M = 5.0
#: Fewer points than this are not judged.
MIN_POINTS = 4
#: At most this many polygon vertices are used (evenly subsampled).
MAX_VERTICES = 5000
_NAMES = {"wgs84": "WGS84", "gcj02": "GCJ-02 (Amap/Tencent)", "bd09": "BD-09 (Baidu)"}
_NAMES_ZH = {"wgs84": "WGS84", "gcj02": "GCJ-02（高德/腾讯）", "bd09": "BD-09（百度）"}


@dataclass(frozen=True)
class DatumFit:
    """The fit of one layer under each reading.

    Attributes
    ----------
    declared : str
        The declared datum key (``wgs84``, ``gcj02``, ``bd09``).
    scores : dict of str to float
        Mean capped distance to the nearest way, metres, per reading.
    far_share : dict of str to float
        Share of points farther than 50 m from any way, per reading.
    n : int
        Points compared.
    """

    declared: str
    scores: dict[str, float]
    far_share: dict[str, float]
    n: int

    @property
    def better(self) -> str | None:
        """The reading that fits clearly better than the declared one, if any."""
        if self.n < MIN_POINTS:
            return None
        base = self.scores[self.declared]
        best = min(self.scores, key=lambda k: self.scores[k])
        if best == self.declared:
            return None
        s = self.scores[best]
        return best if s < RATIO * base and base - s >= MIN_GAIN_M else None

    def message(self, what: str) -> str | None:
        """A warning naming ``what`` when another reading fits clearly better."""
        alt = self.better
        if alt is None:
            return None
        d = self.declared
        return (f"{what} is declared {_NAMES[d]}, but read as {_NAMES[alt]} it fits the "
                f"walkable ways clearly better: mean distance to the nearest way "
                f"{self.scores[d]:.0f} m as declared vs {self.scores[alt]:.0f} m as {alt} "
                f"(capped at {CAP_M:.0f} m; {self.far_share[d]:.0%} vs "
                f"{self.far_share[alt]:.0%} of {self.n} points farther than 50 m). The "
                f"coordinates are probably {_NAMES[alt]}: set crs = \"{alt}\"")

    def message_zh(self, what: str) -> str | None:
        """:meth:`message` in Chinese (reports in ``lang = "zh"``); ``what`` in Chinese."""
        alt = self.better
        if alt is None:
            return None
        d = self.declared
        return (f"{what}声明为{_NAMES_ZH[d]}，但按{_NAMES_ZH[alt]}读取与步行道路明显更吻合："
                f"到最近道路的平均距离按声明为{self.scores[d]:.0f}米，按{alt}为"
                f"{self.scores[alt]:.0f}米（上限{CAP_M:.0f}米；{self.n}个点中距离超过50米的"
                f"分别占{self.far_share[d]:.0%}和{self.far_share[alt]:.0%}）。坐标很可能是"
                f"{_NAMES_ZH[alt]}：请设置 crs = \"{alt}\"")


def declared_datum(crs: str) -> str | None:
    """The datum key of a layer's ``crs`` setting, or None for a projected or other CRS."""
    key = crs.strip().lower().replace("epsg:", "")
    if key in ("wgs84", "4326"):
        return "wgs84"
    if key in ("gcj02", "bd09"):
        return key
    return None


def way_distance(lon: np.ndarray, lat: np.ndarray, net: WalkNetwork) -> np.ndarray:
    """Distance (m) of WGS84 points to the nearest way of ``net``.

    Parameters
    ----------
    lon, lat : ndarray of float
        WGS84 degrees.
    net : WalkNetwork
        The walking network (metric CRS).
    """
    pts = gpd.GeoSeries(shapely.points(lon, lat), crs=4326).to_crs(net.crs).to_numpy()
    _, dist = net.edge_tree.query_nearest(pts, all_matches=False, return_distance=True)
    return np.asarray(dist, dtype=np.float64)


def compare_readings(lon_wgs: np.ndarray, lat_wgs: np.ndarray, declared: str,
                     net: WalkNetwork) -> DatumFit:
    """Fit of the same coordinates read as WGS84, GCJ-02 and BD-09.

    Only points within :data:`CAP_M` of a way under at least one reading are compared
    (points far beyond the network under every reading say nothing about the datum).

    Parameters
    ----------
    lon_wgs, lat_wgs : ndarray of float
        The points as converted to WGS84 under the declared reading.
    declared : {"wgs84", "gcj02", "bd09"}
        The declared datum.
    net : WalkNetwork
        The walking network.

    Returns
    -------
    DatumFit
    """
    lon_wgs = np.asarray(lon_wgs, dtype=np.float64)
    lat_wgs = np.asarray(lat_wgs, dtype=np.float64)
    # back to the coordinates as written in the file ...
    if declared == "gcj02":
        raw = wgs84_to_gcj02(lon_wgs, lat_wgs)
    elif declared == "bd09":
        raw = wgs84_to_bd09(lon_wgs, lat_wgs)
    else:
        raw = (lon_wgs, lat_wgs)
    # ... and read each way
    readings = {"wgs84": raw, "gcj02": gcj02_to_wgs84(*raw), "bd09": bd09_to_wgs84(*raw)}
    dist = {key: way_distance(lo, la, net) for key, (lo, la) in readings.items()}
    near = np.min(np.vstack(list(dist.values())), axis=0) <= CAP_M if len(lon_wgs) else \
        np.zeros(0, dtype=bool)
    n = int(near.sum())
    scores = {k: float(np.minimum(d[near], CAP_M).mean()) if n else np.nan
              for k, d in dist.items()}
    far = {k: float((d[near] > 50.0).mean()) if n else np.nan for k, d in dist.items()}
    return DatumFit(declared, scores, far, n)


def polygon_vertices(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boundary vertices of WGS84 polygons (evenly subsampled to :data:`MAX_VERTICES`)."""
    xy = shapely.get_coordinates(shapely.boundary(np.asarray(geoms, dtype=object)))
    if len(xy) > MAX_VERTICES:
        xy = xy[np.linspace(0, len(xy) - 1, MAX_VERTICES).astype(np.int64)]
    return xy[:, 0], xy[:, 1]
