"""OpenStreetMap input: local XML exports (one or several, merged) or an osmnx download.

Everything OSM-specific that the rest of geoplan needs comes from here: the raw street
graph, building and residential-landuse features, and the study-area boundary.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import re
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.config import NetworkSource
from geoplan.errors import InputDataError, NetworkError

if TYPE_CHECKING:
    import networkx as nx

log = logging.getLogger(__name__)

#: Way tags kept on graph edges (osmnx keeps a short default list).
WAY_TAGS = ("highway", "foot", "access", "area", "name", "service", "footway", "sidewalk",
            "sidewalk:both", "sidewalk:left", "sidewalk:right", "motorroad", "bridge", "tunnel",
            "layer", "indoor", "level")

_BOUNDS = re.compile(rb"<bounds\s+([^>]*)/?>")
_ATTR = re.compile(rb'(minlat|minlon|maxlat|maxlon)\s*=\s*"([-0-9.]+)"')
_NODE = re.compile(rb"<node\b[^>]*>")
_LAT = re.compile(rb'\blat\s*=\s*"([-0-9.eE+]+)"')
_LON = re.compile(rb'\blon\s*=\s*"([-0-9.eE+]+)"')
#: A file's <bounds> header is trusted when at least this share of its nodes lie inside.
BOUNDS_MIN_SHARE = 0.5


def _configure_osmnx(cache_dir: Path | None = None) -> ModuleType:
    """Import and configure osmnx (imported here, not at module level: it costs about a
    second and a warm run, whose network comes from the cache, does not need it)."""
    import osmnx as ox

    ox.settings.useful_tags_way = list(dict.fromkeys([*ox.settings.useful_tags_way, *WAY_TAGS]))
    ox.settings.log_console = False
    if cache_dir is not None:
        ox.settings.use_cache = True
        ox.settings.cache_folder = str(cache_dir / "osmnx-http")
    return ox


def check_osm_file(path: Path) -> shapely.Polygon | None:
    """Check that ``path`` is an OSM XML file and return its header bounds, if any.

    Raises
    ------
    InputDataError
        If the file is missing, unreadable or not OSM XML.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read OSM file ({exc.strerror})") from None
    if b"<osm" not in head:
        raise InputDataError(f"{path}: not an OpenStreetMap XML file (no <osm> element); export "
                             "it from openstreetmap.org or use network.place/bbox to download")
    m = _BOUNDS.search(head)
    if not m:
        return None
    attrs = {k.decode(): float(v) for k, v in _ATTR.findall(m.group(1))}
    if len(attrs) != 4:
        return None
    return shapely.box(attrs["minlon"], attrs["minlat"], attrs["maxlon"], attrs["maxlat"])


def graph_from_osm_files(paths: tuple[Path, ...]) -> nx.MultiDiGraph:
    """Read and merge the street graphs of several OSM XML files (unsimplified, WGS84).

    Nodes shared between files (same OSM id) are merged, so adjoining exports join up.
    """
    ox = _configure_osmnx()
    graphs = []
    for p in paths:
        check_osm_file(p)
        try:
            g = ox.graph_from_xml(p, bidirectional=True, simplify=False, retain_all=True)
        except Exception as exc:  # osmnx/xml errors on malformed files
            raise InputDataError(f"{p}: cannot parse OSM XML ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        graphs.append(g)
    import networkx as nx  # with osmnx: not needed when the network comes from the cache

    g = nx.compose_all(graphs) if len(graphs) > 1 else graphs[0]
    g.graph["crs"] = "epsg:4326"
    return g


def _download_polygon(source: NetworkSource, buffer_m: float = 0.0) -> shapely.Geometry:
    if source.place:
        import osmnx as ox

        try:
            gdf = ox.geocode_to_gdf(source.place)
        except Exception as exc:
            raise NetworkError(f"network.place = '{source.place}': geocoding failed "
                               f"({type(exc).__name__}); check the name or use bbox") from None
        poly = gdf.geometry.union_all()
    elif source.polygon is not None:
        gdf = gpd.read_file(source.polygon)
        if gdf.crs is None:
            raise InputDataError(f"{source.polygon}: polygon file has no CRS; save it with one")
        poly = gdf.to_crs(4326).geometry.union_all()
    else:
        assert source.bbox is not None
        poly = shapely.box(*source.bbox)
    return poly


def graph_from_download(source: NetworkSource, walkable: tuple[str, ...],
                        cache_dir: Path) -> nx.MultiDiGraph:
    """Download the walkable street graph of a place, polygon or bbox with osmnx.

    osmnx caches the HTTP responses under ``cache_dir``, so a second run is offline.
    """
    ox = _configure_osmnx(cache_dir)
    poly = _download_polygon(source)
    flt = f'["highway"~"^({"|".join(sorted(walkable))})$"]'
    try:
        g = ox.graph_from_polygon(poly, custom_filter=flt, simplify=False, retain_all=True,
                                  truncate_by_edge=True)
    except Exception as exc:
        raise NetworkError(f"network download failed ({type(exc).__name__}: {exc}); check the "
                           "internet connection or use local osm_files") from None
    return g


#: Bytes of an OSM file sampled to test its <bounds> header against its nodes.
BOUNDS_SAMPLE_BYTES = 4 << 20


def _node_coords(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of the ``<node>`` elements in ``data``."""
    tags = _NODE.findall(data)
    lat = [m.group(1) for m in map(_LAT.search, tags) if m]
    lon = [m.group(1) for m in map(_LON.search, tags) if m]
    if len(lat) != len(tags) or len(lon) != len(tags):
        return np.zeros(0), np.zeros(0)
    return np.array(lon, dtype=np.float64), np.array(lat, dtype=np.float64)


def node_extent(path: Path, *, sample_bytes: int | None = None
                ) -> tuple[shapely.Polygon | None, float]:
    """The bounding box of an OSM file's nodes and the share of them inside its header.

    Parameters
    ----------
    path : Path
        OSM XML file.
    sample_bytes : int, optional
        Read only this many bytes from the start (nodes come first in OSM files); the
        box and share are then those of the sampled nodes.

    Returns
    -------
    (shapely.Polygon or None, float)
        The box of the node coordinates (None without nodes) and the share of nodes
        inside the file's ``<bounds>`` header (1.0 without a header).
    """
    with open(path, "rb") as fh:
        data = fh.read(-1 if sample_bytes is None else sample_bytes)
    x, y = _node_coords(data)
    if not len(x):
        return None, 1.0
    box = shapely.box(x.min(), y.min(), x.max(), y.max())
    header = check_osm_file(path)
    if header is None:
        return box, 1.0
    x0, y0, x1, y1 = header.bounds
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    return box, float(inside.mean())


def _file_boundary(path: Path) -> shapely.Geometry | None:
    """A file's header bounds, or the extent of its nodes when the header does not match
    them (an edited or shifted file): the study area must hold the file's data.

    Only the first :data:`BOUNDS_SAMPLE_BYTES` are read to test the header; the whole
    file only when it does not match.
    """
    header = check_osm_file(path)
    if header is None:
        return None
    _, share = node_extent(path, sample_bytes=BOUNDS_SAMPLE_BYTES)
    if share >= BOUNDS_MIN_SHARE:
        return header
    box, share = node_extent(path)
    if box is None or share >= BOUNDS_MIN_SHARE:
        return header
    log.warning("%s: only %.0f%% of its nodes lie inside its <bounds> header; the study "
                "area uses the extent of its data instead", path, 100 * share)
    return box


def study_boundary(source: NetworkSource) -> shapely.Geometry:
    """The study area (WGS84): union of the OSM files' header bounds or the download area.

    A file whose nodes mostly lie outside its own ``<bounds>`` header contributes the
    extent of its nodes instead (otherwise its homes would silently fall outside).
    """
    if source.osm_files:
        boxes = [b for b in (_file_boundary(p) for p in source.osm_files) if b is not None]
        if boxes:
            return shapely.union_all(boxes)
        return shapely.Polygon()  # no header: the caller falls back to the network extent
    return _download_polygon(source)


#: Version of the cached features' layout; bump it when :func:`_read_features` changes.
FEATURES_CACHE_FORMAT = 1
_FEATURE_TAGS: dict[str, bool | str | list[str]] = {"building": True, "landuse": ["residential"]}


def _features_cache_path(source: NetworkSource, cache_dir: Path) -> Path:
    """Cache file of the features of local OSM files, keyed by the files' contents."""
    from geoplan import __version__
    from geoplan.hashing import sha256_file

    payload = {"format": FEATURES_CACHE_FORMAT, "geoplan": __version__,
               "files": [sha256_file(p) for p in source.osm_files], "tags": _FEATURE_TAGS}
    key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir / f"osm-features-{key}.pkl"


def features(source: NetworkSource, cache_dir: Path, *,
             use_cache: bool = True) -> gpd.GeoDataFrame:
    """Buildings and residential landuse polygons (WGS84) from the OSM source.

    Features read from local OSM files are cached in ``cache_dir`` (keyed by the files'
    contents), so that a warm run neither parses the XML again nor imports osmnx; the
    warnings of the first reading are repeated on every run.

    Parameters
    ----------
    source : NetworkSource
        The ``[network]`` settings (local ``osm_files`` or an area to download).
    cache_dir : Path
        ``output.cache_dir``: the features cache and osmnx's HTTP cache.
    use_cache : bool, default True
        Read and write the features cache (``--no-cache`` turns it off).

    Returns
    -------
    GeoDataFrame
        Columns ``osm_id``, ``building``, ``building_levels`` (text, may be empty),
        ``landuse``, ``name`` and polygon ``geometry``.
    """
    path = None
    if use_cache and source.osm_files:
        try:
            path = _features_cache_path(source, cache_dir)
        except OSError:  # an unreadable file is reported by the reading below
            path = None
    if path is not None and path.is_file():
        try:
            with open(path, "rb") as fh:
                cached = pickle.load(fh)
            if (isinstance(cached, tuple) and len(cached) == 2
                    and isinstance(cached[0], gpd.GeoDataFrame)):
                for note in cached[1]:
                    log.warning("%s", note)
                return cached[0]
        except Exception as exc:  # a corrupt cache is re-read, never fatal
            log.warning("ignoring unreadable features cache %s (%s)", path, exc)
    out, notes = _read_features(source, cache_dir)
    for note in notes:
        log.warning("%s", note)
    if path is not None:
        from geoplan.outputs.atomic import atomic_write

        try:
            with atomic_write(path, "wb") as fh:
                pickle.dump((out, notes), fh, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as exc:  # a cache that cannot be written only costs time
            log.debug("features cache %s not written (%s)", path, exc)
    return out


def _read_features(source: NetworkSource, cache_dir: Path
                   ) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read the features with osmnx; also return the warnings about them."""
    tags = _FEATURE_TAGS
    frames = []
    notes: list[str] = []
    if source.osm_files:
        ox = _configure_osmnx()
        from osmnx._errors import InsufficientResponseError

        for p in source.osm_files:
            try:
                frames.append(ox.features_from_xml(p, tags=tags))
            except InsufficientResponseError:
                # osmnx raises when no feature matches: a streets-only extract. Demand
                # then falls back to the area counts spread evenly (see population.py).
                notes.append(f"{p}: no buildings or residential landuse mapped (streets "
                             "only); elderly counts given per area are spread evenly over the "
                             "area")
            except Exception as exc:
                raise InputDataError(f"{p}: cannot read buildings/landuse "
                                     f"({type(exc).__name__})") from None
    else:
        ox = _configure_osmnx(cache_dir)
        try:
            frames.append(ox.features_from_polygon(_download_polygon(source), tags=tags))
        except Exception as exc:  # osmnx raises when nothing matches
            log.warning("no buildings or residential areas downloaded (%s)", exc)
    frames = [f for f in frames if len(f)]
    if not frames:
        cols = ("osm_id", "building", "building_levels", "landuse", "name")
        return gpd.GeoDataFrame({c: pd.Series([], dtype=object) for c in cols},
                                geometry=gpd.GeoSeries([], crs=4326), crs=4326), notes
    f = pd.concat(frames)
    f = f[~f.index.duplicated(keep="first")]
    f = f[f.geom_type.isin(["Polygon", "MultiPolygon"])]
    out = gpd.GeoDataFrame({
        "osm_id": [f"{e}/{i}" for e, i in f.index],
        "building": _col(f, "building"),
        "building_levels": _col(f, "building:levels"),
        "landuse": _col(f, "landuse"),
        "name": _col(f, "name"),
    }, geometry=f.geometry.to_numpy(), crs=4326)
    return out.reset_index(drop=True), notes


def _col(df: pd.DataFrame, name: str) -> list[str]:
    if name not in df.columns:
        return [""] * len(df)
    return df[name].astype("object").where(df[name].notna(), "").astype(str).tolist()
