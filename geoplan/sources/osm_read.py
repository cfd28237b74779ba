"""Stream OpenStreetMap files (.osm.pbf, .osm, .osm.gz, .osm.bz2) into arrays, cut to an area.

Planning institutes keep OSM as ``.osm.pbf`` extracts of a whole city or province. This module
reads them with pyosmium (the libosmium bindings: a streaming C++ reader for every OSM format,
PBF decoding on a thread pool, kept by the OSM tooling maintainers) and keeps only what lies in
the study area plus a walking buffer, so that what is kept follows the study area, not the
file (libosmium's node location index, 16 bytes a node of the file, goes to a temporary file
for province or country extracts):

1. relations (only multipolygon/boundary relations tagged ``building`` or
   ``landuse=residential``; their member way ids are remembered);
2. nodes: their locations go into libosmium's node location index without reaching
   Python; only nodes with a crossing/signal tag do (libosmium's key filter);
3. ways: ``highway`` ways (tag columns used by the walkability policy) and building/landuse
   ways and relation members, with their node coordinates filled in from that index,
   filtered in chunks (one vectorised point-in-polygon test) to those touching the clip
   area; the kept nodes are those of the kept ways inside it. Buildings and landuse are
   kept complete (osmium extract's ``complete_ways``): a way with one node inside, a
   relation with one member touching the area, with all their nodes and member ways.

The result, :class:`OsmTables`, holds plain numpy arrays for the street network and
Overpass-like elements for buildings and residential landuse (few, and their polygons are
built by osmnx exactly as for XML files).
"""

from __future__ import annotations

import bz2
import gzip
import logging
import tempfile
import unicodedata
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geoplan.errors import InputDataError

log = logging.getLogger(__name__)

#: Way tags kept for the street network by default: those geoplan's walking policy
#: (:func:`geoplan.network.walkgraph.tag_policy`) and outputs read (the same as
#: ``geoplan.sources.osm.WAY_TAGS``, which :func:`osm.read_tables` adds in any case).
#: Each tag costs a lookup per way, the largest part of reading time, so the list is short.
NETWORK_WAY_TAGS = ("highway", "foot", "access", "area", "name", "service", "footway",
                    "sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right",
                    "motorroad", "bridge", "tunnel", "layer", "indoor", "level")

#: Node tags kept (crossing delay: mapped crossings and signals, see
#: :func:`geoplan.network.walkgraph.crossing_nodes`; the same as ``osm.NODE_TAGS``).
NODE_TAGS = ("highway", "crossing")

#: Tags of building/landuse ways and relation members that the features need.
FEATURE_TAGS = ("building", "building:levels", "landuse", "name", "area", "type")

#: osmnx builds polygons only from relations of these types.
_RELATION_TYPES = {"multipolygon", "boundary"}

#: Ways are filtered against the kept nodes in chunks of this many node references.
_CHUNK_REFS = 2_000_000

FORMAT_NAMES = {"pbf": "OSM PBF", "osm": "OSM XML", "osm.gz": "gzip OSM XML",
                "osm.bz2": "bzip2 OSM XML"}


def detect_format(path: Path) -> str:
    """Tell the OSM file format of ``path`` from its content (not its name).

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    str
        ``"pbf"``, ``"osm"`` (XML), ``"osm.gz"`` or ``"osm.bz2"``, as pyosmium names them.

    Raises
    ------
    InputDataError
        If the file cannot be read or holds none of these formats.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read OSM file ({exc.strerror or exc})") from None
    inner, fmt, opener = head, "osm", None
    if head[:2] == b"\x1f\x8b":
        fmt, opener = "osm.gz", gzip.open
    elif head[:3] == b"BZh":
        fmt, opener = "osm.bz2", bz2.open
    if opener is not None:  # look inside: compressed XML
        try:
            with opener(path, "rb") as fh:
                inner = fh.read(64)
        except (OSError, EOFError) as exc:
            raise InputDataError(_corrupt(path, fmt, exc)) from None
    # A PBF starts with a 4-byte BlobHeader length, then the BlobHeader whose type is
    # "OSMHeader" (protobuf field 1, tag 0x0a, length 9).
    if fmt == "osm" and len(head) >= 15 and head[4:6] == b"\x0a\x09" and head[6:15] == b"OSMHeader":
        return "pbf"
    text = inner.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"<?xml", b"<osm")):
        return fmt
    raise InputDataError(f"{path}: not an OpenStreetMap XML file nor an .osm.pbf, .osm.gz or "
                         ".osm.bz2 extract; export it from an OSM extract service or "
                         "openstreetmap.org")


@dataclass
class OsmTables:
    """What the study area needs from one or several OSM files, as arrays.

    Attributes
    ----------
    node_id : ndarray of int64
        Sorted OSM ids of the kept nodes.
    lon, lat : ndarray of float64
        Their WGS84 coordinates.
    way_id : ndarray of int64
        Ids of the kept ``highway`` ways (unique).
    way_offsets : ndarray of int64
        ``refs[way_offsets[i]:way_offsets[i+1]]`` are the node ids of way ``i``.
    refs : ndarray of int64
        Node ids of the ways (ids not in ``node_id`` lie outside the clip area).
    way_tags : DataFrame
        One row per way, one column per kept tag (missing tags are NaN).
    features : tuple
        Building/landuse ways and relation members ``(ids, lengths, refs, xs, ys, tags)``
        (complete ways, fixed-point coordinates) and the relations;
        :meth:`feature_elements` turns them into osmnx's element form.
    bounds : list of shapely.Polygon
        Header bounds of each file that declares them (WGS84).
    tag_node_id : ndarray of int64
        Sorted ids of the kept nodes that have one of the node tags read.
    node_tags : DataFrame
        One row per :attr:`tag_node_id`, one column per node tag read (missing: NaN).
    """

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    way_id: np.ndarray
    way_offsets: np.ndarray
    refs: np.ndarray
    way_tags: pd.DataFrame
    features: tuple[Any, ...] = ()
    bounds: list[shapely.Polygon] = field(default_factory=list)
    tag_node_id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    node_tags: pd.DataFrame = field(default_factory=pd.DataFrame)

    def feature_elements(self) -> list[dict[str, Any]]:
        """Overpass-like elements (nodes, ways, relations) of the buildings and residential
        landuse, built on demand (the network does not need them)."""
        if not self.features:
            return []
        return _feature_elements(self, *self.features)

    def node_tag(self, key: str, ids: np.ndarray) -> np.ndarray:
        """Tag ``key`` of nodes ``ids`` as stripped lower-case text ('' when missing)."""
        out = np.full(len(ids), "", dtype=object)
        if len(self.tag_node_id) == 0 or key not in self.node_tags:
            return out
        pos = np.minimum(np.searchsorted(self.tag_node_id, ids), len(self.tag_node_id) - 1)
        hit = self.tag_node_id[pos] == ids
        vals = self.node_tags[key].to_numpy(dtype=object)[pos[hit]]
        out[hit] = [v.strip().lower() if isinstance(v, str) else "" for v in vals]
        return out

    def node_index(self, ids: np.ndarray) -> np.ndarray:
        """Positions of node ``ids`` in :attr:`node_id`, ``-1`` where not kept."""
        if len(self.node_id) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.searchsorted(self.node_id, ids)
        pos = np.minimum(pos, len(self.node_id) - 1)
        return np.where(self.node_id[pos] == ids, pos, -1).astype(np.int64)


def header_bounds(path: Path, fmt: str | None = None) -> shapely.Polygon | None:
    """The bounding box an OSM file declares in its header (WGS84), if any."""
    import osmium

    fmt = fmt or detect_format(path)
    try:
        reader = osmium.io.Reader(osmium.io.File(str(path), fmt),
                                  osmium.osm.osm_entity_bits.NOTHING)
        try:
            box = reader.header().box()
        finally:
            reader.close()
    except RuntimeError as exc:
        raise InputDataError(_corrupt(path, fmt, exc)) from None
    if not box.valid():
        return None
    bl, tr = box.bottom_left, box.top_right
    return shapely.box(bl.lon, bl.lat, tr.lon, tr.lat)


def _corrupt(path: Path, fmt: str, exc: BaseException) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (f"{path}: cannot read this {FORMAT_NAMES[fmt]} file ({msg}); it looks truncated or "
            "corrupt: download or export it again")


class _Collector:
    """Accumulates streamed ways (node ids and fixed-point coordinates of each) and keeps
    those that touch the clip area, chunk by chunk, so memory follows what is kept."""

    def __init__(self, inside: Any, always: set[int] | None = None) -> None:
        self.inside = inside
        # ways kept whatever their nodes (multipolygon members: the relation is decided
        # once all of its members are seen)
        self.always = np.array(sorted(always or ()), dtype=np.int64)
        self.ids = array("q")
        self.lens = array("q")
        self.refs = array("q")
        self.xs = array("q")
        self.ys = array("q")
        self.rows: list[Any] = []
        self.out: list[tuple[np.ndarray, ...]] = []
        self.out_rows: list[Any] = []

    def add(self, wid: int, refs: list[int], xs: list[int], ys: list[int], row: Any) -> None:
        self.ids.append(wid)
        self.lens.append(len(refs))
        self.refs.extend(refs)
        self.xs.extend(xs)
        self.ys.extend(ys)
        self.rows.append(row)
        if len(self.refs) >= _CHUNK_REFS:
            self.flush()

    def flush(self) -> None:
        if not self.ids:
            return
        ids, lens, refs, xs, ys = (np.frombuffer(a, dtype=np.int64).copy() for a in
                                   (self.ids, self.lens, self.refs, self.xs, self.ys))
        hit = self.inside(xs, ys)
        # nodes with negative ids have no location yet (see _negative_locations): a way
        # may touch the clip through them, decided once they are located
        keep = _touches(hit | ((refs < 0) & ~_valid(xs, ys)), lens)
        if len(self.always):
            keep |= np.isin(ids, self.always)
        ref_keep = np.repeat(keep, lens)
        self.out.append((ids[keep], lens[keep], refs[ref_keep], xs[ref_keep], ys[ref_keep],
                         hit[ref_keep]))
        self.out_rows.extend(r for r, k in zip(self.rows, keep, strict=True) if k)
        self.ids, self.lens, self.refs = array("q"), array("q"), array("q")
        self.xs, self.ys, self.rows = array("q"), array("q"), []

    def result(self) -> tuple[tuple[np.ndarray, ...], list[Any]]:
        """``(ids, lens, refs, xs, ys, inside)`` of the kept ways and their tag rows."""
        self.flush()
        cols = tuple(_cat([o[i] for o in self.out]) for i in range(5))
        hit = (np.concatenate([o[5] for o in self.out]) if self.out
               else np.zeros(0, dtype=bool))
        return (*cols, hit), self.out_rows


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _touches(hit: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Per way (given by ``lens``), whether any of its references is a ``hit``."""
    if len(lens) == 0:
        return np.zeros(0, dtype=bool)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    nonempty = lens > 0
    out = np.zeros(len(lens), dtype=bool)
    out[nonempty] = np.add.reduceat(hit.astype(np.int64), starts[nonempty]) > 0
    return out


def _by_ids(fp: Any, ids: set[int]) -> Any:
    """Objects of ``fp`` whose id is in ``ids``: libosmium's id filter, or a Python check
    when there are negative ids (objects not yet uploaded, as JOSM saves them), which that
    filter cannot take."""
    import osmium

    if ids and min(ids) >= 0:
        yield from fp.with_filter(osmium.filter.IdFilter(ids))
    else:
        yield from (o for o in fp if o.id in ids)


def _is_feature(tags: Any) -> bool:
    return "building" in tags or tags.get("landuse") == "residential"


#: Inputs up to this size keep libosmium's node location index in memory (``flex_mem``:
#: 16 bytes per node of the file); larger ones (a province or country extract) put it in
#: a memory-mapped temporary file (``sparse_file_array``), so that RAM follows the study
#: area and the operating system pages the index in and out.
_INDEX_IN_MEMORY_MAX = 512 << 20

#: libosmium's fixed-point value of an undefined coordinate (a node missing from the files).
_UNDEFINED = 2_147_483_647


def _way_nodes(way: Any) -> tuple[list[int], list[int], list[int]]:
    """Node ids and fixed-point coordinates (from libosmium's location index) of ``way``.

    Reads pyosmium's C++ node list directly: the public ``way.nodes`` iterator adds two
    Python calls per node, the largest cost of reading a city's ways.
    """
    nodes = way.nodes
    try:
        lst, data = nodes._list, way._pyosmium_data
        get = lst.get
        nrs = [get(data, i) for i in range(lst.size(data))]
    except AttributeError:  # another pyosmium layout: the public (slower) iterator
        nrs = list(nodes)
    locs = [r.location for r in nrs]
    return [r.ref for r in nrs], [c.x for c in locs], [c.y for c in locs]


def _tag_getter(obj: Any) -> Any:
    """``get(key, default)`` for the tags of ``obj``: pyosmium's C++ lookup directly (the
    public ``obj.tags.get`` adds a Python call per lookup, and a way is asked for ~20 keys)."""
    try:
        return obj._pyosmium_data.tags_get_value_by_key
    except AttributeError:  # another pyosmium layout
        return obj.tags.get


def _feature_row(tag: Any) -> dict[str, str]:
    return {k: v for k in FEATURE_TAGS if (v := tag(k, None)) is not None}


def read_osm(paths: tuple[Path, ...] | list[Path],
             clip: shapely.Geometry | None = None, *,
             way_tags: tuple[str, ...] = NETWORK_WAY_TAGS,
             node_tags: tuple[str, ...] = NODE_TAGS) -> OsmTables:
    """Stream OSM files into :class:`OsmTables`, keeping only what lies in ``clip``.

    Two streaming passes per file, with the per-object work in libosmium (C++): the
    nodes go into libosmium's location index without reaching Python (only those with
    one of ``node_tags`` do), then the ``highway``/``building``/``landuse`` ways come
    through libosmium's key filter with their node coordinates filled in from that index.
    Ways are kept, chunk by chunk, when one of their nodes lies in ``clip`` (one
    vectorised point-in-polygon test per chunk), and the kept nodes are those of the kept
    ways that lie in ``clip``.

    Parameters
    ----------
    paths : sequence of Path
        OSM files in any mix of formats; they are merged (shared ids are one object).
    clip : shapely geometry, optional
        Area to keep (WGS84), normally the study boundary plus a walking buffer. ``None``
        keeps everything.
    way_tags : tuple of str
        Tags of highway ways to keep (columns of :attr:`OsmTables.way_tags`).
    node_tags : tuple of str
        Tags of kept nodes to keep (columns of :attr:`OsmTables.node_tags`); only nodes
        with one of these keys are listed.

    Returns
    -------
    OsmTables

    Raises
    ------
    InputDataError
        If a file is not OSM, is truncated or corrupt, or ``clip`` lies outside every
        file's declared extent.
    """
    import osmium

    fmts = [detect_format(Path(p)) for p in paths]
    bounds = [header_bounds(Path(p), f) for p, f in zip(paths, fmts, strict=True)]
    if clip is not None and not clip.is_empty:
        declared = [b for b in bounds if b is not None]
        if declared and len(declared) == len(bounds) and not any(
                b.intersects(clip) for b in declared):
            raise InputDataError(_outside(paths, clip, shapely.union_all(declared)))
    use_clip = clip is not None and not clip.is_empty
    inside = _inside_test(clip if use_clip else None)
    # the clip's box in libosmium's fixed-point units, to skip ways wholly outside early
    box = (tuple(round(v * 1e7) + d for v, d in zip(clip.bounds, (-1, -1, 1, 1), strict=True))
           if use_clip and clip is not None else ())

    # 1. relations that make building/landuse polygons, and their member ways
    relations: dict[int, dict[str, Any]] = {}
    for p, fmt in zip(paths, fmts, strict=True):
        try:
            fp = osmium.FileProcessor(osmium.io.File(str(p), fmt), osmium.osm.RELATION)
            for r in fp.with_filter(osmium.filter.KeyFilter("building", "landuse")):
                tags = r.tags
                if tags.get("type") in _RELATION_TYPES and _is_feature(tags):
                    relations[r.id] = {
                        "type": "relation", "id": r.id, "tags": dict(tags),
                        "members": [{"type": {"n": "node", "w": "way", "r": "relation"}[m.type],
                                     "ref": m.ref, "role": m.role} for m in r.members]}
        except RuntimeError as exc:
            raise InputDataError(_corrupt(Path(p), fmt, exc)) from None
    member_ways = {m["ref"] for rel in relations.values() for m in rel["members"]
                   if m["type"] == "way"}

    with tempfile.TemporaryDirectory(prefix="geoplan-osm-index-",
                                     ignore_cleanup_errors=True) as tmp:
        total = sum(Path(p).stat().st_size for p in paths)
        index = osmium.index.create_map(
            "flex_mem" if total <= _INDEX_IN_MEMORY_MAX
            else f"sparse_file_array,{Path(tmp) / 'locations'}")

        # one handler for all passes: it sorts the index once, before the first way (a
        # second handler on the same index misses the nodes of all but the last file)
        lh = osmium.NodeLocationsForWays(index)
        lh.ignore_errors()  # nodes missing from the files: undefined, dropped below

        # 2. nodes: into the location index (C++), only tagged ones reach Python
        tag_nid = array("q")
        tag_rows: list[tuple[Any, ...]] = []
        negative = False
        for p, fmt in zip(paths, fmts, strict=True):
            try:
                with osmium.io.Reader(osmium.io.File(str(p), fmt), osmium.osm.NODE) as rd:
                    if not node_tags:
                        osmium.apply(rd, lh)
                        continue
                    # the handlers are kept in names: the iterator does not own them
                    kf = osmium.filter.KeyFilter(*node_tags)
                    for nd in osmium.OsmFileIterator(rd, lh, kf):
                        tag = _tag_getter(nd)
                        tag_nid.append(nd.id)
                        tag_rows.append(tuple([tag(k, None) for k in node_tags]))
            except RuntimeError as exc:
                raise InputDataError(_corrupt(Path(p), fmt, exc)) from None

        # 3. ways with their node coordinates: highway ways for the network,
        # building/landuse ways and relation members for the features
        net = _Collector(inside)
        feat = _Collector(inside, member_ways)
        for p, fmt in zip(paths, fmts, strict=True):
            try:
                # tagged ways through libosmium's key filter; relation members that lack
                # these keys through its id filter in a second pass, so untagged ways never
                # reach Python
                with osmium.io.Reader(osmium.io.File(str(p), fmt), osmium.osm.WAY) as rd:
                    kf = osmium.filter.KeyFilter("highway", "building", "landuse")
                    for wy in osmium.OsmFileIterator(rd, lh, kf):
                        tag = _tag_getter(wy)
                        hw = tag("highway", None)
                        wid = wy.id
                        is_feat = (tag("building", None) is not None
                                   or tag("landuse", None) == "residential"
                                   or (member_ways and wid in member_ways))
                        if hw is None and not is_feat:
                            continue
                        refs, xs, ys = _way_nodes(wy)
                        if not refs:
                            continue
                        if box and not (member_ways and wid in member_ways) and (
                                max(xs) < box[0] or max(ys) < box[1] or min(xs) > box[2]
                                    or min(ys) > box[3]) and min(refs) >= 0:
                            # wholly outside the clip's box (nodes missing from the files
                            # are at +2**31: never west or south of it), as the chunk
                            # filter would find: its tags are not read
                            continue
                        negative = negative or min(refs) < 0
                        if hw is not None and len(refs) > 1:
                            net.add(wid, refs, xs, ys, tuple([tag(k, None) for k in way_tags]))
                        if is_feat:
                            feat.add(wid, refs, xs, ys, _feature_row(tag))
                if member_ways:
                    fp = osmium.FileProcessor(osmium.io.File(str(p), fmt), osmium.osm.WAY)
                    fp = fp.with_filter(lh)
                    for wy in _by_ids(fp, member_ways):
                        tags = wy.tags
                        if "highway" in tags or "building" in tags or "landuse" in tags:
                            continue  # seen in the first pass
                        refs, xs, ys = _way_nodes(wy)
                        negative = negative or (len(refs) > 0 and min(refs) < 0)
                        feat.add(wy.id, refs, xs, ys, _feature_row(tags.get))
            except RuntimeError as exc:
                raise InputDataError(_corrupt(Path(p), fmt, exc)) from None
        # release the index before its temporary file is removed (Windows cannot remove
        # a file that is still mapped)
        fp = lh = index = None

    net_cols, rows = net.result()
    feat_cols, feat_rows = feat.result()
    if negative:  # libosmium's index holds positive ids only: JOSM's new objects
        (net_cols, rows), (feat_cols, feat_rows) = _negative_locations(
            paths, fmts, inside, (net_cols, rows), (feat_cols, feat_rows))
    feat_cols, feat_rows, relations = _complete_features(feat_cols, feat_rows, relations)
    ids, lon, lat = _kept_nodes(net_cols, feat_cols)
    if use_clip and len(ids) == 0:
        assert clip is not None
        # no kept way there: outside the data, or (left to the network builder to say)
        # an area inside it without streets or buildings
        extent = _data_extent(paths, fmts)
        if extent is None or not extent.intersects(clip):
            raise InputDataError(_outside(paths, clip, extent))
    tag_ids, tag_table_n = _tagged_nodes(tag_nid, tag_rows, ids, node_tags)

    way_id, lens, refs = net_cols[:3]
    way_id, lens, refs, rows = _unique_ways(way_id, lens, refs, rows)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    tag_table = _object_table(rows, way_tags)

    fw = (*feat_cols[:5], feat_rows)
    tables = OsmTables(node_id=ids, lon=lon, lat=lat, way_id=way_id, way_offsets=offsets,
                       refs=refs, way_tags=tag_table, features=(*fw, relations),
                       bounds=[b for b in bounds if b is not None],
                       tag_node_id=tag_ids, node_tags=tag_table_n)
    log.info("read %d OSM file(s): %d nodes, %d highway ways, %d building/landuse ways kept",
             len(paths), len(ids), len(way_id), len(fw[0]))
    return tables


def _valid(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Whether fixed-point coordinates are defined (libosmium marks missing nodes)."""
    return (np.abs(xs) <= 1_800_000_000) & (np.abs(ys) <= 900_000_000)


def _inside_test(clip: shapely.Geometry | None) -> Any:
    """A vectorised test: which fixed-point coordinates are defined and inside ``clip``."""
    if clip is None:
        return _valid
    shapely.prepare(clip)
    # bounding box in libosmium's fixed-point units (1e-7 degrees), compared as ints
    w, s, e, n = (round(v * 1e7) for v in clip.bounds)
    w, s, e, n = w - 1, s - 1, e + 1, n + 1

    def inside(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        out = (xs >= w) & (xs <= e) & (ys >= s) & (ys <= n)
        cand = np.flatnonzero(out)
        if len(cand):
            # Fixed-point / 1e7 is correctly rounded: the same doubles as parsing XML text.
            lon, lat = xs[cand] / 1e7, ys[cand] / 1e7
            out[cand] = shapely.contains_xy(clip, lon, lat) | shapely.intersects_xy(
                clip, lon, lat)
        return out

    return inside


def _kept_nodes(*cols: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted unique ids and WGS84 coordinates of the kept ways' nodes inside the clip."""
    refs = np.concatenate([c[2][c[5]] for c in cols])
    xs = np.concatenate([c[3][c[5]] for c in cols])
    ys = np.concatenate([c[4][c[5]] for c in cols])
    ids, first = np.unique(refs, return_index=True)
    # Fixed-point / 1e7 is correctly rounded: the same doubles as parsing the XML text.
    return ids.astype(np.int64), xs[first] / 1e7, ys[first] / 1e7


def _negative_locations(paths: Any, fmts: list[str], inside: Any,
                        *parts: tuple[tuple[np.ndarray, ...], list[Any]]
                        ) -> list[tuple[tuple[np.ndarray, ...], list[Any]]]:
    """Fill in the coordinates of nodes with negative ids (objects not yet uploaded, as
    JOSM saves them), which libosmium's location index cannot hold, and keep the ways
    that touch the clip area: one more pass over the nodes in Python, only for such
    (small, hand-edited) files."""
    import osmium

    want = {r for (c, _) in parts for r in c[2][c[2] < 0].tolist()}
    found: dict[int, tuple[int, int]] = {}
    for p, fmt in zip(paths, fmts, strict=True):
        try:
            for nd in osmium.FileProcessor(osmium.io.File(str(p), fmt), osmium.osm.NODE):
                if nd.id in want and nd.id not in found:
                    found[nd.id] = (nd.location.x, nd.location.y)
        except RuntimeError as exc:
            raise InputDataError(_corrupt(Path(p), fmt, exc)) from None
    out = []
    for (ids, lens, refs, xs, ys, _), rows in parts:
        xs, ys = xs.copy(), ys.copy()
        for i in np.flatnonzero(refs < 0).tolist():
            xs[i], ys[i] = found.get(int(refs[i]), (_UNDEFINED, _UNDEFINED))
        hit = inside(xs, ys)
        keep = _touches(hit, lens)
        rk = np.repeat(keep, lens)
        out.append(((ids[keep], lens[keep], refs[rk], xs[rk], ys[rk], hit[rk]),
                    [r for r, k in zip(rows, keep, strict=True) if k]))
    return out


def _tagged_nodes(nid: array, rows: list[tuple[Any, ...]],
                  kept: np.ndarray, keys: tuple[str, ...]) -> tuple[np.ndarray, pd.DataFrame]:
    """Ids and ``keys`` tags of the tagged nodes among the ``kept`` (sorted) nodes."""
    if not keys or len(nid) == 0 or len(kept) == 0:
        return np.zeros(0, dtype=np.int64), pd.DataFrame(columns=list(keys), dtype=object)
    ids = np.frombuffer(nid, dtype=np.int64)
    pos = np.minimum(np.searchsorted(kept, ids), len(kept) - 1)
    take = np.flatnonzero(kept[pos] == ids)
    ids, first = np.unique(ids[take], return_index=True)
    return ids.astype(np.int64), _object_table([rows[i] for i in take[first]], keys)


def _object_table(rows: list[tuple[Any, ...]], keys: tuple[str, ...]) -> pd.DataFrame:
    """Tag rows (text or None) as an object table with NaN for a missing tag.

    Missing tags become one shared NaN object: ``DataFrame.where(notna, np.nan)`` made a
    new float object per missing cell (about 45 MB per 100,000 walk nodes).
    """
    arr = np.empty((len(rows), len(keys)), dtype=object)
    if rows:
        arr[:] = rows
        arr[arr == None] = np.nan  # noqa: E711 (elementwise on an object array)
    return pd.DataFrame(arr, columns=list(keys), dtype=object, copy=False)


def _outside(paths: Any, clip: shapely.Geometry, extent: shapely.Geometry | None) -> str:
    cb = clip.bounds
    where = "holds no node"
    if extent is not None and not extent.is_empty:
        eb = extent.bounds
        where = (f"(lon {eb[0]:.4f} to {eb[2]:.4f}, lat {eb[1]:.4f} to {eb[3]:.4f})")
        where = f"lies outside the OSM extract {where}"
    else:
        where = "holds no node of the OSM extract"
    return (f"{', '.join(str(p) for p in paths)}: the study boundary with its buffer (lon "
            f"{cb[0]:.4f} to {cb[2]:.4f}, lat {cb[1]:.4f} to {cb[3]:.4f}) {where}; use an "
            "extract that covers the study area or check study_area.boundary")


def _data_extent(paths: Any, fmts: list[str]) -> shapely.Geometry | None:
    """Extent of all nodes of the files (only read to explain an error)."""
    import osmium

    lo = [np.inf, np.inf, -np.inf, -np.inf]
    for p, fmt in zip(paths, fmts, strict=True):
        for nd in osmium.FileProcessor(osmium.io.File(str(p), fmt), osmium.osm.NODE):
            loc = nd.location
            if loc.valid():
                x, y = loc.lon, loc.lat
                lo = [min(lo[0], x), min(lo[1], y), max(lo[2], x), max(lo[3], y)]
    return shapely.box(*lo) if np.isfinite(lo[0]) else None


def _unique_ways(way_id: np.ndarray, lens: np.ndarray, refs: np.ndarray,
                 rows: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    """Drop repeated way ids (a way in two adjoining files), keeping the first copy."""
    uniq, first = np.unique(way_id, return_index=True)
    if len(uniq) == len(way_id):
        return way_id, lens, refs, rows
    first = np.sort(first)
    keep = np.zeros(len(way_id), dtype=bool)
    keep[first] = True
    return (way_id[keep], lens[keep], refs[np.repeat(keep, lens)],
            [r for r, k in zip(rows, keep, strict=True) if k])


def _complete_features(cols: tuple[np.ndarray, ...], rows: list[Any],
                       relations: dict[int, dict[str, Any]]
                       ) -> tuple[tuple[np.ndarray, ...], list[Any], dict[int, dict[str, Any]]]:
    """Keep complete features that touch the clip area (osmium extract's
    ``complete_ways`` strategy): building/landuse ways with one node inside, and relations
    with one member way touching it together with all their member ways.

    The collector kept every relation member way (``cols``: ``ids, lens, refs, xs, ys,
    inside`` per way); cutting a relation's members at the clip's edge would leave ways
    with one node, from which osmnx builds empty lines and fails.
    """
    ids, lens = cols[0], cols[1]
    touch = _touches(cols[5], lens)
    touching = set(ids[touch].tolist())
    kept_rel = {rid: rel for rid, rel in relations.items()
                if any(m["type"] == "way" and m["ref"] in touching for m in rel["members"])}
    members = np.array(sorted({m["ref"] for rel in kept_rel.values() for m in rel["members"]
                               if m["type"] == "way"}), dtype=np.int64)
    keep = touch | np.isin(ids, members)
    if keep.all():
        return cols, rows, kept_rel
    rk = np.repeat(keep, lens)
    out = (ids[keep], lens[keep], *(c[rk] for c in cols[2:]))
    return out, [r for r, k in zip(rows, keep, strict=True) if k], kept_rel


def _feature_elements(tables: OsmTables, way_id: np.ndarray, lens: np.ndarray,
                      refs: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                      tags: list[dict[str, str]],
                      relations: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Overpass-like elements of the kept building/landuse ways, members and relations.

    Ways are complete (all their nodes, also outside the clip area). A way that cannot
    make a geometry (a node missing from the files, fewer than 2 nodes, a closed ring of
    fewer than 4) is left out: osmnx then drops a relation that needs it (as a relation
    with a member missing from the files) instead of building an empty part.
    """
    if len(way_id):
        _, first = np.unique(way_id, return_index=True)
        if len(first) < len(way_id):  # a way in two adjoining files: the first copy
            keep = np.zeros(len(way_id), dtype=bool)
            keep[first] = True
            rk = np.repeat(keep, lens)
            way_id, lens, refs, xs, ys = way_id[keep], lens[keep], refs[rk], xs[rk], ys[rk]
            tags = [t for t, k in zip(tags, keep, strict=True) if k]
    valid = _valid(xs, ys)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    nonempty = lens > 0
    bad = np.ones(len(lens), dtype=bool)  # a node without location, or no node
    closed = np.zeros(len(lens), dtype=bool)
    if nonempty.any():
        s0 = starts[nonempty]
        bad[nonempty] = np.add.reduceat((~valid).astype(np.int64), s0) > 0
        closed[nonempty] = refs[s0] == refs[s0 + lens[nonempty] - 1]
    good = ~bad & (lens >= 2) & ~(closed & (lens < 4))
    rk = np.repeat(good, lens)
    nid, first = np.unique(refs[rk], return_index=True)
    elements: list[dict[str, Any]] = [
        {"type": "node", "id": int(i), "lon": float(x), "lat": float(y)}
        for i, x, y in zip(nid.tolist(), (xs[rk][first] / 1e7).tolist(),
                           (ys[rk][first] / 1e7).tolist(), strict=True)]
    kept_ways = set()
    parts = np.split(refs, np.cumsum(lens)[:-1]) if len(way_id) else []
    for wid, nodes, t, ok in zip(way_id.tolist(), parts, tags, good.tolist(), strict=True):
        if ok:
            kept_ways.add(wid)
            elements.append({"type": "way", "id": wid, "nodes": nodes.tolist(), "tags": t})
    for rel in relations.values():
        if any(m["type"] == "way" and m["ref"] in kept_ways for m in rel["members"]):
            elements.append({**rel, "tags": dict(rel["tags"]),
                             "members": [dict(m) for m in rel["members"]]})
    return elements


@dataclass
class RelationShape:
    """A boundary or multipolygon relation of the OSM files, assembled.

    Attributes
    ----------
    id : int
        OSM relation id.
    tags : dict
        Its tags.
    geometry : shapely geometry or None
        Its (multi)polygon (WGS84); ``None`` when cut off by the extract's edge or when
        its rings do not close.
    missing_ways, missing_nodes, member_ways : int
        Member ways and their nodes absent from the files, and the number of member ways.
    """

    id: int
    tags: dict[str, str]
    geometry: shapely.Geometry | None
    missing_ways: int
    missing_nodes: int
    member_ways: int

    @property
    def label(self) -> str:
        """``relation <id> (<name>)`` for messages."""
        return f"relation {self.id} ({self.tags.get('name', 'no name')})"


def assemble_relations(paths: tuple[Path, ...] | list[Path], *, ids: set[int] | None = None,
                       tags: dict[str, str] | None = None) -> list[RelationShape]:
    """Find relations by id or by tag values and assemble their polygons.

    Three streaming passes (the relations, their member ways, their nodes), the last two
    with id filters inside libosmium, so a province extract costs seconds and little
    memory. Rings are assembled as osmnx assembles relations (merge the member lines,
    polygonise, cut the inner rings out). Relations whose members are not all in the files
    (cut off by the extract's edge) are returned without geometry, never closed silently.

    Parameters
    ----------
    paths : sequence of Path
        The OSM files (merged).
    ids : set of int, optional
        Relation ids to take.
    tags : dict, optional
        Take relations whose tags have all these values (e.g. ``{"boundary":
        "administrative", "admin_level": "8"}``).

    Returns
    -------
    list of RelationShape
        In the order of the files.
    """
    import osmium
    from osmnx.features import _build_relation_geometry, _build_way_geometry

    fmts = [detect_format(Path(p)) for p in paths]

    def scan(kind: int, want: set[int] | None) -> Any:
        for p, fmt in zip(paths, fmts, strict=True):
            try:
                fp = osmium.FileProcessor(osmium.io.File(str(p), fmt), kind)
                if want is None:
                    yield from fp.with_filter(osmium.filter.TagFilter(*(tags or {}).items()))
                else:
                    yield from _by_ids(fp, want)
            except RuntimeError as exc:
                raise InputDataError(_corrupt(Path(p), fmt, exc)) from None

    rels: dict[int, dict[str, Any]] = {}
    for r in scan(osmium.osm.RELATION, ids):
        rtags = dict(r.tags)
        if tags and any(rtags.get(k) != v for k, v in tags.items()):
            continue
        rels.setdefault(r.id, {
            "tags": rtags,
            "members": [{"type": {"n": "node", "w": "way", "r": "relation"}[m.type],
                         "ref": m.ref, "role": m.role or "outer"} for m in r.members
                        if m.type == "w" and (m.role or "outer") in ("outer", "inner")]})
    want = {m["ref"] for rel in rels.values() for m in rel["members"]}
    ways: dict[int, tuple[list[int], dict[str, str]]] = {}
    if want:
        for w in scan(osmium.osm.WAY, want):
            ways.setdefault(w.id, ([n.ref for n in w.nodes], dict(w.tags)))
    coords: dict[int, tuple[float, float]] = {}
    need = {n for refs, _ in ways.values() for n in refs}
    if need:
        for nd in scan(osmium.osm.NODE, need):
            if nd.location.valid():
                coords[nd.id] = (nd.location.lon, nd.location.lat)
    out = []
    for rid, rel in rels.items():
        mw = {m["ref"] for m in rel["members"]}
        have = mw & set(ways)
        nodes = {n for w in have for n in ways[w][0]}
        miss_w, miss_n = len(mw - have), len(nodes - set(coords))
        geom = None
        if not miss_w and not miss_n and mw:
            wg = {w: _build_way_geometry(w, ways[w][0], ways[w][1], coords) for w in mw}
            geom = _build_relation_geometry(rel["members"], wg)
            geom = None if geom.is_empty else geom
        out.append(RelationShape(rid, rel["tags"], geom, miss_w, miss_n, len(mw)))
    return out


def relation_polygon(paths: tuple[Path, ...] | list[Path], relation_id: int) -> shapely.Geometry:
    """The (multi)polygon of one boundary or multipolygon relation of the OSM files (WGS84).

    Parameters
    ----------
    paths : sequence of Path
        The OSM files (merged).
    relation_id : int
        OSM id of the relation (e.g. 398350 for 杨浦区).

    Raises
    ------
    InputDataError
        If the relation is not in the files, is cut off by the extract's edge (member ways
        or nodes missing), or its rings do not close into a polygon.
    """
    names = ", ".join(str(p) for p in paths)
    found = assemble_relations(paths, ids={relation_id})
    if not found:
        raise InputDataError(f"{names}: relation {relation_id} is not in the OSM extract; check "
                             "study_area.osm_relation (the boundary relation's id on "
                             "openstreetmap.org) or use a larger extract")
    rel = found[0]
    if rel.missing_ways or rel.missing_nodes:
        raise InputDataError(
            f"{names}: {rel.label} is cut off by the extract's edge ({rel.missing_ways} of "
            f"{rel.member_ways} member ways and {rel.missing_nodes} nodes missing); it is not "
            "closed silently: use an extract that holds the whole boundary")
    if rel.geometry is None:
        raise InputDataError(f"{names}: {rel.label}: its member ways do not close into rings; "
                             "check the relation on openstreetmap.org")
    return rel.geometry


#: Tags a boundary's name is looked up in for ``study_area.osm_name``.
NAME_TAGS = ("name", "name:zh", "name:en", "official_name")


def _norm_name(text: str) -> str:
    """Name compared after Unicode NFKC (full-width forms, compatibility characters) and
    stripping."""
    return unicodedata.normalize("NFKC", text).strip()


def relation_by_name(paths: tuple[Path, ...] | list[Path], name: str,
                     admin_level: int) -> int:
    """The id of the ``boundary=administrative`` relation of ``admin_level`` named ``name``.

    A relation matches when its ``name``, ``name:zh``, ``name:en`` or ``official_name``
    equals ``name`` after Unicode NFKC and stripping. One streaming pass over the
    relations with libosmium's tag filter.

    Parameters
    ----------
    paths : sequence of Path
        The OSM files (merged).
    name : str
        The boundary's name (``study_area.osm_name``), e.g. "杨浦区".
    admin_level : int
        Its OSM ``admin_level`` (``study_area.osm_admin_level``), e.g. 6 for a district.

    Returns
    -------
    int
        The relation id.

    Raises
    ------
    InputDataError
        If no relation of that level has that name (the message lists up to five names
        found at that level), or several have it (the message lists their ids).
    """
    import osmium

    want, level = _norm_name(name), str(admin_level)
    at_level: dict[int, str] = {}
    hits: list[int] = []
    for p in paths:
        fmt = detect_format(Path(p))
        try:
            fp = osmium.FileProcessor(osmium.io.File(str(p), fmt), osmium.osm.RELATION)
            for r in fp.with_filter(osmium.filter.TagFilter(("boundary", "administrative"))):
                tags = r.tags
                if (tags.get("admin_level") or "").strip() != level or r.id in at_level:
                    continue
                names = [v for k in NAME_TAGS if (v := tags.get(k))]
                at_level[r.id] = names[0] if names else f"relation {r.id}"
                if any(_norm_name(v) == want for v in names):
                    hits.append(r.id)
        except RuntimeError as exc:
            raise InputDataError(_corrupt(Path(p), fmt, exc)) from None
    files = ", ".join(str(p) for p in paths)
    setting = f"study_area.osm_name = \"{name}\" (osm_admin_level = {admin_level})"
    if not hits:
        if not at_level:
            raise InputDataError(
                f"{setting}: {files} hold no boundary=administrative relation at "
                f"admin_level {admin_level}; check osm_admin_level (6 for a district 区/县, 8 "
                "for a street 街道/镇) or use an extract that holds the boundary")
        found = sorted(set(at_level.values()))
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        raise InputDataError(
            f"{setting}: no boundary of that name at that level in {files}; names found "
            f"there: {', '.join(found[:5])}{more}; check the spelling or osm_admin_level")
    if len(hits) > 1:
        raise InputDataError(
            f"{setting}: {len(hits)} boundary relations have that name "
            f"({', '.join(map(str, hits))}); set study_area.osm_relation to the one you mean "
            "instead of osm_name")
    return hits[0]
