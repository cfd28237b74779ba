"""OpenStreetMap input: local OSM files (one or several, merged) or an osmnx download.

Everything OSM-specific that the rest of geoplan needs comes from here: the street
network source, building and residential-landuse features, and the study-area boundary.
Local files (.osm.pbf, .osm, .osm.gz, .osm.bz2) are streamed once with pyosmium by
:mod:`geoplan.sources.osm_read`, cut to the study area (``[study_area] boundary`` or
``osm_relation``) plus the walking buffer; the
network and the features come from that same pass. :func:`graph_from_osm_files` (osmnx's
XML reader) is kept as the reference the array path is tested against.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.config import Config, NetworkSource
from geoplan.errors import InputDataError, NetworkError
from geoplan.hashing import file_digest
from geoplan.sources.osm_read import (
    NETWORK_WAY_TAGS,
    OsmTables,
    _data_extent,
    detect_format,
    header_bounds,
    read_osm,
    relation_by_name,
    relation_polygon,
)

if TYPE_CHECKING:
    import networkx as nx

log = logging.getLogger(__name__)

#: Way tags kept on graph edges (osmnx keeps a short default list).
WAY_TAGS = ("highway", "foot", "access", "area", "name", "service", "footway", "sidewalk",
            "sidewalk:both", "sidewalk:left", "sidewalk:right", "motorroad", "bridge", "tunnel",
            "layer", "indoor", "level")

#: Node tags kept on graph nodes: mapped crossings and signals for the crossing delay
#: (osmnx keeps ``highway`` by default; ``crossing=traffic_signals`` needs ``crossing``).
NODE_TAGS = ("highway", "crossing")

_BOUNDS = re.compile(rb"<bounds\s+([^>]*)/?>")
_ATTR = re.compile(rb'(minlat|minlon|maxlat|maxlon)\s*=\s*"([-0-9.]+)"')
_NODE = re.compile(rb"<node\b[^>]*>")
_LAT = re.compile(rb'\blat\s*=\s*"([-0-9.eE+]+)"')
_LON = re.compile(rb'\blon\s*=\s*"([-0-9.eE+]+)"')
#: A file's <bounds> header is trusted when at least this share of its nodes lie inside.
BOUNDS_MIN_SHARE = 0.5

_FEATURE_TAGS: dict[str, bool | str | list[str]] = {"building": True,
                                                    "landuse": ["residential"]}

#: Bump when the cached features' format or preparation changes.
FEATURES_CACHE_FORMAT = 2  # 2: complete ways and relations (not cut)


def _configure_osmnx(cache_dir: Path | None = None) -> ModuleType:
    """Import and configure osmnx (imported here, not at module level: it costs about a
    second, with scikit-learn, and a warm run, whose network and features come from the
    cache, does not need it)."""
    import osmnx as ox

    ox.settings.useful_tags_way = list(dict.fromkeys([*ox.settings.useful_tags_way, *WAY_TAGS]))
    ox.settings.useful_tags_node = list(dict.fromkeys([*ox.settings.useful_tags_node,
                                                       *NODE_TAGS]))
    ox.settings.log_console = False
    if cache_dir is not None:
        ox.settings.use_cache = True
        ox.settings.cache_folder = str(cache_dir / "osmnx-http")
    return ox


def check_osm_file(path: Path) -> shapely.Polygon | None:
    """Check that ``path`` is an OSM file (PBF or XML, plain, gzip or bzip2) and return
    the bounds its header declares, if any.

    Raises
    ------
    InputDataError
        If the file is missing, unreadable, not OSM, or its header is corrupt.
    """
    fmt = detect_format(path)
    if fmt != "osm":
        return header_bounds(path, fmt)
    with open(path, "rb") as fh:
        head = fh.read(8192)
    m = _BOUNDS.search(head)
    if not m:
        return None
    attrs = {k.decode(): float(v) for k, v in _ATTR.findall(m.group(1))}
    if len(attrs) != 4:
        return None
    return shapely.box(attrs["minlon"], attrs["minlat"], attrs["maxlon"], attrs["maxlat"])


@dataclass(frozen=True)
class StudyCut:
    """Where local OSM files are cut while read: the study area plus the walking buffer.

    Built from ``[study_area]`` (``boundary`` with its datum and code/name pick, or
    ``osm_relation``) and :func:`geoplan.workflows.coverage.walking_buffer_m` by :meth:`of`; the
    default (no boundary) keeps the whole files.
    """

    boundary: Path | None = None
    crs: str | None = None
    code: str | None = None
    name: str | None = None
    code_column: str = "adcode"
    name_column: str = "name"
    osm_relation: int | None = None
    buffer_m: float = 0.0
    osm_name: str | None = None
    osm_admin_level: int | None = None

    @classmethod
    def of(cls, cfg: Config) -> StudyCut:
        """The cut of a run: its study area and walking buffer."""
        from geoplan.workflows.coverage import walking_buffer_m  # pipeline imports this module

        sa = cfg.study_area
        return cls(boundary=sa.boundary, crs=sa.boundary_crs, code=sa.boundary_code,
                   name=sa.boundary_name, code_column=sa.boundary_code_column,
                   name_column=sa.boundary_name_column, osm_relation=sa.osm_relation,
                   buffer_m=round(float(walking_buffer_m(cfg)), 1),
                   osm_name=sa.osm_name,
                   osm_admin_level=sa.osm_admin_level)

    @property
    def is_set(self) -> bool:
        """True when a boundary (file or relation) cuts the files."""
        return (self.boundary is not None or self.osm_relation is not None
                or self.osm_name is not None)

    @property
    def setting(self) -> str:
        """The setting that gives the boundary, for messages (e.g. ``study_area.osm_name =
        "杨浦区"``); '' when none is set."""
        if self.boundary is not None:
            return str(self.boundary)
        if self.osm_relation is not None:
            return f"study_area.osm_relation = {self.osm_relation}"
        if self.osm_name is not None:
            return f'study_area.osm_name = "{self.osm_name}"'
        return ""

    def cache_key(self) -> dict[str, Any]:
        """What a cached network or feature set read through this cut depends on."""
        if not self.is_set:
            return {}
        d = dataclasses.asdict(self)
        d["boundary"] = file_digest(self.boundary)[0] if self.boundary is not None else None
        return d


_RELATION_MEMO: dict[tuple[Any, ...], shapely.Geometry] = {}


def configured_boundary(source: NetworkSource, cut: StudyCut) -> shapely.Geometry | None:
    """The study boundary set in the config (WGS84): ``study_area.boundary`` (converted
    from its datum) or the boundary relation ``study_area.osm_relation`` of the files;
    ``None`` when neither is set."""
    if cut.boundary is not None:
        from geoplan.sources.boundary import study_boundary_from_file

        return study_boundary_from_file(cut.boundary, cut.crs, code=cut.code, name=cut.name,
                                        code_column=cut.code_column,
                                        name_column=cut.name_column)
    if cut.osm_relation is not None:
        key = (tuple((str(p), p.stat().st_mtime_ns) for p in source.osm_files),
               cut.osm_relation)
        if key not in _RELATION_MEMO:
            _RELATION_MEMO[key] = relation_polygon(source.osm_files, cut.osm_relation)
        return _RELATION_MEMO[key]
    if cut.osm_name is not None and cut.osm_admin_level is not None:
        key = (tuple((str(p), p.stat().st_mtime_ns) for p in source.osm_files),
               cut.osm_name, cut.osm_admin_level)
        if key not in _RELATION_MEMO:
            rid = relation_by_name(source.osm_files, cut.osm_name, cut.osm_admin_level)
            _RELATION_MEMO[key] = relation_polygon(source.osm_files, rid)
            log.info("study area: relation %d %s (admin_level %d)", rid, cut.osm_name,
                     cut.osm_admin_level)
        return _RELATION_MEMO[key]
    return None


def clip_area(source: NetworkSource, cut: StudyCut) -> shapely.Geometry | None:
    """The area kept while reading ``osm_files``: boundary plus walking buffer (WGS84).

    ``None`` (keep everything) when no boundary is configured.
    """
    poly = configured_boundary(source, cut)
    if poly is None:
        return None
    gs = gpd.GeoSeries([poly], crs=4326)
    utm = gs.estimate_utm_crs()
    return gs.to_crs(utm).buffer(cut.buffer_m).to_crs(4326).iloc[0]


def _admin_level_advice(source: NetworkSource, level: int) -> str:
    """What to try when no relation of ``level`` lies in the study area: the other
    admin_levels of boundary relations present in the files, else the usual street and
    committee levels other than ``level``."""
    import osmium

    from geoplan.sources.osm_read import detect_format

    present: set[int] = set()
    try:
        for p in source.osm_files:
            fp = osmium.FileProcessor(osmium.io.File(str(p), detect_format(Path(p))),
                                      osmium.osm.RELATION)
            for r in fp.with_filter(osmium.filter.TagFilter(("boundary", "administrative"))):
                lv = (r.tags.get("admin_level") or "").strip()
                if lv.isdigit():
                    present.add(int(lv))
    except RuntimeError:  # the files were read before; advice is best effort
        present = set()
    names = {6: "districts", 8: "streets", 9: "committees", 10: "committees"}
    others = sorted(present - {level}) or [lv for lv in (8, 9, 10) if lv != level]
    listed = ", ".join(f"{lv} ({names[lv]})" if lv in names else str(lv) for lv in others)
    where = "present in the files" if present - {level} else "usual"
    return (f"try another admin_level ({where}: {listed}) or another areas.source")


_TABLES_MEMO: dict[tuple[Any, ...], OsmTables] = {}


def read_tables(source: NetworkSource, cut: StudyCut | None = None) -> OsmTables:
    """Stream ``source.osm_files`` once (cut to :func:`clip_area`) into arrays.

    The result is remembered for the rest of the process, so the network and the
    buildings of one run come from the same pass over the files.
    """
    stats = []
    for p in source.osm_files:
        try:
            st = p.stat()
        except OSError as exc:
            raise InputDataError(f"{p}: cannot read OSM file ({exc.strerror})") from None
        stats.append((str(p), st.st_size, st.st_mtime_ns))
    cut = cut or StudyCut()
    key = (tuple(stats), cut)
    if key not in _TABLES_MEMO:
        clip = clip_area(source, cut)
        if clip is None:
            big = [p for p, size, _ in stats if size > (256 << 20)]
            if big:
                log.warning("%s is large and no study boundary is set: the whole file is "
                            "read into memory; set study_area.boundary or "
                            "study_area.osm_relation to cut it", big[0])
        _TABLES_MEMO.clear()
        # the policy's tags (WAY_TAGS) are always kept, whatever it reads
        tags = tuple(dict.fromkeys((*NETWORK_WAY_TAGS, *WAY_TAGS)))
        _TABLES_MEMO[key] = read_osm(source.osm_files, clip, way_tags=tags,
                                     node_tags=NODE_TAGS)
    return _TABLES_MEMO[key]


def graph_from_osm_files(paths: tuple[Path, ...]) -> nx.MultiDiGraph:
    """Read and merge the street graphs of several OSM XML files with osmnx (unsimplified).

    Nodes shared between files (same OSM id) are merged, so adjoining exports join up.
    geoplan itself reads files through :func:`read_tables`; this osmnx path is the
    reference it is tested against.
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
        ox = _configure_osmnx()
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


def study_boundary(source: NetworkSource, *, warn_headerless: bool = True
                   ) -> shapely.Geometry:
    """The study area (WGS84): union of the OSM files' extents or the download area.

    A file's extent is its header bounds, or the box of its nodes when it has no header
    (a warning then says so, unless ``warn_headerless`` is False: a study boundary is set).

    A file whose nodes mostly lie outside its own ``<bounds>`` header contributes the
    extent of its nodes instead (otherwise its homes would silently fall outside).
    """
    if source.osm_files:
        # each file's own extent: its header, else the box of its nodes (a file without a
        # header must not drop out when another file has one)
        boxes = []
        for p in source.osm_files:
            box = _file_boundary(p)
            if box is None:
                box = _data_extent((p,), [detect_format(p)])
                if box is not None and warn_headerless:
                    b = box.bounds
                    # ways cut at an export's edge reach beyond it: the box of the nodes
                    # can be larger than the area exported
                    log.warning("%s: no bounds in its header; its part of the study area is "
                                "the box of its nodes (%.4f–%.4f E, %.4f–%.4f N), possibly "
                                "larger than the area exported; set study_area.boundary to "
                                "fix the study area", p, b[0], b[2], b[1], b[3])
            if box is not None:
                boxes.append(box)
        if boxes:
            return shapely.union_all(boxes)
        return shapely.Polygon()  # no node at all: the caller falls back to the network
    return _download_polygon(source)


def features(source: NetworkSource, cache_dir: Path,
             cut: StudyCut | None = None) -> gpd.GeoDataFrame:
    """Buildings and residential landuse polygons (WGS84) from the OSM source.

    Local files are read through :func:`read_tables` cut by ``cut`` (see
    :meth:`StudyCut.of`; default: the whole files), and cached.

    Returns
    -------
    GeoDataFrame
        Columns ``osm_id``, ``building``, ``building_levels`` (text, may be empty),
        ``landuse``, ``name`` and polygon ``geometry``.
    """
    if source.osm_files:
        return _cached_file_features(source, cut or StudyCut(), cache_dir)
    frames = []
    ox = _configure_osmnx(cache_dir)
    try:
        frames.append(ox.features_from_polygon(_download_polygon(source), tags=_FEATURE_TAGS))
    except Exception as exc:  # osmnx raises when nothing matches
        log.warning("no buildings or residential areas downloaded (%s)", exc)
    return _features_frame(frames)


def features_from_tables(tables: OsmTables) -> gpd.GeoDataFrame:
    """Buildings and residential landuse from streamed OSM arrays (see :func:`features`).

    Polygons are built by osmnx's own feature code from the kept elements, so they are
    the same as osmnx reading the XML.
    """
    ox = _configure_osmnx()
    els = tables.feature_elements()  # fresh dicts: osmnx consumes them
    if not els:
        return _features_frame([])
    try:
        f = _features_gdf(els)
    except ox._errors.InsufficientResponseError:
        return _features_frame([])
    return _features_frame([f])


def _features_gdf(els: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    """osmnx's ``features._create_gdf`` of ``els`` (no polygon filter), with the plain
    closed-way polygons built in one vectorised shapely call.

    osmnx builds every way's geometry one shapely object at a time (over a minute for a
    city's million buildings). The ways that are features, close, have at least 4 nodes,
    are polygons by osmnx's own tag rules and belong to no relation are built here with
    ``shapely.polygons(shapely.linearrings(...))`` from the same coordinates, so the same
    polygons; the rest (relations, their member ways, anything else) goes through osmnx's
    own ``_process_features``. Rows are then indexed, sorted and filtered by osmnx's code.
    """
    from osmnx import _errors
    from osmnx import features as oxf

    keys = set(_FEATURE_TAGS)
    rules = oxf._POLYGON_FEATURES
    members = {m["ref"] for e in els if e["type"] == "relation"
               for m in e.get("members", ()) if m.get("type") == "way"}
    nid: list[int] = []
    lon: list[float] = []
    lat: list[float] = []
    fast: list[dict[str, Any]] = []
    slow: list[dict[str, Any]] = []
    for e in els:
        t = e["type"]
        if t == "node":
            nid.append(e["id"])
            lon.append(e["lon"])
            lat.append(e["lat"])
        elif t == "way" and e["id"] not in members:
            tags = e.get("tags", {})
            tags.pop("geometry", None)  # as osmnx: a geometry tag never overwrites it
            nodes = e["nodes"]
            # a tag named like an element field (id, element ...) is left to osmnx
            if (keys & tags.keys() and len(nodes) >= 4 and nodes[0] == nodes[-1]
                    and tags.get("area") != "no" and not _RESERVED & tags.keys()
                    and _is_polygon(tags, rules)):
                fast.append(e)
                continue
        slow.append(e)
    frames = []
    if len(slow) > len(nid) or not fast:
        try:
            frames.append(pd.DataFrame(oxf._process_features(slow, keys)))
        except _errors.InsufficientResponseError:
            if not fast:
                raise
    if fast:
        ids = np.asarray(nid, dtype=np.int64)
        order = np.argsort(ids, kind="stable")
        lens = np.fromiter((len(e["nodes"]) for e in fast), dtype=np.int64, count=len(fast))
        refs = np.fromiter((n for e in fast for n in e["nodes"]), dtype=np.int64,
                           count=int(lens.sum()))
        pos = order[np.searchsorted(ids, refs, sorter=order)]
        xy = np.column_stack([np.asarray(lon)[pos], np.asarray(lat)[pos]])
        rings = shapely.linearrings(xy, indices=np.repeat(np.arange(len(fast)), lens))
        df = pd.DataFrame.from_records([e.get("tags", {}) for e in fast])
        df.insert(0, "id", [e["id"] for e in fast])
        df.insert(1, "element", "way")
        df["geometry"] = shapely.polygons(rings)
        frames.append(df)
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    gdf = gpd.GeoDataFrame(data=data, geometry="geometry", crs=4326)
    gdf = gdf.set_index(["element", "id"]).sort_index()
    return oxf._filter_features(gdf, shapely.Polygon(), _FEATURE_TAGS)


_RESERVED = frozenset({"id", "type", "element", "nodes", "members", "lon", "lat"})


def _is_polygon(tags: dict[str, str], rules: dict[str, dict[str, Any]]) -> bool:
    """osmnx's ``_build_way_geometry`` test: does a tag make the closed way a polygon?"""
    for tag in tags.keys() & rules.keys():
        rule = rules[tag]["polygon"]
        values = rules[tag].get("values", set())
        if (rule == "all" or (rule == "passlist" and tags[tag] in values)
                or (rule == "blocklist" and tags[tag] not in values)):
            return True
    return False


def _cached_file_features(source: NetworkSource, cut: StudyCut,
                          cache_dir: Path) -> gpd.GeoDataFrame:
    payload = json.dumps({"format": FEATURES_CACHE_FORMAT,
                          "files": [file_digest(p)[0] for p in source.osm_files],
                          "cut": cut.cache_key()}, sort_keys=True, default=str)
    key = hashlib.sha256(payload.encode()).hexdigest()[:20]
    path = cache_dir / f"osmfeatures-{key}.pkl"
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                out = pickle.load(fh)
            if isinstance(out, gpd.GeoDataFrame):
                log.info("buildings and landuse loaded from cache %s", path)
                return out
        except Exception as exc:  # a corrupt cache is rebuilt, never fatal
            log.warning("ignoring unreadable features cache %s (%s)", path, exc)
    out = features_from_tables(read_tables(source, cut))
    if out.empty:
        # a streets-only extract: demand then falls back to the area counts spread
        # evenly (see population.py)
        log.warning("%s: no buildings or residential landuse mapped (streets only); elderly "
                    "counts given per area are spread evenly over the area",
                    ", ".join(str(p) for p in source.osm_files))
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            pickle.dump(out, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot write features cache %s (%s)", path, exc)
    return out


def _features_frame(frames: list[pd.DataFrame]) -> gpd.GeoDataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        cols = ("osm_id", "building", "building_levels", "landuse", "name")
        return gpd.GeoDataFrame({c: pd.Series([], dtype=object) for c in cols},
                                geometry=gpd.GeoSeries([], crs=4326), crs=4326)
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
    return out.reset_index(drop=True)


def _col(df: pd.DataFrame, name: str) -> list[str]:
    if name not in df.columns:
        return [""] * len(df)
    return df[name].astype("object").where(df[name].notna(), "").astype(str).tolist()


def _admin_code_table(path: Path) -> dict[int, tuple[str, str]]:
    """Relation id -> (code, name) from a user table (``osm_relation_id`` and ``code`` or
    ``code_12``; ``name`` optional)."""
    from geoplan.sources.tables import read_table

    df = read_table(path)
    cols = {str(c).strip().lower(): c for c in df.columns}
    rid = cols.get("osm_relation_id") or cols.get("relation_id")
    code = cols.get("code") or cols.get("code_12")
    if rid is None or code is None:
        have = ", ".join(str(c) for c in df.columns)
        raise InputDataError(f"{path}: needs columns osm_relation_id and code (or code_12); "
                             f"columns are: {have}")
    name = cols.get("name")
    out = {}
    for i, row in df.iterrows():
        try:
            key = int(float(row[rid]))
        except (TypeError, ValueError):
            raise InputDataError(f"{path}: row {i + 2}: osm_relation_id '{row[rid]}' is not a "
                                 "number") from None
        out[key] = (str(row[code]).strip(), str(row[name]).strip() if name else "")
    return out


def admin_areas(source: NetworkSource, spec: Any, boundary: shapely.Geometry,
                crs: Any) -> gpd.GeoDataFrame:
    """Analysis areas from the OSM files' administrative boundary relations.

    Parameters
    ----------
    source : NetworkSource
        The OSM files.
    spec : Areas
        ``admin_level`` and ``admin_codes`` of the ``[areas]`` section.
    boundary : shapely geometry
        The study boundary in ``crs``; areas are clipped to it.
    crs : CRS
        The metric CRS of the network.

    Returns
    -------
    GeoDataFrame
        The columns of :func:`geoplan.sources.areas.compound_areas`; ``elderly_60`` is
        empty, so the population is spread over the homes inside as for compounds.

    Raises
    ------
    InputDataError
        If no relation of that level lies in the study area.
    """
    from geoplan.sources.osm_read import assemble_relations

    level = int(spec.admin_level)
    rels = assemble_relations(source.osm_files, tags={"boundary": "administrative",
                                                      "admin_level": str(level)})
    names = ", ".join(str(p) for p in source.osm_files)
    cut = [r for r in rels if r.geometry is None]
    if cut:
        log.warning("%d boundary relation(s) of admin_level %d are cut off by the extract's "
                    "edge and left out (not closed silently): %s%s", len(cut), level,
                    ", ".join(r.label for r in cut[:5]), " ..." if len(cut) > 5 else "")
    ok = [r for r in rels if r.geometry is not None]
    table = _admin_code_table(spec.admin_codes) if spec.admin_codes else {}
    geom = gpd.GeoSeries([r.geometry for r in ok], crs=4326).to_crs(crs).to_numpy()
    geom = shapely.make_valid(geom)
    clipped = shapely.intersection(geom, boundary) if len(ok) else geom
    full = shapely.area(geom)
    part = shapely.area(clipped)
    keep = part >= np.maximum(1000.0, 0.01 * full)
    if not keep.any():
        raise InputDataError(f"areas.source = 'osm_admin': no boundary relation with "
                             f"admin_level={level} lies in the study area in {names} "
                             f"({len(ok)} whole and {len(cut)} cut-off relations at that level "
                             f"in the files); {_admin_level_advice(source, level)}")
    rows = []
    for r, g in zip([r for r, k in zip(ok, keep, strict=True) if k], clipped[keep],
                    strict=True):
        code, uname = table.get(r.id, ("", ""))
        code = code or r.tags.get("ref:NBS") or r.tags.get("ref") or f"relation/{r.id}"
        name = r.tags.get("name:zh") or r.tags.get("name") or uname
        street = level <= 8
        rows.append({"area_id": code, "area_kind": "street" if street else "committee",
                     "code": code, "name": name, "street_code": code if street else "",
                     "street_name": name if street else "", "elderly_60": np.nan,
                     "elderly_80": np.nan, "osm_relation": r.id, "geometry": g})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    out["geometry"] = shapely.make_valid(out.geometry.to_numpy())
    out = out.drop(columns=["osm_relation"])
    return out.reset_index(drop=True)
