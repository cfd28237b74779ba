"""``geoplan init``: a commented config TOML for a new district, from the files at hand.

Each facility table is read with the project's table readers
(:func:`geoplan.sources.tables.read_table`) and its columns recognised: longitude/latitude
(``经度``/``纬度``, ``lng``/``lat``, ``lon``/``lat``, ``longitude``/``latitude``, ``x``/``y``,
``lon_gcj02``, ``bd09_lng``, ``wgs84_lon`` ...), the datum their names or the file name hint
at (``gcj02``/``amap``/``高德`` -> GCJ-02, ``bd09``/``baidu``/``百度`` -> BD-09,
``wgs84``/``gps`` -> WGS84), the name, address, street, district and capacity columns, and
the facility type (from the file name or a category column). The written file names every
choice in a comment (English, short Chinese) and says what to check; it is validated with
the config loader before it is written.

Column recognition is a small rule table of our own: the names are the conventions of
Chinese facility lists (no library covers them), and the rules stay readable next to the
messages that quote them.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoplan.errors import ConfigError, InputDataError

__all__ = ["BoundaryGuess", "FacilityGuess", "InitRequest", "init_text", "inspect_areas",
           "inspect_boundary", "inspect_facilities", "parse_facility_arg", "write_init"]

#: Shares of the population aged 60+ and 80+ in China's 2020 census (18.70 %, 2.54 %):
#: the fallback written when no census table is given, to be replaced by the district's.
NATIONAL_SHARE_60 = 0.187
NATIONAL_SHARE_80 = 0.0254

_DATUM_WORDS = {
    "gcj02": ("gcj", "gcj02", "amap", "gaode", "autonavi", "mars", "tencent", "高德", "腾讯",
              "火星", "国测局"),
    "bd09": ("bd", "bd09", "bd09ll", "baidu", "百度"),
    "wgs84": ("wgs", "wgs84", "gps", "4326", "epsg4326", "天地图"),
}
_DATUM_NAMES = {"gcj02": "GCJ-02 (Amap/Tencent)", "bd09": "BD-09 (Baidu)",
                "wgs84": "WGS84 (GPS/OSM)"}
_LON_WORDS = {"lon": 2, "lng": 2, "long": 2, "longitude": 2, "x": 1}
_LAT_WORDS = {"lat": 2, "latitude": 2, "y": 1}

#: Facility type keywords (file names, category values), most specific first.
_TYPE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("care_home_small", ("care_home_small", "长者照护之家", "照护之家")),
    ("care_centre", ("care_centre", "care_center", "综合为老", "为老服务中心")),
    ("day_care", ("day_care", "daycare", "日间照料", "日间照护", "日间服务", "日托")),
    ("nursing_station", ("nursing_station", "护理站")),
    ("nursing_hospital", ("nursing_hospital", "护理院")),
    ("canteen", ("canteen", "meal", "食堂", "助餐", "餐")),
    ("doorstep_station", ("doorstep", "家门口", "服务站")),
    ("neighbourhood_centre", ("neighbourhood", "neighborhood", "睦邻中心")),
    ("health_centre", ("health_centre", "health_center", "卫生服务", "卫生院")),
    ("activity_room", ("activity_room", "活动室")),
    ("care_complex", ("care_complex", "综合体")),
    ("community_org", ("community_org", "养老服务组织", "居家养老服务")),
    ("care_home", ("care_home", "carehome", "institution", "养老院", "敬老院", "养老机构",
                   "福利院", "老年公寓")),
)

#: Attribute columns: config key -> (exact names, substrings), first match in file order.
_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "name_column": (("name", "名称", "名字", "poi_name", "title", "name_zh"), ("名称",)),
    "address_column": (("address", "addr", "地址", "详细地址"), ("地址", "address")),
    "street_column": (("street", "street_name", "街道", "所属街道", "街镇", "街道镇", "街道/镇",
                       "town"), ("街道", "街镇")),
    "district_column": (("district", "区", "区县", "所属区", "所属区县", "行政区", "county"),
                        ("所属区", "district")),
    "nursing_beds_column": (("nursing_beds",), ("护理床位", "护理型床位")),
    "beds_column": (("beds", "床位", "床位数", "核定床位"), ("床位", "beds")),
    "capacity_column": (("capacity", "容量", "餐位", "座位", "托位", "places", "seats"),
                        ("餐位", "座位", "托位", "capacity")),
    "floor_area_column": (("floor_area", "floor_area_m2", "area_m2", "面积", "建筑面积",
                           "使用面积"), ("面积",)),
    "quality_column": (("confidence", "geocode_confidence", "置信度", "可信度"),
                       ("confidence", "置信度")),
    "match_level_column": (("level", "geocode_level", "match_level", "匹配级别"),
                           ("geocode_level", "匹配级别")),
}
_NUMERIC_KEYS = ("nursing_beds_column", "beds_column", "capacity_column",
                 "floor_area_column", "quality_column")
_CATEGORY_NAMES = ("category", "category_code", "category_name", "type", "kind", "类别",
                   "类型", "分类", "设施类型", "机构类型", "服务类型")

_AREA_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "code_column": (("code", "编码", "代码", "居委会代码", "社区代码", "committee_code", "id"),
                    ("代码", "编码")),
    "name_column": (("name", "名称", "居委会", "社区", "社区名称", "居委会名称"), ("名称",)),
    "street_code_column": (("street_code", "streetcode", "街道代码", "街道编码"),
                           ("街道代码", "街道编码")),
    "street_name_column": (("street", "street_name", "街道", "所属街道", "街道名称"), ()),
    "elderly60_column": (("elderly_60", "elderly60", "60岁以上", "60岁及以上", "老年人口"),
                         ("60",)),
    "elderly80_column": (("elderly_80", "elderly80", "80岁以上", "80岁及以上"), ("80",)),
}
_CODE_COLUMNS = ("adcode", "code", "gb", "区划代码", "行政区划代码", "id")


# ---------------------------------------------------------------------------------------
# names


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().lower()


def _tokens(text: str) -> list[str]:
    """Latin words, digit runs and CJK runs of a column or file name (``lon_gcj02`` ->
    ``lon, gcj, 02``; ``GCJ02经度`` -> ``gcj, 02, 经度``)."""
    return re.findall(r"[a-z]+|[0-9]+|[\u3400-\u9fff]+", _norm(text))


def _datum_of(text: str) -> str | None:
    """The datum a column or file name hints at, or None (none or contradicting hints)."""
    toks = _tokens(text)
    words = set(toks) | {a + b for a, b in itertools.pairwise(toks)}
    found = {d for d, keys in _DATUM_WORDS.items()
             if any(k in words or (not k.isascii() and k in _norm(text)) for k in keys)}
    return found.pop() if len(found) == 1 else None


def _role(col: str) -> tuple[str, int, str] | None:
    """("lon"|"lat", strength, the name without its role word) of a coordinate column."""
    text = _norm(col)
    toks = _tokens(col)
    roles = []
    for role, words, zh in (("lon", _LON_WORDS, ("经度", "东经")),
                            ("lat", _LAT_WORDS, ("纬度", "北纬"))):
        hit = [t for t in toks if t in words]
        cjk = [z for z in zh if z in text]
        if hit or cjk:
            strength = 2 if cjk else max(words[t] for t in hit)
            rest = text
            for w in cjk or hit:
                rest = re.sub(rf"(?<![a-z]){re.escape(w)}(?![a-z])" if w.isascii() else
                              re.escape(w), "", rest, count=1)
            roles.append((role, strength, re.sub(r"[\W_]+", "", rest)))
    return roles[0] if len(roles) == 1 else None


def _match_column(columns: Sequence[str], exact: Sequence[str], parts: Sequence[str],
                  taken: set[str]) -> str | None:
    cols = [c for c in columns if c not in taken]
    for c in cols:
        if _norm(c) in exact:
            return c
    for c in cols:
        if any(p in _norm(c) for p in parts):
            return c
    return None


def _type_of(text: str) -> str | None:
    from geoplan.sources.facility_types import FACILITY_TYPES

    low = _norm(text).replace("-", "_")
    for key in FACILITY_TYPES:  # a type key in the name wins (canteens_day_care.csv: no)
        if re.search(rf"(?<![a-z]){key}(?![a-z])", low):
            return key
    for key, words in _TYPE_WORDS:
        if any((w in low) if not w.isascii() else
               re.search(rf"(?<![a-z]){w}", low) is not None for w in words):
            return key
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")


# ---------------------------------------------------------------------------------------
# inspection


@dataclass
class FacilityGuess:
    """What :func:`inspect_facilities` recognised in one facility file.

    Attributes
    ----------
    path : Path
        The file.
    columns : tuple of str
        Its columns, as read.
    rows : int
        Data rows.
    is_gis : bool
        A GIS point file (no coordinate columns needed).
    x, y : str or None
        Longitude and latitude columns.
    crs : str
        Datum ("wgs84", "gcj02", "bd09") or "EPSG:nnnn".
    crs_source : str
        Why that datum ("column names", "file name", "--crs", "" when guessed).
    type : str or None
        One facility type for the whole file, or None with ``category_column``.
    type_source : str
        Where the type came from.
    category_column, category_map : str or None
        A per-row category column and the built-in map that covers it.
    categories : list of (str, str)
        Category value -> type (``""``: not recognised) when no built-in map fits.
    attrs : dict
        Config key (``name_column``, ``beds_column`` ...) -> column.
    notes : list of str
        Things the user should check.
    """

    path: Path
    columns: tuple[str, ...]
    rows: int
    is_gis: bool = False
    x: str | None = None
    y: str | None = None
    crs: str = "gcj02"
    crs_source: str = ""
    type: str | None = None
    type_source: str = ""
    category_column: str | None = None
    category_map: str | None = None
    categories: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def parse_facility_arg(text: str) -> tuple[Path, str | None]:
    """``FILE`` or ``FILE:TYPE`` (TYPE a facility type key) -> (path, type).

    A path that exists as given is taken whole (even with a colon in it).
    """
    from geoplan.sources.facility_types import FACILITY_TYPES

    if not Path(text).exists() and ":" in text:
        head, _, tail = text.rpartition(":")
        if tail.strip() in FACILITY_TYPES:
            return Path(head), tail.strip()
        if re.fullmatch(r"[a-z_]+", tail.strip()) and head:
            raise InputDataError(f"--facilities {text}: '{tail}' is not a facility type; use "
                                 f"one of {', '.join(FACILITY_TYPES)}")
    return Path(text), None


def _numeric_share(values: Any) -> float:
    """Share of the filled cells that read as numbers (decimal or degrees-minutes-seconds)."""
    import numpy as np

    from geoplan.sources.facilities import _coordinates

    filled = values.notna().to_numpy()
    if not filled.any():
        return 0.0
    num, _ = _coordinates(values)
    return float((~np.isnan(num[filled])).mean())


def _coordinate_pair(table: Any, path: Path, lon_column: str | None,
                     lat_column: str | None) -> tuple[str, str] | None:
    """The best longitude/latitude column pair (same rest of name, same datum hint,
    explicit names over x/y, first in the file), or None when the names show none.

    Raises
    ------
    InputDataError
        Coordinate columns by name that hold no numbers (blank or text).
    """
    cols = [str(c) for c in table.columns]
    if lon_column and lat_column and lon_column in cols and lat_column in cols:
        return lon_column, lat_column
    lons, lats, empty = [], [], []
    for i, c in enumerate(cols):
        r = _role(c)
        if r is None:
            continue
        if _numeric_share(table[c]) < 0.5:
            empty.append(c)
            continue
        (lons if r[0] == "lon" else lats).append((i, c, r[1], r[2]))
    if (not lons or not lats) and empty:
        raise InputDataError(f"{path}: coordinate columns {', '.join(empty)} hold no numbers "
                             "(blank or text); geocode the addresses first, or give the "
                             "columns with --lon-column NAME --lat-column NAME")
    best: tuple[tuple[int, ...], str, str] | None = None
    for i, xc, xs, xr in lons:
        for j, yc, ys, yr in lats:
            score = (int(xr == yr), int(_datum_of(xc) == _datum_of(yc)), xs + ys, -i, -j)
            if best is None or score > best[0]:
                best = (score, xc, yc)
    return None if best is None else (best[1], best[2])


def inspect_facilities(path: Path, *, type_: str | None = None, lon_column: str | None = None,
                       lat_column: str | None = None, crs: str | None = None
                       ) -> FacilityGuess:
    """Recognise the coordinate, datum, type and attribute columns of a facility file.

    Parameters
    ----------
    path : Path
        CSV/TXT, Excel or GIS point file.
    type_ : str, optional
        The facility type of every row (``--facilities FILE:TYPE``).
    lon_column, lat_column : str, optional
        Coordinate columns to use where the file has them (``--lon-column``/``--lat-column``).
    crs : str, optional
        The datum or EPSG code of the coordinates (``--crs``), instead of a guess.

    Returns
    -------
    FacilityGuess

    Raises
    ------
    InputDataError
        Missing or unreadable file; no recognisable coordinate columns (the message lists
        the columns seen); coordinates that are not degrees and no ``crs``; no facility
        type recognisable from the file name or a category column.
    """
    import geopandas as gpd
    import numpy as np

    from geoplan.sources.facilities import _coordinates
    from geoplan.sources.facility_types import CATEGORY_MAPS, FACILITY_TYPES, category_key
    from geoplan.sources.tables import read_table

    if not path.exists():
        raise InputDataError(f"{path}: file not found (--facilities)")
    table = read_table(path)
    is_gis = isinstance(table, gpd.GeoDataFrame)
    attrs_table = table.drop(columns=table.geometry.name) if is_gis else table
    cols = tuple(str(c) for c in attrs_table.columns)
    g = FacilityGuess(path=path, columns=cols, rows=int(attrs_table.notna().any(axis=1).sum())
                      if len(cols) else len(table), is_gis=is_gis)
    if g.rows == 0 and not is_gis:
        raise InputDataError(f"{path}: no data rows below the column names "
                             f"({', '.join(cols)})")
    hint_crs = None
    if is_gis:
        if table.crs is not None and not table.crs.is_geographic and crs is None:
            code = table.crs.to_epsg()
            hint_crs = f"EPSG:{code}" if code else None
    else:
        pair = _coordinate_pair(attrs_table, path, lon_column, lat_column)
        if pair is None:
            opt = ("--lon-column/--lat-column name columns it lacks"
                   if lon_column or lat_column else "give them with --lon-column NAME "
                   "--lat-column NAME")
            raise InputDataError(f"{path}: no longitude/latitude columns recognised among its "
                                 f"columns: {', '.join(cols)}; {opt}")
        g.x, g.y = pair
        xs, _ = _coordinates(attrs_table[g.x])
        ys, _ = _coordinates(attrs_table[g.y])
        ok = np.isfinite(xs) & np.isfinite(ys)
        if not ok.any():
            raise InputDataError(f"{path}: columns '{g.x}'/'{g.y}' hold no numbers; give the "
                                 "coordinate columns with --lon-column NAME --lat-column NAME")
        mx, my = float(np.median(xs[ok])), float(np.median(ys[ok]))
        if abs(mx) <= 90 < abs(my) <= 180:
            g.x, g.y = g.y, g.x
            mx, my = my, mx
            g.notes.append(f"'{g.y}' holds longitudes and '{g.x}' latitudes (swapped names): "
                           f"x = {g.x}, y = {g.y}")
        if not (abs(mx) <= 180 and abs(my) <= 90) and crs is None:
            raise InputDataError(f"{path}: columns '{g.x}'/'{g.y}' hold projected coordinates "
                                 f"(median {mx:.0f}, {my:.0f}), not degrees; give their "
                                 "coordinate system with --crs EPSG:nnnn")
        in_china = 73 <= mx <= 136 and 3 <= my <= 54
        for c in (g.x, g.y):
            d = _datum_of(c)
            if d:
                hint_crs, g.crs_source = d, f"column name '{c}'"
                break
        if hint_crs is None and not in_china:
            hint_crs, g.crs_source = "wgs84", "outside China: no Chinese datum applies"
    if crs is not None:
        g.crs, g.crs_source = crs, "--crs"
    elif hint_crs is not None:
        g.crs = hint_crs
        g.crs_source = g.crs_source or "the file's CRS"
    elif (d := _datum_of(path.stem)) is not None:
        g.crs, g.crs_source = d, f"file name '{path.name}'"
    else:
        g.crs, g.crs_source = "gcj02", ""
        g.notes.append("datum not stated by the column or file names: gcj02 written (Chinese "
                       "map data is usually GCJ-02); check crs")

    taken = {c for c in (g.x, g.y) if c}
    for key, (exact, parts) in _COLUMNS.items():
        c = _match_column(cols, exact, parts, taken)
        if c is None or (key in _NUMERIC_KEYS and _numeric_share(attrs_table[c]) < 0.5):
            continue
        g.attrs[key] = c
        taken.add(c)

    if type_ is not None:
        g.type, g.type_source = type_, "given"
        return g
    for c in cols:  # a category column covered by a built-in map
        if c in taken or not (_norm(c) in _CATEGORY_NAMES or "类型" in c or "类别" in c):
            continue
        values = {category_key(v) for v in attrs_table[c].dropna().astype(str)} - {""}
        if not values:
            continue
        for name, mapping in CATEGORY_MAPS.items():
            known = {category_key(k) for k in mapping}
            if values <= known:
                g.category_column, g.category_map = c, name
                g.type_source = f"column '{c}' (built-in map '{name}')"
                return g
        if len(values) <= 30:
            guesses = [(v, _type_of(v) or "") for v in sorted(values)]
            if sum(bool(t) for _, t in guesses) >= max(1, len(values) // 2):
                g.category_column, g.categories = c, guesses
                g.type_source = f"column '{c}' (values matched by keyword)"
                missing = [v for v, t in guesses if not t]
                if missing:
                    g.notes.append(f"categories {', '.join(missing)} of '{c}' left out (\"\"); "
                                   "give each a type or keep them out")
                return g
    t = _type_of(path.stem)
    if t is None:
        raise InputDataError(f"{path}: facility type not recognised from the file name or a "
                             f"category column; give it as --facilities {path}:TYPE (types: "
                             f"{', '.join(FACILITY_TYPES)})")
    g.type, g.type_source = t, f"file name '{path.name}'"
    return g


@dataclass
class BoundaryGuess:
    """What :func:`inspect_boundary` found in a boundary polygon file."""

    path: Path
    polygons: int
    crs: str | None
    crs_source: str
    code: str | None = None
    code_column: str | None = None
    name: str | None = None
    name_column: str | None = None
    notes: list[str] = field(default_factory=list)


def _polygon_file(path: Path, option: str) -> tuple[Any, str | None, str]:
    """Read a polygon file (one-line errors) -> (GeoDataFrame, datum, why)."""
    import geopandas as gpd

    from geoplan.sources.boundary import read_polygons_wgs84
    from geoplan.sources.tables import read_table

    if not path.exists():
        raise InputDataError(f"{path}: file not found ({option})")
    gdf = read_table(path)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputDataError(f"{path}: {option} must be a polygon file (GeoJSON, GeoPackage or "
                             "Shapefile), not a table")
    datum = _datum_of(path.stem)
    read_polygons_wgs84(path, datum, option)  # polygons, readable coordinates
    why = f"file name '{path.name}'" if datum else ""
    return gdf, datum, why


def inspect_boundary(path: Path, *, code: str | None = None,
                     name: str | None = None) -> BoundaryGuess:
    """Check a boundary polygon file and find the column holding ``code`` / ``name``.

    Raises
    ------
    InputDataError
        Missing or unreadable file, not polygons, or no polygon with that code or name.
    """
    from geoplan.sources.boundary import polygon_keys

    gdf, datum, why = _polygon_file(path, "--boundary")
    b = BoundaryGuess(path=path, polygons=len(gdf), crs=datum, crs_source=why)
    cols = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    for value, attr, prefer in ((code, "code", _CODE_COLUMNS), (name, "name", ("name", "名称"))):
        if value is None:
            continue
        order = sorted(cols, key=lambda c: (_norm(c) not in prefer, cols.index(c)))
        hit = None
        for c in order:
            # matched as the run matches study_area.boundary_code / boundary_name
            if (polygon_keys(gdf[c]) == str(value).strip()).any():
                hit = c
                break
        if hit is None:
            raise InputDataError(f"{path}: no polygon has {attr} '{value}' in any column "
                                 f"(columns: {', '.join(cols)}; {len(gdf)} polygons)")
        setattr(b, attr, str(value).strip())
        setattr(b, f"{attr}_column", hit)
    if b.code is None and b.name is None and len(gdf) > 1:
        b.notes.append(f"{path.name} holds {len(gdf)} polygons: all of them are the study "
                       "area; pick one with --boundary-code or --boundary-name")
    if datum is None and gdf.crs is not None and gdf.crs.to_epsg() == 4326:
        b.notes.append(f"{path.name} says WGS84; files from Amap/Tencent are GCJ-02 although "
                       "they say nothing: set boundary_crs = \"gcj02\" for those")
    return b


@dataclass
class AreasGuess:
    """What :func:`inspect_areas` found in an areas (committee) polygon file."""

    path: Path
    crs: str | None
    columns: dict[str, str]
    all_columns: tuple[str, ...]


def inspect_areas(path: Path) -> AreasGuess:
    """Check an analysis-area polygon file and recognise its code, name, street and
    elderly columns.

    Raises
    ------
    InputDataError
        Missing or unreadable file, or not polygons.
    """
    gdf, datum, _ = _polygon_file(path, "--areas")
    cols = tuple(str(c) for c in gdf.columns if c != gdf.geometry.name)
    found: dict[str, str] = {}
    taken: set[str] = set()
    for key, (exact, parts) in _AREA_COLUMNS.items():
        c = _match_column(cols, exact, parts, taken)
        if c is not None:
            found[key] = c
            taken.add(c)
    return AreasGuess(path=path, crs=datum, columns=found, all_columns=cols)


# ---------------------------------------------------------------------------------------
# writing

#: Comment of each written key: English, then a short Chinese gloss.
_HELP = {
    "study_area.name": "id of the study area, names the output folder · 研究区标识（输出目录名）",
    "study_area.title_zh": "map and report title (Chinese) · 中文标题",
    "study_area.title_en": "map and report title (English) · 英文标题",
    "study_area.district_code": "6-digit division code of the district · 区县行政区划代码",
    "study_area.boundary": "study-area polygon file · 研究区边界文件",
    "study_area.boundary_crs": "datum of the boundary's coordinates · 边界坐标系",
    "study_area.boundary_code": "which polygon: its code · 按代码选取多边形",
    "study_area.boundary_code_column": "column holding the codes · 代码所在列",
    "study_area.boundary_name": "which polygon: its name · 按名称选取多边形",
    "study_area.boundary_name_column": "column holding the names · 名称所在列",
    "study_area.osm_relation": "OSM boundary relation id, read from osm_files · OSM 边界关系编号",
    "study_area.osm_name": "name of the OSM boundary relation in osm_files · OSM 行政区名称",
    "study_area.osm_admin_level":
        "its admin_level (6: district/county, 8: street/town) · 行政级别（6 区县，8 街道）",
    "paths.data_root": "folder the input paths below are relative to (relative to this "
                       "file; \"${GEOPLAN_DATA:-...}\" works) · 数据根目录",
    "network.osm_files": "OSM extracts (.osm.pbf/.osm), cut to the boundary plus the walk "
                         "buffer · OSM 路网数据",
    "walking.speed_kmh": "older people's walking speed, km/h · 老年人步行速度（公里/小时）",
    "walking.snap_max_m": "facilities farther than this from a walkable way are reported, m "
                          "· 设施距步行道最大距离（米）",
    "analysis.thresholds_min": "walking-time bands, minutes · 步行时间阈值（分钟）",
    "analysis.circle_minutes": "the service circle's walking time · 生活圈步行时间（分钟）",
    "analysis.required_types": "types every home needs within circle_minutes for a complete "
                               "circle · 生活圈必备设施类型",
    "facilities.label": "layer name in tables and maps · 图层名称",
    "facilities.path": "facility table · 设施表",
    "facilities.type": "facility type of every row · 设施类型",
    "facilities.category_column": "column giving each row's category · 分类列",
    "facilities.category_map": "built-in map of those categories to types · 内置分类映射",
    "facilities.x": "longitude column · 经度列",
    "facilities.y": "latitude column · 纬度列",
    "facilities.crs": "datum of x/y: wgs84, gcj02 (Amap/Tencent) or bd09 (Baidu) · 坐标系",
    "facilities.name_column": "facility name · 名称列",
    "facilities.address_column": "address · 地址列",
    "facilities.street_column": "street (街道) of each row · 街道列",
    "facilities.district_column": "district of each row (city-wide lists) · 区县列",
    "facilities.capacity_column": "capacity (seats/places) · 容量列",
    "facilities.beds_column": "beds · 床位列",
    "facilities.nursing_beds_column": "nursing beds · 护理床位列",
    "facilities.floor_area_column": "floor area, m² · 建筑面积列",
    "facilities.quality_column": "geocoder confidence; rows below min_quality are flagged · "
                                 "地理编码置信度",
    "facilities.min_quality": "lowest acceptable confidence · 最低置信度",
    "facilities.match_level_column": "geocoder match level · 地理编码匹配级别",
    "areas.source": "analysis areas: file (committee polygons), compounds, grid, "
                    "compounds+grid, osm_admin · 分析单元来源",
    "areas.path": "area polygon file · 分析单元边界文件",
    "areas.crs": "datum of the area polygons · 分析单元坐标系",
    "areas.code_column": "area code · 单元代码列",
    "areas.name_column": "area name · 单元名称列",
    "areas.street_code_column": "street code of each area · 街道代码列",
    "areas.street_name_column": "street name of each area · 街道名称列",
    "areas.elderly60_column": "residents aged 60+ · 60岁以上人口列",
    "areas.elderly80_column": "residents aged 80+ · 80岁以上人口列",
    "areas.grid_size_m": "grid cell size for homes outside compounds, m · 网格边长（米）",
    "population.census_file": "census table (national county table or small CSV) · 人口普查表",
    "population.district_code": "the district's row in census_file · 普查表中的区县代码",
    "population.share_60": "share of residents aged 60+ · 60岁以上人口比例",
    "population.share_80": "share of residents aged 80+ · 80岁以上人口比例",
    "output.lang": "labels of tables and maps: zh or en · 输出语言",
    "output.basemap": "web map tiles: osm, tianditu or none · 底图",
    "output.offline": "inline the map scripts (works without internet) · 离线地图",
    "output.static_map": "also a PNG/PDF map for print · 打印版地图",
}


#: Config class of each section, whose field descriptions (when the config model has them,
#: e.g. pydantic ``Field(description=...)``) give the English part of a key's comment.
_SECTION_CLASSES = {"study_area": "StudyArea", "network": "NetworkSource",
                    "walking": "WalkingProfile", "analysis": "Analysis",
                    "facilities": "FacilityLayer", "areas": "Areas", "population": "Population",
                    "output": "Output"}


def _described(section: str, key: str) -> str | None:
    """The first sentence of the config model's description of ``section.key``, if short."""
    from geoplan import config

    cls = getattr(config, _SECTION_CLASSES.get(section, ""), None)
    info = (getattr(cls, "model_fields", None) or {}).get(key)
    text = " ".join(str(getattr(info, "description", "") or "").split())
    first = first_sentence(text)
    return first if first and len(first) <= 90 else None


#: Abbreviations whose period does not end a sentence.
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "cf.", "vs.", "approx.", "incl.")


def first_sentence(text: str) -> str:
    """The first sentence (or clause ending in ``;``/``:``) of ``text``.

    A break is a ``.``, ``;`` or ``:`` followed by a space that is outside parentheses,
    brackets and quotes and does not end an abbreviation such as "e.g." or "etc.", so a
    comment never stops at "(default" or "(e.g". Text whose brackets never close is
    returned whole (cut nowhere rather than mid-way).

    Parameters
    ----------
    text : str
        One paragraph (whitespace already collapsed).

    Returns
    -------
    str
        The first sentence without its closing punctuation.
    """
    depth, quoted = 0, False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif (ch in ".;:" and not depth and not quoted and i + 1 < len(text)
              and text[i + 1].isspace()):
            head = text[:i + 1]
            word = head.rsplit(" ", 1)[-1].lower()
            if ch == "." and word.endswith(_ABBREVIATIONS):
                continue
            return head.rstrip(".;:")
    return text.rstrip(".;:")


def _help(section: str, key: str) -> str:
    """Comment of a written key: the config's own description (English) where it has one,
    else ours; with our short Chinese gloss."""
    ours = _HELP.get(f"{section}.{key}", "")
    zh = ours.partition(" · ")[2]
    desc = _described(section, key)
    if desc:
        return f"{desc} · {zh}" if zh else desc
    return ours


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    # JSON string escapes (\" \\ \n \uXXXX) are valid in TOML basic strings
    return json.dumps(str(value), ensure_ascii=False)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def comment(self, *text: str) -> None:
        self.lines.extend(f"# {t}" if t else "#" for t in text)

    def blank(self) -> None:
        self.lines.append("")

    def raw(self, line: str) -> None:
        self.lines.append(line)

    def key(self, section: str, key: str, value: Any, note: str = "") -> None:
        line = f"{key} = {_toml(value)}"
        text = _help(section, key)
        if note:
            text = (f"{note} · {text}" if note.startswith("CHECK") else f"{text}; {note}"
                    ) if text else note
        pad = max(1, 34 - _width(line))
        self.lines.append(f"{line}{' ' * pad}# {text}" if text else line)

    def suggest(self, section: str, key: str, value: Any, note: str) -> None:
        self.lines.append(f"# {key} = {_toml(value)}   # {note}")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@dataclass
class InitRequest:
    """The inputs of ``geoplan init`` (see :func:`write_init`).

    Attributes
    ----------
    out : Path
        The config file to write.
    name : str
        Display name of the district, e.g. ``"杨浦区"``.
    osm : list of Path
        OSM extracts.
    facilities : list of (Path, str or None)
        Facility files and their type when given (``FILE:TYPE``).
    study_id : str, optional
        ``study_area.name`` (letters, digits, ``-``, ``_``); default from ``name`` or ``out``.
    boundary, boundary_code, boundary_name : optional
        A boundary polygon file and which polygon.
    osm_name, osm_admin_level : optional
        The boundary relation by name and level.
    osm_relation : int, optional
        The boundary relation by id.
    areas : Path, optional
        Committee (or other area) polygons.
    census : Path, optional
        Census table; with ``district_code``.
    district_code : str, optional
        6-digit division code (default: a 6-digit ``boundary_code``).
    lon_column, lat_column, crs : str, optional
        Coordinate columns and datum for facility files whose names say nothing.
    """

    out: Path
    name: str
    osm: list[Path]
    facilities: list[tuple[Path, str | None]]
    study_id: str | None = None
    boundary: Path | None = None
    boundary_code: str | None = None
    boundary_name: str | None = None
    osm_name: str | None = None
    osm_admin_level: int = 6
    osm_relation: int | None = None
    areas: Path | None = None
    census: Path | None = None
    district_code: str | None = None
    lon_column: str | None = None
    lat_column: str | None = None
    crs: str | None = None


@dataclass
class InitResult:
    """The text written and what was recognised (for the command's summary)."""

    text: str
    facilities: list[FacilityGuess]
    boundary: BoundaryGuess | None
    areas: AreasGuess | None
    notes: list[str]


def _layer_types(g: FacilityGuess) -> list[str]:
    from geoplan.sources.facility_types import CATEGORY_MAPS

    if g.type:
        return [g.type]
    if g.category_map:
        return [t for t in dict.fromkeys(CATEGORY_MAPS[g.category_map].values()) if t]
    return [t for t in dict.fromkeys(t for _, t in g.categories) if t]


def _rel(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root``; absolute when there is no sensible common root."""
    if root is None:
        return path.resolve().as_posix()
    return Path(os.path.relpath(path.resolve(), root)).as_posix()


def _data_root(inputs: Sequence[Path]) -> Path | None:
    """The folder the input paths are written relative to: their common parent, unless
    that is the filesystem root or the home folder (inputs in unrelated places), or they
    are on different drives; then ``None`` and each path is written absolute, so the
    config does not say "data under /" and survives being moved."""
    parents = [str(p.resolve().parent) for p in inputs]
    try:
        root = Path(os.path.commonpath(parents))
    except ValueError:  # different drives (Windows)
        return None
    if root == Path(root.anchor) or root == Path.home().resolve():
        return None
    return root


def _check_osm_boundary(req: InitRequest) -> None:
    """Look ``--osm-name``/``--osm-relation`` up in the ``--osm`` files as ``geoplan run``
    does (same lookup, same one-line messages): absent, ambiguous or cut off by the
    extract's edge is refused before anything is written."""
    from geoplan.sources.osm_read import relation_by_name, relation_polygon

    files = tuple(req.osm)
    if req.osm_relation is not None:
        relation_polygon(files, int(req.osm_relation))
    elif req.osm_name is not None:
        rid = relation_by_name(files, req.osm_name, int(req.osm_admin_level))
        relation_polygon(files, rid)


def init_text(req: InitRequest) -> InitResult:
    """Inspect the inputs and compose the commented config (nothing is written).

    Raises
    ------
    InputDataError
        A missing or unreadable input, or a facility file whose columns are not recognised.
    ConfigError
        Bad options (a study id that cannot name a folder, conflicting boundary options).
    """
    from geoplan.sources.facility_types import FACILITY_TYPES

    if sum(x is not None for x in (req.boundary, req.osm_name, req.osm_relation)) > 1:
        raise ConfigError("give one of --boundary, --osm-name or --osm-relation")
    if (req.boundary_code or req.boundary_name) and req.boundary is None:
        raise ConfigError("--boundary-code/--boundary-name pick a polygon of --boundary, "
                          "which is not given")
    if not req.osm:
        raise ConfigError("give the OSM extract with --osm FILE.osm.pbf")
    if not req.facilities:
        raise ConfigError("give at least one facility table with --facilities FILE")
    if bool(req.lon_column) != bool(req.lat_column):
        raise ConfigError("--lon-column and --lat-column go together")
    if req.crs is not None and not (req.crs.lower() in ("wgs84", "gcj02", "bd09") or
                                    re.fullmatch(r"(?i)epsg:\d{4,6}", req.crs)):
        raise ConfigError(f"--crs '{req.crs}': use wgs84, gcj02, bd09 or an EPSG code such "
                          "as EPSG:32651")
    for p in req.osm:
        if not p.is_file():
            raise InputDataError(f"{p}: file not found (--osm)")
    if req.census is not None and not req.census.is_file():
        raise InputDataError(f"{req.census}: file not found (--census)")
    sid = req.study_id or _slug(req.name) or _slug(req.out.stem) or "study-area"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", sid):
        raise ConfigError(f"--id '{sid}': use letters, digits, '-', '_' (it names the output "
                          "folder)")

    boundary = (inspect_boundary(req.boundary, code=req.boundary_code, name=req.boundary_name)
                if req.boundary is not None else None)
    _check_osm_boundary(req)
    guesses = []
    for path, t in req.facilities:
        guesses.append(inspect_facilities(path, type_=t, lon_column=req.lon_column,
                                          lat_column=req.lat_column, crs=req.crs))
    for opt, col in (("--lon-column", req.lon_column), ("--lat-column", req.lat_column)):
        if col and not any(col in g.columns for g in guesses):
            raise InputDataError(f"{opt} '{col}' is not a column of any facility file")
    areas = inspect_areas(req.areas) if req.areas is not None else None

    district = req.district_code or (req.boundary_code if req.boundary_code and
                                     re.fullmatch(r"\d{6}", req.boundary_code) else None)
    if req.census is not None and not district:
        raise ConfigError("--census needs --district-code (the district's 6-digit code, e.g. "
                          "310110)")
    inputs = [*req.osm, *(p for p, _ in req.facilities)]
    inputs += [p for p in (req.boundary, req.areas, req.census) if p is not None]
    root = _data_root(inputs)
    out_dir = req.out.resolve().parent
    root_text = None if root is None else Path(os.path.relpath(root, out_dir)).as_posix() if (
        os.path.splitdrive(str(root))[0] == os.path.splitdrive(str(out_dir))[0]) else str(root)

    w = _Writer()
    w.comment(f"geoplan config for {req.name}: 15-minute elder-care service circle "
              "(15分钟养老服务圈).",
              "Written by `geoplan init`: check the lines marked CHECK, then run",
              f"`geoplan run {req.out.name}`. Every key: docs/config.md (配置说明).")
    w.blank()
    w.raw("[study_area]")
    w.key("study_area", "name", sid)
    has_cjk = re.search(r"[\u3400-\u9fff]", req.name) is not None
    w.key("study_area", "title_zh" if has_cjk else "title_en",
          f"{req.name} 15分钟养老服务圈" if has_cjk else
          f"{req.name}: 15-minute elder-care circle")
    if district:
        w.key("study_area", "district_code", district)
    if boundary is not None:
        w.key("study_area", "boundary", _rel(boundary.path, root))
        if boundary.crs:
            w.key("study_area", "boundary_crs", boundary.crs,
                  f"from the {boundary.crs_source}")
        else:
            w.suggest("study_area", "boundary_crs", "gcj02",
                      "CHECK: unset reads the file's own CRS; gcj02 for Amap-derived files")
        if boundary.code is not None:
            w.key("study_area", "boundary_code", boundary.code)
            w.key("study_area", "boundary_code_column", boundary.code_column)
        if boundary.name is not None:
            w.key("study_area", "boundary_name", boundary.name)
            w.key("study_area", "boundary_name_column", boundary.name_column)
    elif req.osm_relation is not None:
        w.key("study_area", "osm_relation", int(req.osm_relation))
    elif req.osm_name is not None:
        w.key("study_area", "osm_name", req.osm_name)
        w.key("study_area", "osm_admin_level", int(req.osm_admin_level))
    else:
        w.comment("No boundary given: the study area is the OSM files' extent. Set boundary "
                  "= \"file.geojson\" or osm_relation = <id>.")
    w.blank()
    w.raw("[paths]")
    if root_text is None:
        w.comment("The inputs are in unrelated folders: their paths below are absolute "
                  "(set data_root and shorten them if you move the data together).")
    else:
        w.key("paths", "data_root", root_text)
    w.blank()
    w.raw("[network]")
    w.key("network", "osm_files", [_rel(p, root) for p in req.osm])
    w.blank()
    w.raw("[walking]")
    w.key("walking", "speed_kmh", 3.6, "planning value")
    w.key("walking", "snap_max_m", 300)
    w.blank()
    w.raw("[analysis]")
    w.key("analysis", "thresholds_min", [5, 10, 15])
    w.key("analysis", "circle_minutes", 15)
    types = [t for g in guesses for t in _layer_types(g)]
    # the circle's everyday services (docs/domain.md) among the types at hand
    everyday = [t for t in ("canteen", "day_care", "care_centre", "doorstep_station",
                            "community_org") if t in types] or types[:1]
    w.key("analysis", "required_types", everyday, "CHECK: the services of your plan")

    notes: list[str] = []
    labels: set[str] = set()
    for g in guesses:
        w.blank()
        w.raw("[[facilities]]")
        w.comment(f"{g.path.name}: {g.rows} rows; columns: {', '.join(g.columns)}")
        label = g.path.stem
        k = 2
        while label in labels:
            label, k = f"{g.path.stem}-{k}", k + 1
        labels.add(label)
        w.key("facilities", "label", label)
        if g.type:
            ft = FACILITY_TYPES[g.type]
            w.key("facilities", "type", g.type, f"{ft.name_zh}; from the {g.type_source}"
                  if g.type_source != "given" else ft.name_zh)
        w.key("facilities", "path", _rel(g.path, root))
        if g.x and g.y:
            w.key("facilities", "x", g.x)
            w.key("facilities", "y", g.y)
        checked = bool(g.crs_source)
        w.key("facilities", "crs", g.crs, f"from the {g.crs_source}" if checked and
              g.crs_source != "--crs" else "CHECK: Chinese map data is usually GCJ-02 "
              "(Amap/Tencent); Baidu is bd09, GPS/OSM wgs84 · 请核对坐标系"
              if not checked else "")
        for key, col in g.attrs.items():
            if key == "quality_column":
                w.suggest("facilities", key, col, "geocoder confidence found: uncomment with "
                          "min_quality = 50 to flag weak geocodes · 地理编码置信度")
            elif key == "match_level_column":
                w.suggest("facilities", key, col, "geocoder match level found: uncomment with "
                          "bad_match_levels = [\"地产小区\"] · 匹配级别")
            else:
                w.key("facilities", key, col)
        if "name_column" not in g.attrs:
            # the loader needs a name column (default "name"): the address, else the first
            # other column, named as a guess
            other = [c for c in g.columns if c not in (g.x, g.y)]
            col = g.attrs.get("address_column") or (other[0] if other else g.x)
            w.key("facilities", "name_column", col, "CHECK: no name column recognised")
        if g.category_column:
            w.key("facilities", "category_column", g.category_column,
                  f"a type per row; from the {g.type_source}")
            if g.category_map:
                w.key("facilities", "category_map", g.category_map)
            else:
                w.raw("[facilities.categories]")
                w.comment("category -> facility type (\"\": left out) · 类别 -> 设施类型; types: "
                          + ", ".join(FACILITY_TYPES))
                for value, t in g.categories:
                    w.raw(f"{_toml(value)} = {_toml(t)}" + ("" if t else
                                                             "   # CHECK: not recognised"))
        notes += [f"{g.path.name}: {n}" for n in g.notes]

    w.blank()
    w.raw("[areas]")
    if areas is not None:
        w.key("areas", "source", "file")
        w.key("areas", "path", _rel(areas.path, root))
        if areas.crs:
            w.key("areas", "crs", areas.crs, "from the file name")
        for key in _AREA_COLUMNS:
            col = areas.columns.get(key)
            if col is not None:
                w.key("areas", key, col)
            elif key in ("code_column", "name_column"):
                w.key("areas", key, key.removesuffix("_column"),
                      f"CHECK: not recognised among {', '.join(areas.all_columns)}")
    else:
        w.key("areas", "source", "compounds+grid", "no area file: OSM residential compounds "
              "(小区) plus a grid for homes outside them")
        w.key("areas", "grid_size_m", 300)

    w.blank()
    w.raw("[population]")
    if req.census is not None:
        w.key("population", "census_file", _rel(req.census, root))
        w.key("population", "district_code", district)
    else:
        w.key("population", "share_60", NATIONAL_SHARE_60, "CHECK: China's 2020 census "
              "share; use the district's (or census_file with district_code)")
        w.key("population", "share_80", NATIONAL_SHARE_80, "CHECK: likewise")
        notes.append("population: national 2020 census shares written (share_60 = 0.187); "
                     "give the district's with --census FILE --district-code CODE")

    w.blank()
    w.raw("[output]")
    w.key("output", "lang", "zh")
    w.key("output", "basemap", "osm")
    w.key("output", "offline", True)
    w.key("output", "static_map", True)
    if boundary is not None:
        notes += boundary.notes
    return InitResult(text=w.text(), facilities=guesses, boundary=boundary, areas=areas,
                      notes=notes)


def _validate(text: str, out: Path, osm_name: bool) -> None:
    """Load the composed text with the config loader (as ``geoplan run`` will)."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    from geoplan.config import config_from_dict

    raw = tomllib.loads(text)
    base = out.resolve().parent
    try:
        config_from_dict(raw, base_dir=base, source_file=out.resolve())
    except ConfigError as exc:
        # osm_name/osm_admin_level are new keys: a loader that predates them is not a
        # reason to refuse the file; everything else is still checked without them.
        if not (osm_name and ("osm_name" in str(exc) or "osm_admin_level" in str(exc))):
            raise
        sa = {k: v for k, v in raw["study_area"].items()
              if k not in ("osm_name", "osm_admin_level")}
        config_from_dict({**raw, "study_area": sa}, base_dir=base, source_file=out.resolve())


def write_init(req: InitRequest, *, force: bool = False) -> InitResult:
    """Write the commented config of :func:`init_text` to ``req.out``, validated first.

    Parameters
    ----------
    req : InitRequest
        The inputs.
    force : bool, default False
        Overwrite an existing file.

    Raises
    ------
    ConfigError
        ``req.out`` exists (without ``force``) or is a folder.
    InputDataError
        As :func:`init_text`.
    """
    out = req.out
    if out.is_dir():
        raise ConfigError(f"{out} is a folder; give the path of the config file to write "
                          "(e.g. district.toml)")
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; give --force to overwrite it")
    res = init_text(req)
    _validate(res.text, out, req.osm_name is not None)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(res.text, encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return res
