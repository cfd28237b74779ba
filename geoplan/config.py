"""Typed configuration for a geoplan study area, read from one TOML file.

The config is defined as frozen pydantic models: every setting has a description, a
default, its unit and its range (``Field`` constraints, from one :class:`Range` per numeric
setting), so the same definitions validate a TOML file or an API dict, give the JSON Schema
of ``geoplan config --schema`` (completion in TOML editors) and docs/config.md
(``scripts/gen_config_docs.py``). Unknown keys, wrong types, bad values and missing input
files are reported as one-line :class:`~geoplan.errors.ConfigError` messages that name the
setting (pydantic's errors are translated, see :func:`_one_line`); every number is finite
and within its range before any work starts (TOML accepts ``nan`` and ``inf``). Code
downstream receives frozen models with attribute access, never raw dicts.

Path rules
----------
* ``[paths] data_root`` is resolved against the folder of the config file. It may use
  environment variables with defaults, e.g. ``"${GEOPLAN_DATA:-../../shared/data/yangpu-demo}"``.
* Input files (OSM, facilities, areas, census ...) are resolved against ``data_root``
  unless absolute.
* Output folders are resolved against the current working directory.

Adding a setting
----------------
Declare it on its table's model: a number with ``_num(default, Range(lo, hi, advice=...),
"description", "unit")`` (the Range gives its constraints, its schema bounds and its
messages; tests/test_bad_inputs_config.py walks it with bad values), anything else with
``_opt(default, "description", unit=..., choices=...)``; a rule across settings goes into
:func:`_validate`. Then run ``python scripts/gen_config_docs.py`` (a test fails on a stale
docs/config.md or a setting without a description).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import sys
import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from geoplan.configbase import (
    ACCESS_METHODS,
    AREA_SOURCES,
    BASEMAPS,
    CANDIDATE_BUILDINGS,
    COORDINATE_SYSTEMS,
    DEFAULT_CROSSING_ROADS,
    DEFAULT_ELEVATED_HIGHWAYS,
    DEFAULT_WALKABLE_HIGHWAYS,
    DEMAND_WEIGHTS,
    ELDERLY_LEVELS,
    EQUITY_LEVELS,
    LANGUAGES,
    LOW_QUALITY_ACTIONS,
    MISSING_SUPPLY,
    SITING_METHODS,
    SITING_MODELS,
    SPEED_80_RATIO,
    SUPPLY_ATTRIBUTES,
    Range,
)
from geoplan.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "ACCESS_METHODS", "AREA_SOURCES", "BASEMAPS", "CANDIDATE_BUILDINGS", "COORDINATE_SYSTEMS",
    "DEFAULT_CROSSING_ROADS", "DEFAULT_ELEVATED_HIGHWAYS", "DEFAULT_WALKABLE_HIGHWAYS",
    "DEMAND_WEIGHTS", "ELDERLY_LEVELS", "EQUITY_LEVELS", "LANGUAGES", "LOADER_DEFAULTS",
    "LOW_QUALITY_ACTIONS", "MISSING_SUPPLY", "NUMERIC_RANGES", "SITING_METHODS", "SITING_MODELS",
    "SPEED_80_RATIO", "SUPPLY_ATTRIBUTES", "Accessibility", "Analysis", "Areas", "Candidates",
    "Config", "ConfigFile", "FacilityLayer", "GapIndex", "Join", "Link1N", "NetworkSource",
    "Output", "Paths", "Population", "Range", "ReportedStock", "Scenario", "Standards",
    "StudyArea", "TypeCount", "WalkingProfile", "check_numbers", "config_from_dict",
    "config_schema", "load_config", "numeric_fields", "range_of", "replace", "validate_scenario",
]

# ------------------------------------------------------------------ value types
#
# The models are strict (no silent conversion of "3.6" to a number or of true to 1); the
# few conversions a TOML file needs are explicit here: a whole float is a whole number
# (1e4 in TOML is a float), a number is text where text is meant (codes such as 310110
# written without quotes), a list is a tuple, and text is a path, expanded and resolved.


def _bad(text: str) -> PydanticCustomError:
    """A validation error whose one-line message is ``text`` with ``{where}`` filled in."""
    return PydanticCustomError("geoplan", "{text}", {"text": text})


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(value: str, where: str) -> str:
    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if os.environ.get(name):
            return os.environ[name]
        if default is None:
            raise ConfigError(f"{where}: environment variable {name} is not set and has no "
                              f"default; set it or write '${{{name}:-DEFAULT}}'")
        return default

    return _ENV.sub(repl, value)


def _path(base_key: str) -> Any:
    """Validator of a path setting: text, ``${VAR:-default}`` expanded, made absolute
    against the folder the validation context gives under ``base_key`` (none: kept)."""

    def check(value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, Path):  # from Python (API, tests): the same rules as text
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise _bad(f"{{where}}: expected a file path (text), got {value!r}")
        try:
            p = Path(_expand(value, "{where}")).expanduser()
        except ConfigError as exc:
            raise _bad(str(exc)) from None
        base = (info.context or {}).get(base_key)
        return p if p.is_absolute() or base is None else Path(base) / p

    return check


def _listed(n: int | None = None, hint: str = "") -> Any:
    """Validator of a list setting: a TOML array (list) becomes a tuple."""

    def check(value: Any) -> Any:
        if isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, tuple):
            if hint:
                raise _bad(f"{{where}} must be {hint}")
            raise _bad(f"{{where}}: expected a list, got {type(value).__name__} {value!r}")
        if n is not None and len(value) != n:
            raise _bad(f"{{where}}: expected {n} values, got {len(value)}")
        return value

    return check


def _categories(value: Any) -> Any:
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return tuple((str(k), v) for k, v in value.items())
    if isinstance(value, tuple):
        return value
    raise _bad("{where} must be a table of category -> facility type, e.g. "
               "[facilities.categories] 1 = \"care_home\"")


def _each(tp: Any, rng: Range) -> Any:
    """``tp`` limited to ``rng`` (finite), for the elements of a list setting."""
    return Annotated[tp, Field(allow_inf_nan=False, **rng.bounds())]


Int = Annotated[int, BeforeValidator(_whole)]
Text = Annotated[str, BeforeValidator(_text)]
InPath = Annotated[Path, BeforeValidator(_path("data_root"))]
OutPath = Annotated[Path, BeforeValidator(_path("cwd"))]
Texts = Annotated[tuple[Text, ...], BeforeValidator(_listed())]
InPaths = Annotated[tuple[InPath, ...], BeforeValidator(_listed())]
Categories = Annotated[
    tuple[tuple[str, str], ...], BeforeValidator(_categories),
    WithJsonSchema({"type": "object", "additionalProperties": {"type": "string"},
                    "description": "category code or name -> facility type key"})]


def _num(default: Any, rng: Range, description: str, unit: str | None = None,
         *, each: bool = False) -> Any:
    """A numeric field: finite, within ``rng`` (each element for a list), with its unit.

    The Range itself is kept in the field's metadata: :data:`NUMERIC_RANGES` and the
    one-line messages are read from it, so the range is written once.
    """
    extra: dict[str, Any] = {"unit": unit} if unit else {}
    kwargs: dict[str, Any] = {} if each else {"allow_inf_nan": False, **rng.bounds()}
    info = Field(default, description=description, json_schema_extra=extra or None, **kwargs)
    info.metadata.append(rng)
    return info


def _opt(default: Any, description: str, unit: str | None = None,
         choices: tuple[str, ...] | None = None, **kwargs: Any) -> Any:
    """A non-numeric field with its description (and unit, or the allowed values)."""
    extra: dict[str, Any] = {}
    if unit:
        extra["unit"] = unit
    if choices:
        extra["enum"] = list(choices)
    if isinstance(default, type):  # a table (model) of its own: a fresh default each time
        kwargs["default_factory"] = default
    else:
        kwargs["default"] = default
    return Field(description=description, json_schema_extra=extra or None, **kwargs)


class _Section(BaseModel):
    """A table of the TOML file: frozen, strict, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


_M = TypeVar("_M", bound=BaseModel)


def replace(obj: _M, where: str = "", **changes: Any) -> _M:
    """A copy of config model ``obj`` with ``changes``, validated (like
    :func:`dataclasses.replace`).

    Parameters
    ----------
    obj : BaseModel
        A config model (e.g. ``cfg.output``).
    where : str, optional
        The setting's prefix in messages (e.g. ``"output"``).
    **changes
        Field values.

    Raises
    ------
    ConfigError
        One line naming the setting when a new value is not allowed.
    """
    data = {k: getattr(obj, k) for k in type(obj).model_fields}
    data.update(changes)
    return _validated(type(obj), data, where)


# ------------------------------------------------------------------ numeric ranges

_POS = {"lo": 0.0, "lo_open": True}
_MINUTES = Range(0, 120, lo_open=True, advice="walking minutes (more than 120 min is not a "
                                              "walking catchment)")
_SHARE = Range(0, 1, advice="a share, e.g. 0.25 for 25 %")
_STOCK = Range(0, 1e8, advice="a district total (beds, places or m²)")
_COUNT = Range(0, 5e8, advice="persons")
_DEGREES = Range(-180, 180, advice="[west, south, east, north] in WGS84 degrees")
_WEIGHTS = Range(0, 1, advice="distance-decay weights from 1 (nearest zone) down, e.g. "
                              "[1.0, 0.68, 0.22]")
_SEED_MAX = 2**32 - 1
Minutes = _each(float, _MINUTES)
MinutesList = Annotated[tuple[Minutes, ...], BeforeValidator(_listed())]


# ------------------------------------------------------------------ the sections

_CRS_HELP = ("\"wgs84\", \"gcj02\" (Amap, Tencent), \"bd09\" (Baidu) or an EPSG code such as "
             "\"EPSG:32651\"")


class StudyArea(_Section):
    """Name and titles of the study area, and optionally its boundary polygon.

    ``boundary`` is a polygon file (e.g. the district polygons of a city); ``boundary_code``
    or ``boundary_name`` picks one polygon by ``boundary_code_column`` / ``boundary_name_column``.
    ``boundary_crs`` declares the datum of its coordinates ("wgs84", "gcj02", "bd09" or
    "EPSG:nnnn"; default: the file's own CRS): Amap-derived files are GCJ-02 although they
    say nothing. Instead of a file, ``osm_relation`` takes the boundary relation of that
    id from ``network.osm_files`` themselves, or ``osm_name`` with ``osm_admin_level`` the
    ``boundary=administrative`` relation of that level whose ``name``, ``name:zh``,
    ``name:en`` or ``official_name`` is that name (e.g. "杨浦区" at level 6). Without any
    of these the study area is the OSM files' extent.

    With a boundary (file or relation) local ``osm_files`` of any size (a city or province
    extract) are cut while read to the boundary plus the walking buffer (the longest walk
    of the analysis at the profile speed plus ``walking.snap_max_m``).
    """

    name: Text = _opt(..., "Short name of the study area (letters, digits, '-', '_', '.'); "
                           "it names the output folder and files.")
    title_zh: Text = _opt("", "Chinese title of maps and reports (default: the name).")
    title_en: Text = _opt("", "English title of maps and reports (default: the name).")
    district_code: Text | None = _opt(None, "6-digit division code of the district (e.g. "
                                            "\"310110\" for Yangpu); default of "
                                            "standards.district_code.")
    boundary: InPath | None = _opt(None, "Polygon file of the study boundary (relative to "
                                         "data_root); OSM files are cut to it.")
    boundary_crs: Text | None = _opt(None, f"Datum of the boundary file's coordinates: "
                                           f"{_CRS_HELP} (default: the file's own CRS).")
    boundary_code: Text | None = _opt(None, "Picks the boundary polygon whose "
                                            "boundary_code_column has this value.")
    boundary_name: Text | None = _opt(None, "Picks the boundary polygon whose "
                                            "boundary_name_column has this value.")
    boundary_code_column: Text = _opt("adcode", "Column of the boundary file holding the "
                                                "division codes.")
    boundary_name_column: Text = _opt("name", "Column of the boundary file holding the names.")
    osm_relation: Int | None = _num(None, Range(-2**53, 2**53, advice="the id of a boundary "
                                                                     "relation in osm_files"),
                                    "Id of an OSM boundary relation in network.osm_files "
                                    "taken as the study boundary (instead of a file).")
    osm_name: Text | None = _opt(None, "Name of the OSM boundary relation (name, name:zh, "
                                       "name:en or official_name) in network.osm_files taken "
                                       "as the study boundary, e.g. \"杨浦区\"; with "
                                       "osm_admin_level.")
    osm_admin_level: Int | None = _num(None, Range(1, 11, advice="OSM admin_level of the "
                                                              "boundary named by osm_name: 6 "
                                                              "for a district 区/县, 8 for a "
                                                              "street 街道/镇"),
                                       "OSM admin_level of the boundary named by osm_name "
                                       "(6: district 区/县, 8: street 街道/镇).")

    def title(self, lang: str) -> str:
        """The map and report title in ``lang`` ("zh" or "en"), else the name."""
        return (self.title_zh if lang == "zh" else self.title_en) or self.name


class Paths(_Section):
    """Where the input data are."""

    data_root: Text = _opt("${GEOPLAN_DATA:-.}",
                           "Folder the input files are relative to, itself relative to the "
                           "config file's folder; may use environment variables with "
                           "defaults, e.g. \"${GEOPLAN_DATA:-../data}\".")


class NetworkSource(_Section):
    """Where the walking network comes from: local OSM files or a download.

    Exactly one of ``osm_files``, ``place``, ``polygon`` or ``bbox`` is set.
    ``bbox`` is ``[west, south, east, north]`` in WGS84 degrees. ``osm_files`` may be
    ``.osm.pbf``, ``.osm``, ``.osm.gz`` or ``.osm.bz2`` (told apart by content); they
    are cut while read to the study area (``[study_area] boundary`` or ``osm_relation``)
    plus the walking buffer.
    """

    osm_files: InPaths = _opt((), "Local OSM files (.osm.pbf, .osm, .osm.gz, .osm.bz2), "
                                  "relative to data_root.")
    place: Text | None = _opt(None, "Place name to download the network for with osmnx "
                                    "(e.g. \"Yangpu District, Shanghai, China\").")
    polygon: InPath | None = _opt(None, "Polygon file whose area is downloaded with osmnx.")
    bbox: Annotated[tuple[_each(float, _DEGREES), _each(float, _DEGREES),
                          _each(float, _DEGREES), _each(float, _DEGREES)],
                    BeforeValidator(_listed(4))] | None = _num(
        None, _DEGREES, "Box to download: [west, south, east, north].", "degrees", each=True)
    min_boundary_coverage: float = _num(
        0.95, Range(0, 1, advice="a share, e.g. 0.95 for 95 %"),
        "Least share of the study boundary's area that the osm_files' extent must cover; "
        "below it the run stops (a figure for the whole boundary would be computed on part "
        "of it), between it and 1 a warning is logged.", "share")

    @property
    def is_download(self) -> bool:
        """True when the network is downloaded with osmnx rather than read from files."""
        return not self.osm_files


class WalkingProfile(_Section):
    """How older people walk: speed, penalties and which ways are walkable.

    The walking policy on top of ``walkable_highways`` (see
    :func:`geoplan.network.walkgraph.walk_policy`): ``exclude_motorroad`` leaves out
    ``motorroad=yes`` ways, motorways and their links; ``exclude_elevated`` leaves out
    bridges and tunnels of the ``elevated_highways`` classes that have no sidewalk
    tagged, except bridge runs shorter than ``elevated_min_length_m`` (a ground-level
    street crossing a creek). ``foot=yes``/``designated`` always keeps a way.

    ``speed_kmh`` is the 60+ speed; ``speed_80_kmh`` the 80+ speed, by default
    ``speed_kmh × SPEED_80_RATIO`` (0.74, see :data:`SPEED_80_RATIO`). Every 80+ figure is
    computed at the 80+ speed from the same walking times (a second cutoff, not a second
    graph).

    ``crossing_delay_s`` is the time added for crossing a major road at grade (waiting
    for a signal or a gap), paid at the network's crossing nodes: intersections of the
    ``crossing_roads`` classes and mapped crossings and signals (see
    :func:`geoplan.network.walkgraph.crossing_nodes`). Default 0 (off): in Chinese cities
    OSM's crossing and signal mapping is uneven, and the 15-minute planning rule does not
    state waiting time, so use it as a sensitivity setting (e.g. 30 s). The 80+ and
    speed-band figures scale whole walking times, the delay included (an approximation:
    30 s counts as about 40 s at the 80+ speed).
    """

    speed_kmh: float = _num(3.6, Range(0.5, 10, advice="km/h; other speeds are implausible "
                                                       "(3.6 km/h is the usual planning value "
                                                       "for older people)"),
                            "Walking speed of people aged 60+.", "km/h")
    speed_80_kmh: float | None = _num(None, Range(0.3, 10, advice="km/h of people aged 80+ "
                                                                  "(default: speed_kmh × "
                                                                  "0.74)"),
                                      "Walking speed of people aged 80+ (default: speed_kmh "
                                      "× 0.74, Bohannon & Andrews 2011).", "km/h")
    steps_factor: float = _num(2.0, Range(1, 10, advice="a time multiplier for steps "
                                                        "(e.g. 2)"),
                               "Time multiplier on steps (highway=steps).", "×")
    walkable_highways: Texts = _opt(DEFAULT_WALKABLE_HIGHWAYS,
                                    "OSM highway=* values a pedestrian may use.")
    snap_max_m: float = _num(300.0, Range(**_POS, hi=2000,
                                          advice="metres from a home or facility to the "
                                                 "nearest walkable way (e.g. 300)"),
                             "Farthest a home or facility may be from the nearest walkable "
                             "way to be placed on the network.", "m")
    exclude_motorroad: bool = _opt(True, "Leave out motorroad=yes ways, motorways and their "
                                         "links.")
    exclude_elevated: bool = _opt(True, "Leave out bridges and tunnels of elevated_highways "
                                        "without a tagged sidewalk.")
    elevated_highways: Texts = _opt(DEFAULT_ELEVATED_HIGHWAYS,
                                    "Carriageway classes the elevated/tunnel rule applies to.")
    elevated_min_length_m: float = _num(60.0, Range(0, 5000, advice="metres; bridge runs "
                                                                    "shorter than this are "
                                                                    "kept"),
                                        "Bridge runs shorter than this are kept (a street "
                                        "crossing a creek).", "m")
    crossing_delay_s: float = _num(0.0, Range(0, 300, advice="seconds of waiting per "
                                                             "major-road crossing (0: off; "
                                                             "e.g. 30 as a sensitivity "
                                                             "setting)"),
                                   "Waiting time added per at-grade crossing of a major road "
                                   "(0: off; e.g. 30 as a sensitivity setting).", "s")
    crossing_roads: Texts = _opt(DEFAULT_CROSSING_ROADS,
                                 "Major-road classes whose at-grade crossings cost "
                                 "crossing_delay_s.")

    @property
    def speed_mps(self) -> float:
        """Walking speed in metres per second."""
        return self.speed_kmh / 3.6

    @property
    def speed_80(self) -> float:
        """The 80+ walking speed in km/h (set, or derived with :data:`SPEED_80_RATIO`)."""
        return self.speed_80_kmh if self.speed_80_kmh is not None else \
            self.speed_kmh * SPEED_80_RATIO

    @property
    def slow80(self) -> float:
        """How much longer a walk takes at the 80+ speed (60+ speed / 80+ speed)."""
        return self.speed_kmh / self.speed_80


class Analysis(_Section):
    """Catchment thresholds and the definition of a complete service circle."""

    thresholds_min: MinutesList = _num((5.0, 10.0, 15.0), _MINUTES,
                                       "Walking times of the catchments reported per facility "
                                       "type.", "min", each=True)
    circle_minutes: float = _num(15.0, _MINUTES, "Walking time within which every required "
                                                 "type makes a complete service circle.", "min")
    required_types: Texts = _opt((), "Facility types a complete circle needs (default: none "
                                     "listed, circle figures left out).")
    walk_in_m: float = _num(40.0, Range(0, 500, advice="metres walked from the street into "
                                                       "a compound (e.g. 40)"),
                            "Distance walked from the street into a compound.", "m")
    seed: Int = _num(20240930, Range(0, _SEED_MAX, advice="any whole number >= 0"),
                     "Random seed (k-means candidate sites), recorded in the manifest, for "
                     "repeatable runs.")
    sensitivity: bool = _opt(True, "Also report the circle share at ±20 % walking speed and "
                                   "at the 80+ speed.")

    @property
    def max_minutes(self) -> float:
        """Largest time any step needs (largest threshold or circle time)."""
        return max((*self.thresholds_min, self.circle_minutes))


class FacilityLayer(_Section):
    """One facility table: file, columns and coordinate system.

    A layer holds one facility ``type``, or, with ``category_column``, one type per row
    through a category map: a built-in one named by ``category_map`` (e.g.
    ``"shanghai-eldercare-map"``) and/or ``[facilities.categories]`` entries
    (category code or name -> type key; ``""`` leaves a category out on purpose).
    Geocoder quality: rows whose ``quality_column`` is below ``min_quality`` or whose
    ``match_level_column`` is one of ``bad_match_levels`` are flagged (``low_quality =
    "flag"``, kept and marked) or dropped (``"drop"``), and reported either way; a blank
    confidence is unknown, not low, and is not flagged.
    ``filter_column`` / ``filter_values``: only rows whose column holds one of the values
    are read (e.g. ``district`` = ``["杨浦区"]`` in a city-wide list), the others are left
    out of the analysis and of the inventory that planning standards count. Facilities of
    a neighbouring district within walking reach then no longer count as supply either.
    ``district_column``: the column naming each row's district (name or division code) in a
    list that spans several districts; every row stays supply for walking, but planning
    standards count only the rows of ``[standards] district_name``/``district_code``.
    ``same_place_m``: a row of this layer within this many metres of a row of the same type
    from an earlier layer is the same facility under another name (two lists of the same
    canteens): reported as a duplicate, the earlier row kept. 0 (default): only the same
    name within 30 m is a duplicate.
    """

    path: InPath = _opt(..., "The facility table (CSV, XLSX, GeoJSON, GPKG ...), relative to "
                             "data_root.")
    type: Text = _opt("", "Facility type of every row (e.g. \"canteen\"), unless "
                          "category_column is set.")
    label: Text = _opt("", "Name of the layer in reports and joins (default: the file name "
                           "without extension).")
    has_coordinates: bool = _opt(True, "False for a table without coordinates (addresses "
                                       "only, to geocode): its rows are reported, not "
                                       "placed.")
    x: Text | None = _opt("lon", "Column of the longitude (or easting).")
    y: Text | None = _opt("lat", "Column of the latitude (or northing).")
    crs: Text = _opt("wgs84", f"Datum of the coordinates: {_CRS_HELP}.")
    name_column: Text | None = _opt("name", "Column of the facility names.")
    address_column: Text | None = _opt(None, "Column of the addresses.")
    street_column: Text | None = _opt(None, "Column of the street (街道) of each row.")
    district_column: Text | None = _opt(None, "Column naming each row's district (name or "
                                              "code) in a list spanning several districts.")
    same_place_m: float = _num(0.0, Range(0, 200, advice="metres within which a same-type row "
                                                         "of an earlier layer is the same "
                                                         "facility, e.g. 30"),
                               "A row within this distance of a same-type row of an earlier "
                               "layer is a duplicate (0: only the same name within 30 m).", "m")
    capacity_column: Text | None = _opt(None, "Column of the places (persons served).")
    beds_column: Text | None = _opt(None, "Column of the beds.")
    nursing_beds_column: Text | None = _opt(None, "Column of the nursing beds.")
    floor_area_column: Text | None = _opt(None, "Column of the floor area (m²).")
    public_column: Text | None = _opt(None, "Column telling public (公办) from private "
                                            "facilities.")
    public_values: Texts = _opt(("公办", "公建公营", "public", "yes", "true", "1", "是"),
                                "Values of public_column that mean public.")
    sheet: Text | None = _opt(None, "Sheet of a workbook (default: the first).")
    encoding: Text | None = _opt(None, "Text encoding of a CSV (default: detected; e.g. "
                                       "\"gbk\").")
    category_column: Text | None = _opt(None, "Column of each row's category, mapped to a "
                                              "facility type by category_map/categories.")
    category_map: Text | None = _opt(None, "Built-in category map, e.g. "
                                           "\"shanghai-eldercare-map\".")
    categories: Categories = _opt((), "Category code or name -> facility type key (\"\" "
                                      "leaves the category out), as a [facilities.categories] "
                                      "table.")
    quality_column: Text | None = _opt(None, "Column of the geocoder's confidence (0-100).")
    min_quality: float | None = _num(None, Range(0, 100, advice="geocoder confidence (0-100) "
                                                                "below which a row is "
                                                                "flagged, e.g. 50"),
                                     "Confidence below which a row is flagged or dropped.")
    match_level_column: Text | None = _opt(None, "Column of the geocoder's match level.")
    bad_match_levels: Texts = _opt((), "Match levels flagged or dropped (e.g. [\"地产小区\"]).")
    low_quality: Text = _opt("flag", "What to do with low-quality rows: keep and mark "
                                     "(\"flag\") or \"drop\".", choices=LOW_QUALITY_ACTIONS)
    filter_column: Text | None = _opt(None, "Only rows whose filter_column holds one of "
                                            "filter_values are read.")
    filter_values: Texts = _opt((), "Values of filter_column to keep (e.g. [\"杨浦区\"]).")

    def category_types(self) -> dict[str, str]:
        """Category (compared as :func:`~geoplan.sources.facility_types.category_key`) ->
        type key (``""``: left out on purpose); empty for a single-type layer."""
        from geoplan.sources.facility_types import CATEGORY_MAPS, category_key

        if self.category_column is None:
            return {}
        out = {category_key(k): v for k, v in
               CATEGORY_MAPS.get(self.category_map or "", {}).items()}
        out.update({category_key(k): v for k, v in self.categories})
        return out

    @property
    def types(self) -> tuple[str, ...]:
        """The facility types this layer can hold, in map order, without repeats."""
        if self.category_column is None:
            return (self.type,)
        return tuple(dict.fromkeys(t for t in self.category_types().values() if t))


class Join(_Section):
    """Attach columns of another table to a facility layer by name (and street).

    For lists that share no id, e.g. planned beds per institution from a plan's table.
    ``layer`` is the label of the ``[[facilities]]`` layer; ``name_column`` (and
    ``street_column``) are the keys in ``path``; ``columns`` are attached as they are,
    ``beds_column`` (and capacity/nursing_beds/floor_area) fill the facility attribute
    where the layer has none. Names are compared exact, normalised (legal forms,
    brackets, widths, ``strip_prefixes`` such as ["上海市", "杨浦区"]) and fuzzy
    (score >= ``min_score``, 0-100); see :mod:`geoplan.sources.joins`.
    """

    layer: Text = _opt(..., "Label of the [[facilities]] layer to attach to.")
    path: InPath = _opt(..., "The table to attach, relative to data_root.")
    name: Text = _opt("", "Name of the join in reports.")
    name_column: Text = _opt("name", "Column of the names matched to the layer's names.")
    street_column: Text | None = _opt(None, "Column of the streets, matched too when set.")
    columns: Texts = _opt((), "Columns attached as they are.")
    capacity_column: Text | None = _opt(None, "Column filling the places where the layer has "
                                              "none.")
    beds_column: Text | None = _opt(None, "Column filling the beds where the layer has none.")
    nursing_beds_column: Text | None = _opt(None, "Column filling the nursing beds where the "
                                                  "layer has none.")
    floor_area_column: Text | None = _opt(None, "Column filling the floor area (m²) where the "
                                                "layer has none.")
    min_score: float = _num(90.0, Range(0, 100, advice="fuzzy name similarity (0-100), e.g. "
                                                       "90"),
                            "Least fuzzy name similarity (0-100) of a match.")
    strip_prefixes: Texts = _opt((), "Prefixes removed before names are compared (e.g. "
                                     "[\"上海市\", \"杨浦区\"]).")
    sheet: Text | None = _opt(None, "Sheet of a workbook (default: the first).")
    encoding: Text | None = _opt(None, "Text encoding of a CSV (default: detected).")


class Areas(_Section):
    """Analysis areas: a committee polygon file, OSM residential compounds, or a grid.

    ``source = "osm_admin"`` takes the boundary relations of ``admin_level`` (8: streets
    街道/镇; 9-10: committees 社区/居委会 where mapped) from the OSM files; codes come from
    ``admin_codes`` (a table with ``osm_relation_id`` and ``code``/``code_12``) or the
    relations' ``ref:NBS``/``ref`` tags.
    """

    source: Text = _opt("compounds+grid", "Where the areas come from: a polygon \"file\", OSM "
                                          "residential \"compounds\", a \"grid\", both, or "
                                          "OSM admin boundaries (\"osm_admin\").",
                        choices=AREA_SOURCES)
    path: InPath | None = _opt(None, "Polygon file of the areas (source = \"file\"), e.g. "
                                     "residents' committees.")
    code_column: Text = _opt("code", "Column of the area codes (12-digit committee codes "
                                     "roll up to streets).")
    name_column: Text = _opt("name", "Column of the area names.")
    street_code_column: Text | None = _opt(None, "Column of each area's street code.")
    street_name_column: Text | None = _opt(None, "Column of each area's street name.")
    elderly60_column: Text | None = _opt(None, "Column of the residents aged 60+ per area "
                                               "(else estimated).")
    elderly80_column: Text | None = _opt(None, "Column of the residents aged 80+ per area.")
    grid_size_m: float = _num(300.0, Range(50, 5000, advice="metres per grid cell (e.g. 300)"),
                              "Side of a grid cell.", "m")
    min_compound_m2: float = _num(2000.0, Range(0, 1e6, advice="m² below which a residential "
                                                               "landuse polygon is ignored "
                                                               "(e.g. 2000)"),
                                  "Residential landuse polygons smaller than this are "
                                  "ignored.", "m²")
    streets_file: InPath | None = _opt(None, "Polygon file of the streets (街道), for the "
                                             "per-street roll-up.")
    crs: Text | None = _opt(None, f"Datum of the polygon file's coordinates: {_CRS_HELP} "
                                  "(default: the file's own CRS).")
    admin_level: Int = _num(8, Range(4, 11, advice="8 for streets (街道/镇) or 9-10 for "
                                                   "committees (社区/居委会)"),
                            "OSM admin_level of the areas (source = \"osm_admin\").")
    admin_codes: InPath | None = _opt(None, "Table of osm_relation_id and code giving the "
                                            "division codes of OSM admin areas.")


class Population(_Section):
    """How elderly counts are estimated where committee counts are missing.

    ``census_file``: the national county table of the 2020 census
    (``census_county_2020_v1.xlsx``, any district of China by its 6-digit
    ``district_code``) or a small CSV (``adcode, pop_total, pop_60plus, pop_80plus``).
    The user's own ``share_60``/``share_80``, or counts ``elderly_60``/``elderly_80``
    (divided by ``residents`` or the census residents), override the census figures.
    """

    census_file: InPath | None = _opt(None, "Census table (2020 county table or a CSV of "
                                             "adcode, pop_total, pop_60plus, pop_80plus).")
    district_code: Text | None = _opt(None, "6-digit division code of the district in the "
                                            "census table (e.g. \"310110\").")
    share_60: float | None = _num(None, _SHARE, "Share of residents aged 60+ (overrides the "
                                                "census).", "share")
    share_80: float | None = _num(None, _SHARE, "Share of residents aged 80+ (overrides the "
                                                "census).", "share")
    residents: float | None = _num(None, Range(0, 5e8, advice="residents of the district "
                                                              "(persons)"),
                                   "Residents of the district (divides elderly_60/80).",
                                   "persons")
    elderly_60: float | None = _num(None, Range(0, 5e8, advice="residents aged 60+ (persons)"),
                                    "Residents aged 60+ of the district.", "persons")
    elderly_80: float | None = _num(None, Range(0, 5e8, advice="residents aged 80+ (persons)"),
                                    "Residents aged 80+ of the district.", "persons")
    m2_per_resident: float = _num(36.0, Range(5, 500, advice="floor area per resident in m² "
                                                             "(e.g. 36)"),
                                  "Residential floor area per resident.", "m²")
    default_levels: float = _num(6.0, Range(1, 200, advice="storeys of a building without a "
                                                           "levels tag (e.g. 6)"),
                                 "Storeys of a building without a levels tag.", "storeys")
    default_far: float = _num(1.8, Range(**_POS, hi=20, advice="floor-area ratio of a "
                                                               "compound without mapped "
                                                               "buildings (e.g. 1.8)"),
                              "Floor-area ratio of a compound without mapped buildings.")
    min_building_m2: float = _num(30.0, Range(0, 1e5, advice="m² below which a building is "
                                                             "ignored (e.g. 30)"),
                                  "Buildings smaller than this are ignored.", "m²")


class Output(_Section):
    """Where results go, in which language, and how the maps are drawn.

    ``basemap``: ``"osm"``, ``"tianditu"`` (key from ``tianditu_key`` or the
    ``TIANDITU_KEY`` environment variable) or ``"none"``. ``offline`` (default true):
    inline every script and stylesheet in the HTML maps and the report, from the vendored
    files (false: link them from public CDNs, as folium does). ``embed``: also write an
    ``<iframe srcdoc>`` fragment for report pages. ``static_map``: also write a PNG and
    PDF map for print.
    ``map_score``: the area column the maps are coloured by when they open (default
    ``circle_share``; any numeric column of the areas table, e.g. ``gap_index``,
    ``canteen_share_15`` or ``acc_canteen_count_2sfca``; checked once the analysis has run).
    ``map_detail_limit``: features the detailed web map would draw (areas + facilities +
    per-facility catchments) above which it draws aggregated layers instead (areas by score
    with simplified outlines, one merged catchment per type, light facility markers), so a
    whole-city map stays small and quick to open; the GeoPackage keeps every detail.
    0 = always aggregated.
    """

    dir: OutPath = _opt(..., "Folder of the data outputs, relative to the working folder "
                             "(default: data/processed/<study_area.name>).")
    maps_dir: OutPath = _opt(Path("maps"), "Folder of the HTML maps.")
    cache_dir: OutPath = _opt(Path("data/processed/cache"), "Folder of the prepared-network "
                                                            "cache.")
    lang: Text = _opt("zh", "Language of labels, maps and reports.", choices=LANGUAGES)
    basemap: Text = _opt("osm", "Base map of the web maps (\"none\": no tiles, no network "
                                "use).", choices=BASEMAPS)
    tianditu_key: Text = _opt("", "Tianditu browser key (or the TIANDITU_KEY environment "
                                  "variable) for basemap = \"tianditu\".")
    offline: bool = _opt(True, "Inline every script and stylesheet in the HTML maps (false: "
                               "link public CDNs).")
    embed: bool = _opt(False, "Also write an <iframe srcdoc> fragment for report pages.")
    static_map: bool = _opt(True, "Also write a PNG and PDF map for print.")
    map_score: Text = _opt("circle_share", "Area column the maps are coloured by when they "
                                           "open (e.g. gap_index).")
    map_detail_limit: Int = _num(2000, Range(0, 1e9, advice="features (areas + facilities + "
                                                            "per-facility catchments) above "
                                                            "which the web map is aggregated, "
                                                            "e.g. 2000 (0: always aggregated)"),
                                 "Features the detailed web map would draw (areas + "
                                 "facilities + per-facility catchments) above which it draws "
                                 "aggregated layers instead (0: always aggregated).",
                                 "features")

    @model_validator(mode="after")
    def _check(self) -> Output:
        if not re.fullmatch(r"[A-Za-z0-9_]+", self.map_score):
            raise ConfigError(f"output.map_score = '{self.map_score}': give a column name "
                              "of the areas table, e.g. 'circle_share' or 'gap_index'")
        if self.basemap not in BASEMAPS:
            raise ConfigError(f"output.basemap = '{self.basemap}': use one of "
                              f"{', '.join(BASEMAPS)}")
        key = self.tianditu_key or os.environ.get("TIANDITU_KEY", "")
        if self.basemap == "tianditu" and not key:
            raise ConfigError("output.basemap = 'tianditu' needs a Tianditu key: set "
                              "output.tianditu_key or the TIANDITU_KEY environment variable "
                              "(free browser key from console.tianditu.gov.cn)")
        if self.basemap == "tianditu" and not re.fullmatch(r"[A-Za-z0-9]+", key):
            raise ConfigError("output.tianditu_key (or TIANDITU_KEY) must be letters and "
                              "digits only, as issued by console.tianditu.gov.cn")
        return self


class ReportedStock(_Section):
    """District-level stock given directly (e.g. from a plan's table), by metric."""

    beds: float | None = _num(None, _STOCK, "Beds of the district.", "beds")
    nursing_beds: float | None = _num(None, _STOCK, "Nursing beds of the district.", "beds")
    floor_area_m2: float | None = _num(None, _STOCK, "Floor area of the district's "
                                                     "facilities.", "m²")
    capacity: float | None = _num(None, _STOCK, "Places of the district.", "places")
    source: Text = _opt("", "Where the figures come from (shown in the report).")

    def as_dict(self) -> dict[str, float]:
        """The metrics that are set."""
        return {k: v for k, v in (("beds", self.beds), ("nursing_beds", self.nursing_beds),
                                  ("floor_area_m2", self.floor_area_m2),
                                  ("capacity", self.capacity)) if v is not None}


class Standards(_Section):
    """Which planning standards to check, and the populations they are computed from.

    ``profile`` is a built-in profile id (``shanghai-yangpu-2016``, ``hangzhou-xihu-2016``)
    or the path of a profile TOML (relative to the config file). Elderly counts come from
    ``elderly_total`` (district) and/or ``elderly_file`` (per street or per committee,
    rolled up to streets by the first nine digits of the 12-digit committee code);
    committee counts per street from ``committees_file`` (an admin table with ``code`` and
    ``streetCode``/``street_code``). With ``residents_column`` the file gives residents
    (all ages), and each street's elderly are estimated as residents × the district's 60+
    census share ([population]), labelled as estimates.
    """

    profile: Text = _opt("shanghai-yangpu-2016", "Built-in profile id (shanghai-yangpu-2016, "
                                                 "hangzhou-xihu-2016) or a profile TOML "
                                                 "(relative to the config file).")
    only: Texts = _opt((), "Standard ids to check (default: all of the profile).")
    district_code: Text | None = _opt(None, "Division code of the district (default: "
                                            "study_area.district_code).")
    district_name: Text = _opt("", "Name of the district (e.g. \"杨浦区\"), to pick its rows "
                                   "by facilities' district_column.")
    elderly_total: float | None = _num(None, Range(**_POS, hi=1e8,
                                                   advice="the district's elderly (e.g. "
                                                          "431700)"),
                                       "Elderly of the district the standards are computed "
                                       "from.", "persons")
    elderly_basis: Text = _opt("", "What elderly_total counts (e.g. \"60+ registered, "
                                   "2023\"), shown in the report.")
    elderly_file: InPath | None = _opt(None, "Table of elderly per street or committee.")
    elderly_level: Text = _opt("street", "Rows of elderly_file: \"street\" or "
                                         "\"committee\".", choices=ELDERLY_LEVELS)
    elderly_code_column: Text | None = _opt("code", "Column of the codes in elderly_file.")
    elderly_name_column: Text | None = _opt(None, "Column of the names in elderly_file.")
    elderly_column: Text = _opt("elderly", "Column of the elderly counts in elderly_file.")
    residents_column: Text | None = _opt(None, "Column of residents (all ages) instead: "
                                               "elderly estimated with the census share.")
    committees_file: InPath | None = _opt(None, "Admin table of committees (code, "
                                                "street_code) giving committees per street.")
    reported: ReportedStock = _opt(ReportedStock, "District-level stock given directly "
                                                  "([standards.reported]).")


class Accessibility(_Section):
    """Capacity-aware accessibility (2SFCA / E2SFCA) of facility types.

    Supply is the facilities' ``supply`` attribute; facilities without it get the median of
    the known ones (``missing_supply = "median"``; with none known, each counts as 1),
    count as 1 (``"count"``) or stop the run (``"error"``). Results are in supply per
    ``per`` elderly (places per 1,000 by default).
    """

    types: Texts = _opt((), "Facility types to compute (default: all configured).")
    methods: Texts = _opt(ACCESS_METHODS, "Methods: 2sfca, e2sfca_step, e2sfca_gaussian.")
    catchment_min: float | None = _num(None, _MINUTES, "Catchment of the 2SFCA (default: "
                                                       "analysis.circle_minutes).", "min")
    step_minutes: MinutesList = _num((), _MINUTES, "Upper bounds of the E2SFCA zones "
                                                   "(default: three equal zones).", "min",
                                     each=True)
    step_weights: Annotated[tuple[_each(float, _WEIGHTS), ...],
                            BeforeValidator(_listed())] = _num(
        (1.0, 0.68, 0.22), _WEIGHTS, "Distance-decay weight of each E2SFCA zone.", each=True)
    gaussian_sigma_min: float | None = _num(None, _MINUTES, "Width of the Gaussian decay "
                                                            "(default: catchment / 2).", "min")
    supply: Text = _opt("capacity", "Facility attribute used as supply.",
                        choices=SUPPLY_ATTRIBUTES)
    missing_supply: Text = _opt("median", "Supply of facilities without it: the known "
                                          "median, 1 (\"count\") or stop (\"error\").",
                                choices=MISSING_SUPPLY)
    per: float = _num(1000.0, Range(1, 1e6, advice="results are per this many elderly "
                                                   "(e.g. 1000)"),
                      "Results are supply per this many elderly.", "persons")
    weight: Text = _opt("elderly_60", "Demand: elderly_60 or elderly_80.",
                        choices=DEMAND_WEIGHTS)


class GapIndex(_Section):
    """Weights of the composite gap index and the accessibility it uses."""

    uncovered: float = _num(0.5, Range(0, 100, advice="a relative weight (e.g. 0.5)"),
                            "Weight of the uncovered share.")
    access: float = _num(0.3, Range(0, 100, advice="a relative weight (e.g. 0.3)"),
                         "Weight of low accessibility.")
    standards: float = _num(0.2, Range(0, 100, advice="a relative weight (e.g. 0.2)"),
                            "Weight of failed planning standards.")
    access_method: Text = _opt("e2sfca_step", "Accessibility method the index uses.",
                               choices=ACCESS_METHODS)
    access_reference: float | None = _num(None, Range(**_POS, hi=1e6,
                                                      advice="supply per accessibility.per "
                                                             "elderly"),
                                          "Accessibility that counts as enough (default: the "
                                          "study area's population-weighted mean).")


class Candidates(_Section):
    """Where candidate sites for new facilities come from (any combination).

    ``file``: points or polygons (CSV with x/y columns, GeoJSON, GPKG); polygons are
    represented by a point inside them. ``clusters``: that many k-means centres of the
    demand left uncovered (weighted by elderly). ``buildings``: street-facing
    non-residential OSM buildings. ``grid_m``: one network node per grid cell of this size.
    Candidates within ``exclude_existing_m`` of an existing facility of the same type are
    never proposed.
    """

    file: InPath | None = _opt(None, "Candidate sites (points or polygons), relative to "
                                     "data_root.")
    x: Text | None = _opt("lon", "Column of the longitude in a CSV.")
    y: Text | None = _opt("lat", "Column of the latitude in a CSV.")
    crs: Text = _opt("wgs84", f"Datum of the coordinates: {_CRS_HELP}.")
    name_column: Text | None = _opt("name", "Column of the site names.")
    cost_column: Text | None = _opt(None, "Column of each site's cost (for budget).")
    capacity_column: Text | None = _opt(None, "Column of each site's places.")
    sheet: Text | None = _opt(None, "Sheet of a workbook (default: the first).")
    encoding: Text | None = _opt(None, "Text encoding of a CSV (default: detected).")
    clusters: Int = _num(0, Range(0, 10000, advice="number of k-means candidate sites "
                                                   "(0 = none)"),
                         "Number of k-means centres of the uncovered demand (0: none).",
                         "sites")
    buildings: bool = _opt(False, "Street-facing non-residential OSM buildings are "
                                  "candidates.")
    building_values: Texts = _opt(CANDIDATE_BUILDINGS, "OSM building=* values taken as "
                                                       "candidate buildings.")
    street_facing_m: float = _num(30.0, Range(0, 500, advice="metres from a building to a "
                                                             "street (e.g. 30)"),
                                  "Farthest a candidate building may be from a street.", "m")
    grid_m: float = _num(0.0, Range(0, 10000, advice="metres per candidate grid cell "
                                                     "(0 = none, e.g. 200)"),
                         "One network node per grid cell of this size (0: none).", "m")
    exclude_existing_m: float = _num(50.0, Range(0, 5000, advice="metres around existing "
                                                                 "facilities (e.g. 50)"),
                                     "Candidates this close to an existing facility of the "
                                     "same type are never proposed.", "m")


class TypeCount(_Section):
    """One facility type's part of a multi-type scenario."""

    type: Text = _opt(..., "Facility type.")
    new: Int = _num(..., Range(1, 10000, advice="number of new sites of this type"),
                    "Number of new sites of this type.", "sites")
    cutoff_min: float | None = _num(None, _MINUTES, "Walking time that counts as covered "
                                                    "(default: the type's catchment).", "min")
    weight: float = _num(1.0, Range(0, 100, advice="a relative weight (e.g. 1)"),
                         "Relative weight of this type's coverage.")


class Link1N(_Section):
    """The 1+N rule: each new ``station`` within ``max_min`` of a ``centre``."""

    station: Text = _opt(..., "Facility type of the stations (the N).")
    centre: Text = _opt(..., "Facility type of the centres (the 1).")
    max_min: float = _num(15.0, _MINUTES, "Longest walk from a station to its centre.", "min")


class Scenario(_Section):
    """A named siting question: which model, how many sites or which target, candidates."""

    name: Text = _opt(..., "Name of the scenario (unique; names its outputs).")
    model: Text = _opt(..., "Siting model.", choices=SITING_MODELS)
    type: Text = _opt("", "Facility type to site (model \"multi\": see plans).")
    new: Int = _num(0, Range(0, 10000, advice="number of new sites"),
                    "Number of new sites.", "sites")
    target: float = _num(0.95, Range(0, 1, lo_open=True, advice="a coverage share, e.g. 0.95 "
                                                                "for 95 %"),
                         "Coverage share to reach (model \"lscp\").", "share")
    cutoff_min: float | None = _num(None, _MINUTES, "Walking time that counts as covered "
                                                    "(default: the type's catchment).", "min")
    capacity: float | None = _num(None, Range(1, 1e6, advice="places (persons) per new site, "
                                                             "e.g. 40, not below one person"),
                                  "Places per new site (model \"cmclp\").", "persons")
    existing_capacity: float | None = _num(None, Range(0, 1e6, advice="places per existing "
                                                                      "facility without a "
                                                                      "capacity"),
                                           "Places of an existing facility without a "
                                           "capacity.", "persons")
    weight: Text = _opt("elderly_60", "Demand: elderly_60 or elderly_80.",
                        choices=DEMAND_WEIGHTS)
    method: Text = _opt("auto", "Solver: exact (HiGHS), heuristic, or auto by size.",
                        choices=SITING_METHODS)
    time_limit_s: float = _num(300.0, Range(**_POS, hi=7 * 86400, advice="solver seconds "
                                                                         "(e.g. 300)"),
                               "Solver time limit.", "s")
    mip_gap: float = _num(1e-4, Range(0, 1, hi_open=True, advice="a relative gap, e.g. 1e-4"),
                          "Relative optimality gap at which the solver stops.")
    budget: float | None = _num(None, Range(**_POS, hi=1e15,
                                            advice="total cost of the new sites, in the unit "
                                                   "of candidates.cost_column"),
                                "Total cost of the new sites (unit of "
                                "candidates.cost_column).")
    min_spacing_m: float | None = _num(None, Range(**_POS, hi=20000,
                                                   advice="metres between new sites (e.g. "
                                                          "300)"),
                                       "Least distance between new sites.", "m")
    penalty_min: float | None = _num(None, Range(**_POS, hi=240,
                                                 advice="minutes counted for elderly beyond "
                                                        "reach (p-median)"),
                                     "Minutes counted for elderly beyond reach (p-median).",
                                     "min")
    curve_max: Int = _num(0, Range(0, 10000, advice="sites on the coverage curve "
                                                    "(0 = automatic)"),
                          "Sites on the coverage curve (0: automatic).", "sites")
    floor: float | None = _num(None, Range(0, 1, lo_open=True,
                                           advice="the share every area must reach, e.g. 0.6 "
                                                  "for 60 %"),
                               "Share every area must reach (model \"floors\").", "share")
    equity_weight: float = _num(0.0, Range(0, 1e6, advice="weight of the areas' covered "
                                                          "shares against total coverage (0 "
                                                          "= plain MCLP)"),
                                "Weight of the areas' covered shares against total coverage "
                                "(model \"wmclp\"; 0: plain MCLP).")
    equity_level: Text = _opt("area", "Units of the equity figures: \"area\" or \"street\".",
                              choices=EQUITY_LEVELS)
    candidates: Candidates = _opt(Candidates, "Where candidate sites come from "
                                              "([scenarios.candidates]).")
    plans: Annotated[tuple[TypeCount, ...],
                     BeforeValidator(_listed(hint="an array of tables: "
                                                  "[[scenarios.plans]]"))] = _opt(
        (), "Types and counts of a multi-type scenario ([[scenarios.plans]]).")
    link: Link1N | None = _opt(None, "The 1+N rule of a multi-type scenario "
                                     "([scenarios.link]).")


#: Defaults the loader derives from other settings (the model has no fixed value).
LOADER_DEFAULTS: dict[tuple[str, str], str] = {
    ("Output", "dir"): "data/processed/<study_area.name>"}


class Config(_Section):
    """A complete, validated study-area configuration (what the code downstream receives).

    Built by :func:`load_config` / :func:`config_from_dict` from the TOML sections
    (:class:`ConfigFile`), with ``data_root`` resolved and the source kept.
    """

    study_area: StudyArea
    network: NetworkSource
    walking: WalkingProfile
    analysis: Analysis
    facilities: tuple[FacilityLayer, ...]
    areas: Areas
    population: Population
    output: Output
    data_root: Path
    scenarios: tuple[Scenario, ...] = ()
    standards: Standards | None = None
    accessibility: Accessibility | None = None
    gap_index: GapIndex | None = None
    source_file: Path | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)
    joins: tuple[Join, ...] = ()

    @property
    def facility_types(self) -> tuple[str, ...]:
        """Facility type keys in config order, without repeats."""
        return tuple(dict.fromkeys(t for layer in self.facilities for t in layer.types))


class ConfigFile(_Section):
    """A geoplan study-area config: the tables of one TOML file.

    The definition behind ``geoplan config --schema`` (JSON Schema for TOML editors) and
    docs/config.md; :func:`config_from_dict` validates each table with its model.
    """

    study_area: StudyArea = _opt(..., "Name, titles and boundary of the study area.")
    paths: Paths = _opt(Paths, "Where the input data are.")
    network: NetworkSource = _opt(NetworkSource, "Where the walking network comes from.")
    walking: WalkingProfile = _opt(WalkingProfile, "How older people walk.")
    analysis: Analysis = _opt(Analysis, "Catchments and the complete service circle.")
    facilities: tuple[FacilityLayer, ...] = _opt(..., "Facility tables, one [[facilities]] "
                                                      "entry per file (at least one).")
    areas: Areas = _opt(Areas, "Analysis areas.")
    population: Population = _opt(Population, "How elderly counts are estimated.")
    output: Output | None = _opt(None, "Where results go and how maps are drawn (every key "
                                        "has a default).")
    scenarios: tuple[Scenario, ...] = _opt((), "Siting scenarios, one [[scenarios]] entry "
                                               "each.")
    standards: Standards | None = _opt(None, "Planning standards to check.")
    accessibility: Accessibility | None = _opt(None, "Capacity-aware accessibility "
                                                     "(2SFCA / E2SFCA).")
    gap_index: GapIndex | None = _opt(None, "Weights of the composite gap index.")
    joins: tuple[Join, ...] = _opt((), "Tables attached to facility layers by name, one "
                                       "[[joins]] entry each.")


# ------------------------------------------------------------------ numeric ranges
#
# Every number in the config is checked against its Range, declared once on the field
# (:func:`_num`): pydantic enforces it, :data:`NUMERIC_RANGES` lists it, messages quote it.
# TOML accepts ``nan`` and ``inf`` literals, so "finite" is part of every range. A numeric
# field without a Range is a programming error (``TypeError`` below), and
# tests/test_bad_inputs_config.py walks every numeric field of every config model, so a
# new field cannot go unchecked.

def _is_number_type(tp: Any) -> bool:
    """True for float/int hints, also inside ``X | None``, ``Annotated`` and tuples."""
    if tp in (float, int):
        return True
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _is_number_type(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType, tuple):
        return any(_is_number_type(a) for a in typing.get_args(tp) if a is not Ellipsis)
    return False


def _models(cls: type[BaseModel] = ConfigFile) -> list[type[BaseModel]]:
    """``cls`` and every config model inside it, depth first, without repeats."""
    out: list[type[BaseModel]] = [cls]
    for info in cls.model_fields.values():
        inner = _inner_model(info.annotation)
        if inner is not None and inner not in out:
            out += [m for m in _models(inner) if m not in out]
    return out


def _inner_model(tp: Any) -> type[BaseModel] | None:
    """The config model inside a hint (``X``, ``X | None``, ``tuple[X, ...]``), if any."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def numeric_fields(cls: type) -> tuple[str, ...]:
    """Names of the numeric fields (float/int, optional or tuples of them) of ``cls``
    (a config model, or a dataclass such as a standards profile's
    :class:`~geoplan.analysis.standards.Standard`)."""
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        return tuple(f.name for f in dataclasses.fields(cls) if _is_number_type(hints[f.name]))
    return tuple(name for name, info in cls.model_fields.items()
                 if _is_number_type(info.annotation))


def _field_range(cls: type[BaseModel], name: str) -> Range:
    found = [m for m in cls.model_fields[name].metadata if isinstance(m, Range)]
    if not found:  # programming error: every numeric field is declared with _num()
        raise TypeError(f"config field {cls.__name__}.{name} has no Range (declare it "
                        "with _num)")
    return found[0]


#: (model name, field) -> allowed range, read from the field definitions. For a tuple
#: field, the range of each element.
NUMERIC_RANGES: dict[tuple[str, str], Range] = {
    (cls.__name__, name): _field_range(cls, name)
    for cls in _models() for name in numeric_fields(cls)}


def range_of(cls: type, name: str) -> Range:
    """The allowed range of numeric field ``name`` of config model ``cls``."""
    try:
        return NUMERIC_RANGES[(cls.__name__, name)]
    except KeyError:  # programming error: every numeric field needs a range
        raise TypeError(f"config field {cls.__name__}.{name} has no entry in "
                        "NUMERIC_RANGES") from None


def check_numbers(obj: Any, where: str, sep: str = ".") -> None:
    """Check every numeric field of config model ``obj`` against its range.

    Parameters
    ----------
    obj : BaseModel
        A config object (e.g. :class:`Scenario` after command-line overrides).
    where : str
        The setting's prefix in messages, e.g. ``"scenarios[0]"``.
    sep : str, default "."
        Between ``where`` and the field name.

    Raises
    ------
    ConfigError
        For the first value that is not finite or out of range, naming the setting.
    """
    for name in numeric_fields(type(obj)):
        value = getattr(obj, name)
        if value is None:
            continue
        rng = range_of(type(obj), name)
        items = enumerate(value) if isinstance(value, tuple) else [(None, value)]
        for i, v in items:
            key = f"{where}{sep}{name}" + ("" if i is None else f"[{i}]")
            msg = rng.message(key, v)
            if msg is not None:
                raise ConfigError(msg)


# ------------------------------------------------------------------ one-line messages

_TYPE_WORDS = {"float_type": "a number", "int_type": "a whole number",
               "int_from_float": "a whole number", "string_type": "text",
               "bool_type": "true or false"}
_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal",
                 "finite_number")


def _where(loc: tuple[Any, ...]) -> str:
    """``("scenarios", 0, "new")`` -> ``"scenarios[0].new"``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The config model that holds the setting at ``loc`` (relative to ``cls``)."""
    for part in loc:
        if isinstance(part, str) and part in cls.model_fields:
            inner = _inner_model(cls.model_fields[part].annotation)
            if inner is None:
                break
            cls = inner
    return cls


def _one_line(exc: ValidationError, cls: type[BaseModel], prefix: tuple[Any, ...]) -> str:
    """Today's one-line message for the first problem pydantic found (an unknown key of
    the same table first: a misspelt key also shows up as a missing one)."""
    errors = exc.errors(include_url=False)
    err = errors[0]
    unknown = [e for e in errors if e["type"] == "extra_forbidden"
               and e["loc"][:-1] == err["loc"][:-1]]
    if unknown and err["type"] == "missing":
        err = unknown[0]
    loc, kind, value = tuple(err["loc"]), err["type"], err.get("input")
    where = _where(prefix + loc)
    if kind == "geoplan":
        return str(err["ctx"]["text"]).replace("{where}", where)
    if kind in ("extra_forbidden", "missing"):
        table = _where(prefix + loc[:-1])
        if kind == "missing":
            return f"[{table}] missing required key '{loc[-1]}'"
        names = ", ".join(_model_at(cls, loc[:-1]).model_fields)
        return f"[{table}] unknown key '{loc[-1]}'; allowed keys: {names}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return (f"[{where}] must be a table of settings, got {type(value).__name__} "
                f"{value!r}; write the keys below a [{where}] line (or as {{key = value}})")
    if kind in _TYPE_WORDS:
        return f"{where}: expected {_TYPE_WORDS[kind]}, got {value!r}"
    if kind in ("tuple_type", "list_type"):
        return f"{where}: expected a list, got {type(value).__name__} {value!r}"
    if kind in _RANGE_ERRORS:
        name = next(p for p in reversed(loc) if isinstance(p, str))
        holder = _model_at(cls, loc[:loc.index(name)])
        msg = range_of(holder, name).message(where, value)
        if msg is not None:
            return msg
    return f"{where}: {err['msg']}"  # pragma: no cover - a kind not seen in a config yet


def _validated(cls: type[_M], data: Any, where: str, **context: Any) -> _M:
    """Validate one table with its model; pydantic's errors become one ConfigError line.

    Parameters
    ----------
    cls : type
        The config model.
    data : Any
        The table (a dict from TOML, or field values).
    where : str
        Where the table sits, e.g. ``"scenarios[0]"`` (the prefix of every message).
    **context
        Folders the paths are resolved against: ``data_root`` (inputs), ``cwd`` (outputs).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"[{where}] must be a table of settings, got "
                          f"{type(data).__name__} {data!r}; write the keys below a "
                          f"[{where}] line (or as {{key = value}})")
    prefix = tuple(int(p) if p.isdigit() else p
                   for p in re.findall(r"[^.\[\]]+", where)) if where else ()
    try:
        return cls.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, cls, prefix)) from None


_SCHEMA_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum",
                  "lt": "exclusiveMaximum"}


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a config file (``geoplan config --schema``).

    For TOML editors (e.g. Even Better TOML / taplo, which read a ``#:schema`` line or a
    schema association): each key has its description (with the unit), default and
    range; TOML has no null, so optional keys are plain types; tables that have defaults
    are not required.

    Returns
    -------
    dict
        JSON Schema (draft 2020-12).
    """
    schema = ConfigFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "geoplan study-area config"
    schema["required"] = ["study_area", "facilities"]
    out_def = schema["$defs"]["Output"]
    out_def["required"] = [k for k in out_def.get("required", []) if k != "dir"]
    for model in [schema, *schema["$defs"].values()]:
        model["description"] = model.get("description", "").replace("``", "`")
        for key, prop in model.get("properties", {}).items():
            options = prop.pop("anyOf", None)
            if options is not None:  # X | None -> X (a TOML key is left out, never null)
                kept = [o for o in options if o != {"type": "null"}]
                prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
            for short, long in _SCHEMA_BOUNDS.items():  # bounds pydantic left as written
                if short in prop:
                    prop[long] = prop.pop(short)
            if prop.get("default", 0) is None:
                del prop["default"]
            prop["title"] = key  # the TOML key, not pydantic's "Speed Kmh"
            if prop.get("unit"):
                prop["description"] = f"{prop.get('description', '')} Unit: {prop['unit']}."
    return schema


# ------------------------------------------------------------------ checks across settings

_ARRAY_KEYS = tuple(k for k, f in ConfigFile.model_fields.items()
                    if typing.get_origin(f.annotation) is tuple)
_TOP_KEYS = tuple(ConfigFile.model_fields)


def _require_file(path: Path | None, where: str) -> None:
    if path is not None and path.is_dir():
        raise ConfigError(f"{where}: {path} is a folder, not a file; give the path of the "
                          "file inside it")
    if path is not None and path.is_symlink() and not path.exists():
        raise ConfigError(f"{where}: {path} is a link to a file that does not exist "
                          f"({os.readlink(path)}); fix the link or give the file itself")
    if path is not None and path.exists() and not path.is_file():
        raise ConfigError(f"{where}: {path} is not a regular file (a pipe, socket or device); "
                          "give the path of a data file")
    if path is not None and not path.is_file():
        raise ConfigError(f"{where}: file not found: {path} (check the path and data_root)")


def _check_crs(crs: str, where: str) -> None:
    """Reject an unknown coordinate system at load time (before any network build)."""
    low = crs.strip().lower()
    if low in COORDINATE_SYSTEMS:
        return
    if not re.fullmatch(r"epsg:\d{4,6}", low):
        raise ConfigError(f"{where} = '{crs}': use wgs84, gcj02, bd09 or an EPSG code such "
                          "as 'EPSG:32651'")
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(low.upper())
    except CRSError:
        raise ConfigError(f"{where} = '{crs}' is not a known EPSG code; check it at "
                          "epsg.io (e.g. 'EPSG:4326' for longitude/latitude, 'EPSG:32651' "
                          "for UTM 51N)") from None


def _check_osm_name(sa: StudyArea, net: NetworkSource) -> None:
    """``study_area.osm_name``/``osm_admin_level``: together, with local osm_files, instead
    of ``boundary`` and ``osm_relation``."""
    if sa.osm_name is None:
        if sa.osm_admin_level is not None:
            raise ConfigError("study_area.osm_admin_level goes with study_area.osm_name (the "
                              "boundary's name, e.g. \"杨浦区\"), which is not set")
        return
    if not sa.osm_name.strip():
        raise ConfigError("study_area.osm_name is empty; give the boundary's name as OSM "
                          "maps it, e.g. \"杨浦区\"")
    if sa.osm_admin_level is None:
        raise ConfigError("study_area.osm_name needs study_area.osm_admin_level, the OSM "
                          "admin_level of that boundary (6 for a district 区/县, 8 for a "
                          "street 街道/镇)")
    if not net.osm_files:
        raise ConfigError("study_area.osm_name takes the study boundary from local "
                          "osm_files; set network.osm_files to the extract holding it")
    for other in ("boundary", "osm_relation"):
        if getattr(sa, other) is not None:
            raise ConfigError(f"set only one of study_area.boundary, osm_relation or "
                              f"osm_name (found osm_name and {other})")


def _validate(cfg: Config) -> None:
    from geoplan.sources.facility_types import FACILITY_TYPES

    net = cfg.network
    chosen = [k for k, v in (("osm_files", net.osm_files), ("place", net.place),
                             ("polygon", net.polygon), ("bbox", net.bbox)) if v]
    if len(chosen) != 1:
        raise ConfigError("[network] set exactly one of osm_files, place, polygon, bbox "
                          f"(found: {', '.join(chosen) or 'none'})")
    for i, p in enumerate(net.osm_files):
        _require_file(p, f"network.osm_files[{i}]")
    sa = cfg.study_area
    _require_file(sa.boundary, "study_area.boundary")
    for where, crs in (("study_area.boundary_crs", sa.boundary_crs),
                       ("areas.crs", cfg.areas.crs)):
        if crs is not None:
            _check_crs(crs, where)
    if sa.boundary is None and (sa.boundary_code or sa.boundary_name):
        raise ConfigError("study_area.boundary_code/boundary_name pick a polygon from "
                          "study_area.boundary, which is not set")
    _require_file(net.polygon, "network.polygon")
    if sa.osm_relation is not None:
        if not net.osm_files:
            raise ConfigError("study_area.osm_relation takes the study boundary from local "
                              "osm_files; set network.osm_files to the extract holding it")
        if sa.boundary is not None:
            raise ConfigError("set either study_area.boundary or study_area.osm_relation, "
                              "not both")
    _check_osm_name(sa, net)
    if net.bbox is not None:
        w, s, e, n = net.bbox
        if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
            raise ConfigError("network.bbox must be [west, south, east, north] in degrees with "
                              f"west < east and south < north, got {list(net.bbox)}")
    wk = cfg.walking
    if wk.speed_80_kmh is not None and wk.speed_80_kmh > wk.speed_kmh:
        logging.getLogger("geoplan.config").warning(
            "walking.speed_80_kmh = %g is above walking.speed_kmh = %g: people aged 80+ walk "
            "more slowly than the 60+; the two values are probably swapped",
            wk.speed_80_kmh, wk.speed_kmh)
    unknown = [h for h in wk.crossing_roads if h not in wk.walkable_highways]
    if unknown and wk.crossing_roads != DEFAULT_CROSSING_ROADS:
        logging.getLogger("geoplan.config").warning(
            "walking.crossing_roads lists %s, not among walking.walkable_highways: no walkable "
            "way has that class (a typo?)", ", ".join(repr(h) for h in unknown))
    an = cfg.analysis
    if not an.thresholds_min or any(t <= 0 or t > 120 for t in an.thresholds_min):
        raise ConfigError("analysis.thresholds_min must list minutes between 0 and 120, "
                          f"got {list(an.thresholds_min)}")
    if not cfg.facilities:
        raise ConfigError("no [[facilities]] layer configured; add at least one")
    for i, layer in enumerate(cfg.facilities):
        where = f"facilities[{i}]"
        _validate_categories(layer, where)
        if layer.category_column is None and layer.type not in FACILITY_TYPES:
            if not layer.type:
                raise ConfigError(f"[{where}] needs type = \"<facility type>\" or "
                                  "category_column with a category map")
            raise ConfigError(f"{where}.type = '{layer.type}' is not a known facility type; "
                              f"use one of {', '.join(FACILITY_TYPES)}")
        _check_crs(layer.crs, f"{where}.crs")
        _require_file(layer.path, f"{where}.path")
    _validate_joins(cfg)
    for t in an.required_types:
        if t not in cfg.facility_types:
            raise ConfigError(f"analysis.required_types lists '{t}' but no [[facilities]] "
                              f"layer has that type (types: {', '.join(cfg.facility_types)})")
    ar = cfg.areas
    if ar.source not in AREA_SOURCES:
        raise ConfigError(f"areas.source = '{ar.source}': use one of {', '.join(AREA_SOURCES)}")
    if ar.source == "osm_admin":
        if not cfg.network.osm_files:
            raise ConfigError("areas.source = 'osm_admin' reads boundary relations from local "
                              "network.osm_files; set them or use another areas.source")
    _require_file(ar.admin_codes, "areas.admin_codes")
    if ar.source == "file" and ar.path is None:
        raise ConfigError("areas.source = 'file' needs areas.path (a polygon file)")
    _require_file(ar.path, "areas.path")
    _require_file(ar.streets_file, "areas.streets_file")
    pop = cfg.population
    _require_file(pop.census_file, "population.census_file")
    if pop.census_file is not None and not pop.district_code and pop.share_60 is None:
        raise ConfigError("population.census_file needs population.district_code "
                          "(e.g. '310110' for Yangpu)")
    _validate_census(pop)
    if cfg.output.lang not in LANGUAGES:
        raise ConfigError(f"output.lang = '{cfg.output.lang}': use 'zh' or 'en'")
    for i, sc in enumerate(cfg.scenarios):
        validate_scenario(sc, f"scenarios[{i}] ('{sc.name}')")
    if cfg.standards is not None:
        _validate_standards(cfg)
    if cfg.accessibility is not None:
        _validate_accessibility(cfg)
    if cfg.gap_index is not None:
        g = cfg.gap_index
        if min(g.uncovered, g.access, g.standards) < 0 or g.uncovered + g.access \
                + g.standards <= 0:
            raise ConfigError("gap_index: the weights uncovered, access and standards must "
                              "not be negative and not all 0")
        if g.access_method not in ACCESS_METHODS:
            raise ConfigError(f"gap_index.access_method = '{g.access_method}'; use one of "
                              f"{', '.join(ACCESS_METHODS)}")
        acc = cfg.accessibility
        if g.access > 0 and acc is not None and g.access_method not in acc.methods:
            raise ConfigError(f"gap_index.access_method = '{g.access_method}' is not among "
                              f"accessibility.methods ({', '.join(acc.methods)}); add it")


def _validate_categories(layer: FacilityLayer, where: str) -> None:
    """Category map and geocoder-quality settings of one facility layer."""
    from geoplan.sources.facility_types import CATEGORY_MAPS, FACILITY_TYPES

    if layer.category_column is None:
        if layer.category_map is not None or layer.categories:
            raise ConfigError(f"{where}: category_map/categories need category_column (the "
                              "column holding each row's category)")
    else:
        if layer.type:
            raise ConfigError(f"{where}: set either type (one type for the whole file) or "
                              "category_column (a type per row from a category map), not both")
        if layer.category_map is not None and layer.category_map not in CATEGORY_MAPS:
            raise ConfigError(f"{where}.category_map = '{layer.category_map}' is not a "
                              f"built-in map; use one of {', '.join(CATEGORY_MAPS)} or list "
                              "the categories in [facilities.categories]")
        if layer.category_map is None and not layer.categories:
            raise ConfigError(f"{where}.category_column needs a category map: category_map "
                              f"= \"{next(iter(CATEGORY_MAPS))}\" or [facilities.categories] "
                              "entries such as 1 = \"care_home\"")
        for cat, t in layer.categories:
            if t and t not in FACILITY_TYPES:
                raise ConfigError(f"{where}.categories.{cat} = '{t}' is not a known facility "
                                  f"type; use one of {', '.join(FACILITY_TYPES)} (or \"\" to "
                                  "leave the category out)")
        if not layer.types:
            raise ConfigError(f"{where}: the category map leaves every category out")
    if bool(layer.filter_values) != (layer.filter_column is not None):
        raise ConfigError(f"{where}: filter_column and filter_values go together (e.g. "
                          "filter_column = \"district\", filter_values = [\"杨浦区\"])")
    if layer.low_quality not in LOW_QUALITY_ACTIONS:
        raise ConfigError(f"{where}.low_quality = '{layer.low_quality}'; use 'flag' (keep and "
                          "mark) or 'drop'")
    if (layer.min_quality is None) != (layer.quality_column is None):
        raise ConfigError(f"{where}: quality_column and min_quality go together (e.g. "
                          "quality_column = \"confidence\", min_quality = 50)")
    if bool(layer.bad_match_levels) != (layer.match_level_column is not None):
        raise ConfigError(f"{where}: match_level_column and bad_match_levels go together (e.g. "
                          "match_level_column = \"level\", bad_match_levels = [\"地产小区\"])")


def _validate_joins(cfg: Config) -> None:
    labels = {layer.label: layer for layer in cfg.facilities}
    for k, jn in enumerate(cfg.joins):
        where = f"joins[{k}]"
        layer = labels.get(jn.layer)
        if layer is None:
            raise ConfigError(f"{where}.layer = '{jn.layer}' names no [[facilities]] layer; "
                              f"use one of the labels: {', '.join(labels)}")
        if layer.name_column is None:
            raise ConfigError(f"{where}: layer '{jn.layer}' has no name_column to match by")
        if jn.street_column is not None and layer.street_column is None:
            raise ConfigError(f"{where}.street_column is set but layer '{jn.layer}' has no "
                              "street_column; set both or neither")
        if not 0 < jn.min_score <= 100:
            raise ConfigError(f"{where}.min_score = {jn.min_score:g}: give a similarity "
                              "between 0 and 100 (e.g. 90)")
        if not (jn.columns or jn.capacity_column or jn.beds_column or jn.nursing_beds_column
                or jn.floor_area_column):
            raise ConfigError(f"{where}: nothing to attach; set columns = [...] or "
                              "beds_column/capacity_column/...")
        _require_file(jn.path, f"{where}.path")
        # the key and attached columns are checked now, not after the network is built
        from geoplan.sources.tables import read_table, require_columns

        table = read_table(jn.path, sheet=jn.sheet, encoding=jn.encoding)
        require_columns(table, {f"{where}.name_column": jn.name_column,
                                f"{where}.street_column": jn.street_column,
                                **{f"{where}.columns[{i}]": c for i, c in enumerate(jn.columns)},
                                **{f"{where}.{k}": getattr(jn, k) for k in (
                                    "capacity_column", "beds_column", "nursing_beds_column",
                                    "floor_area_column")}}, jn.path)


def _validate_census(pop: Population) -> None:
    """Check the census counts and that the census file has the district (before any work)."""
    for key in ("residents", "elderly_60", "elderly_80"):
        v = getattr(pop, key)
        if v is not None and v <= 0:
            raise ConfigError(f"population.{key} = {v:g} must be a positive count")
    for age in ("60", "80"):
        if getattr(pop, f"elderly_{age}") is not None and pop.residents is None and (
                pop.census_file is None or not pop.district_code):
            raise ConfigError(f"population.elderly_{age} needs population.residents (or "
                              "census_file with district_code) to turn it into a share")
    if pop.census_file is None or not pop.district_code:
        return
    from geoplan.errors import InputDataError
    from geoplan.sources.census import census_codes

    code = pop.district_code.strip()
    if not re.fullmatch(r"\d{6}", code):
        raise ConfigError(f"population.district_code = '{pop.district_code}': give the "
                          "6-digit division code of the district, e.g. '310110' (Yangpu)")
    try:
        codes = census_codes(pop.census_file)
    except InputDataError as exc:
        raise ConfigError(f"population.census_file: {exc}") from None
    if code not in codes:
        raise ConfigError(f"population.district_code = '{code}' has no row in "
                          f"{pop.census_file} ({len(codes)} division codes); check the code "
                          "(6-digit, e.g. 310110 for Yangpu)")


def _validate_standards(cfg: Config) -> None:
    from geoplan.analysis.standards import load_profile

    st = cfg.standards
    assert st is not None
    profile = load_profile(st.profile)
    if st.only:
        profile = profile.select(st.only)
        for s in profile.standards:  # explicitly asked for: its types must have a layer
            if not set(s.types) & set(cfg.facility_types) and not (
                    s.kind == "per_elderly" and s.metric in st.reported.as_dict()):
                raise ConfigError(
                    f"standards.only lists '{s.id}', which needs facilities of type "
                    f"{' or '.join(s.types)}, but no [[facilities]] layer has that type "
                    f"(types: {', '.join(cfg.facility_types)}); add a layer or drop it")
    for i, layer in enumerate(cfg.facilities):
        if layer.district_column is not None and not (st.district_name or st.district_code):
            raise ConfigError(f"facilities[{i}].district_column = '{layer.district_column}' "
                              "needs standards.district_name (or district_code) to know "
                              "which rows are the district's (e.g. district_name = \"杨浦区\")")
    if st.elderly_level not in ELDERLY_LEVELS:
        raise ConfigError(f"standards.elderly_level = '{st.elderly_level}'; use 'street' or "
                          "'committee'")
    _require_file(st.elderly_file, "standards.elderly_file")
    _require_file(st.committees_file, "standards.committees_file")
    if st.elderly_file is not None and not (st.elderly_code_column or st.elderly_name_column):
        raise ConfigError("standards.elderly_file needs elderly_code_column or "
                          "elderly_name_column to match the rows to streets")


def _validate_accessibility(cfg: Config) -> None:
    acc = cfg.accessibility
    assert acc is not None
    for t in acc.types:
        if t not in cfg.facility_types:
            raise ConfigError(f"accessibility.types lists '{t}' but no [[facilities]] layer "
                              f"has that type (types: {', '.join(cfg.facility_types)})")
    bad = [m for m in acc.methods if m not in ACCESS_METHODS]
    if bad or not acc.methods:
        raise ConfigError(f"accessibility.methods: '{bad[0] if bad else ''}'; use some of "
                          f"{', '.join(ACCESS_METHODS)}")
    if acc.supply not in SUPPLY_ATTRIBUTES:
        raise ConfigError(f"accessibility.supply = '{acc.supply}'; use one of "
                          f"{', '.join(SUPPLY_ATTRIBUTES)}")
    if acc.missing_supply not in MISSING_SUPPLY:
        raise ConfigError(f"accessibility.missing_supply = '{acc.missing_supply}'; use one "
                          f"of {', '.join(MISSING_SUPPLY)}")
    if acc.step_minutes:
        if len(acc.step_minutes) != len(acc.step_weights) or any(
                b <= a for a, b in zip(acc.step_minutes, acc.step_minutes[1:], strict=False)):
            raise ConfigError("accessibility.step_minutes must increase and have one "
                              "step_weights entry each")
    elif len(acc.step_weights) != 3:
        raise ConfigError("accessibility.step_weights needs 3 weights for the default "
                          "three equal zones, or set step_minutes too")
    if acc.weight not in DEMAND_WEIGHTS:
        raise ConfigError(f"accessibility.weight = '{acc.weight}'; use elderly_60 or "
                          "elderly_80")


def _scenarios(items: Any, data_root: Path) -> tuple[Scenario, ...]:
    if not isinstance(items, list):
        raise ConfigError("scenarios must be an array of tables: write [[scenarios]]")
    out = []
    for i, item in enumerate(items):
        where = f"scenarios[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"[{where}] must be a table")
        out.append(_validated(Scenario, item, where, data_root=data_root))
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"scenario name '{dup[0]}' is used twice; give each scenario its own "
                          "name")
    return tuple(out)


def validate_scenario(sc: Scenario, where: str = "") -> None:
    """Check a scenario's settings (also after command-line overrides).

    Raises
    ------
    ConfigError
        With a one-line message naming the setting.
    """
    from geoplan.sources.facility_types import FACILITY_TYPES

    where = where or f"scenario '{sc.name}'"
    check_numbers(sc, where, sep=": ")
    if sc.model not in SITING_MODELS:
        raise ConfigError(f"{where}: model = '{sc.model}'; use one of {', '.join(SITING_MODELS)}")
    if sc.method not in SITING_METHODS:
        raise ConfigError(f"{where}: method = '{sc.method}'; use one of "
                          f"{', '.join(SITING_METHODS)}")
    if sc.weight not in DEMAND_WEIGHTS:
        raise ConfigError(f"{where}: weight = '{sc.weight}'; use elderly_60 or elderly_80")
    types_ = [p.type for p in sc.plans] if sc.model == "multi" else [sc.type]
    for t in types_:
        if t not in FACILITY_TYPES:
            raise ConfigError(f"{where}: facility type '{t}' is not known; use one of "
                              f"{', '.join(FACILITY_TYPES)}")
    if sc.model == "multi":
        if len(sc.plans) < 1:
            raise ConfigError(f"{where}: model = 'multi' needs [[scenarios.plans]] entries "
                              "(type, new, cutoff_min)")
        if any(p.new < 1 for p in sc.plans):
            raise ConfigError(f"{where}: every plan needs new >= 1")
        if sc.link is not None:
            for t in (sc.link.station, sc.link.centre):
                if t not in types_:
                    raise ConfigError(f"{where}: link names type '{t}', which no plan of this "
                                      f"scenario has (plans: {', '.join(types_)})")
    elif sc.model in ("mclp", "pmedian", "cmclp", "maximin", "wmclp") and sc.new < 1:
        raise ConfigError(f"{where}: set new = <number of new sites> (at least 1) for model "
                          f"'{sc.model}'")
    if sc.floor is not None and not (math.isfinite(sc.floor) and 0 < sc.floor <= 1):
        raise ConfigError(f"{where}: floor = {sc.floor} must be a share in (0, 1], e.g. 0.6 "
                          "for 60 % of every area's older residents")
    if sc.model == "floors" and sc.floor is None:
        raise ConfigError(f"{where}: model 'floors' needs floor = <share every area must "
                          "reach>, e.g. 0.6")
    if not (math.isfinite(sc.equity_weight) and sc.equity_weight >= 0):
        raise ConfigError(f"{where}: equity_weight = {sc.equity_weight} must be a number >= 0 "
                          "(0 = plain MCLP)")
    if sc.equity_level not in EQUITY_LEVELS:
        raise ConfigError(f"{where}: equity_level = '{sc.equity_level}'; use 'area' or "
                          "'street'")
    if sc.model == "lscp" and not 0 < sc.target <= 1:
        raise ConfigError(f"{where}: target = {sc.target} must be a share in (0, 1], "
                          "e.g. 0.95 for 95 %")
    if sc.model == "cmclp":
        if sc.capacity is None:
            raise ConfigError(f"{where}: model 'cmclp' needs capacity = <persons per new site>")
        if sc.capacity < 1:
            raise ConfigError(f"{where}: capacity = {sc.capacity:g} is below one person; give "
                              "the places per site (e.g. 40)")
    for key in ("cutoff_min", "min_spacing_m", "budget", "penalty_min"):
        v = getattr(sc, key)
        if v is not None and v <= 0:
            raise ConfigError(f"{where}: {key} must be positive")
    if sc.time_limit_s <= 0 or not 0 <= sc.mip_gap < 1:
        raise ConfigError(f"{where}: time_limit_s must be positive and mip_gap in [0, 1)")
    c = sc.candidates
    if c.file is None and c.clusters <= 0 and not c.buildings and c.grid_m <= 0:
        raise ConfigError(f"{where}: no candidate sites: set candidates.file, "
                          "candidates.clusters, candidates.buildings or candidates.grid_m")
    _require_file(c.file, f"{where}.candidates.file")
    _check_crs(c.crs, f"{where}.candidates.crs")
    if c.grid_m < 0 or c.clusters < 0 or c.exclude_existing_m < 0:
        raise ConfigError(f"{where}.candidates: grid_m, clusters and exclude_existing_m must "
                          "not be negative")


def load_config(path: str | Path) -> Config:
    """Read and validate a study-area TOML file.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    Config
        The validated configuration.

    Raises
    ------
    ConfigError
        With a one-line message naming the bad setting.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a config file; give the study-area TOML "
                          "file (e.g. examples/yangpu-wujiaochang.toml)")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return config_from_dict(raw, base_dir=path.parent.resolve(), source_file=path.resolve())


def config_from_dict(raw: dict[str, Any], base_dir: Path,
                     source_file: Path | None = None) -> Config:
    """Build a validated :class:`Config` from a parsed TOML mapping.

    Parameters
    ----------
    raw : dict
        The parsed TOML document.
    base_dir : Path
        Folder that ``paths.data_root`` is relative to (the config file's folder).
    source_file : Path, optional
        The config file, recorded in the manifest.
    """
    unknown = sorted(set(raw) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]; allowed: {', '.join(_TOP_KEYS)}")
    for key, value in raw.items():  # the shape of every section before its contents
        if key in _ARRAY_KEYS:
            if not isinstance(value, list | tuple) or not all(isinstance(v, dict)
                                                              for v in value):
                raise ConfigError(f"{key} must be an array of tables: write [[{key}]] above "
                                  f"each entry's keys (got {type(value).__name__} {value!r})")
        elif not isinstance(value, dict):
            raise ConfigError(f"{key} = {value!r} is a value, but [{key}] is a section: write "
                              f"[{key}] on its own line with its keys below it")
    if "study_area" not in raw:
        raise ConfigError("missing section [study_area] (with at least name = \"...\")")
    study = _validated(StudyArea, raw["study_area"], "study_area")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", study.name):
        raise ConfigError(f"study_area.name = '{study.name}': use letters, digits, '-', '_' "
                          "(it names the output folder)")
    paths = raw.get("paths", {})
    if not isinstance(paths, dict) or set(paths) - {"data_root"}:
        raise ConfigError("[paths] allows only data_root")
    root_text = paths.get("data_root", Paths().data_root)
    if not isinstance(root_text, str):
        raise ConfigError("paths.data_root must be text (a folder path)")
    data_root = Path(_expand(root_text, "paths.data_root")).expanduser()
    # Always resolved (symlinks too), written absolute or relative: the input paths under it
    # compare equal however the folder was reached (e.g. a symlinked ../shared).
    data_root = (base_dir / data_root).resolve()
    if data_root.is_file():
        raise ConfigError(f"paths.data_root: {data_root} is a file, not a folder; give the "
                          "folder holding the input data")
    if not data_root.is_dir():
        raise ConfigError(f"paths.data_root: folder not found: {data_root} (set GEOPLAN_DATA "
                          "or data_root to the folder holding the input data)")

    inputs = {"data_root": data_root}
    study = _validated(StudyArea, raw["study_area"], "study_area", **inputs)
    network = _validated(NetworkSource, raw.get("network", {}), "network", **inputs)
    walking = _validated(WalkingProfile, raw.get("walking", {}), "walking")
    analysis = _validated(Analysis, raw.get("analysis", {}), "analysis")
    facilities = []
    for i, layer in enumerate(raw.get("facilities", [])):
        fl = _validated(FacilityLayer, layer, f"facilities[{i}]", **inputs)
        if not fl.label:
            fl = fl.model_copy(update={"label": fl.path.stem})
        facilities.append(fl)
    areas = _validated(Areas, raw.get("areas", {}), "areas", **inputs)
    population = _validated(Population, raw.get("population", {}), "population", **inputs)
    out_raw = dict(raw.get("output", {}))
    out_raw.setdefault("dir", LOADER_DEFAULTS[("Output", "dir")].replace(
        "<study_area.name>", study.name))
    for k in ("maps_dir", "cache_dir"):  # resolved against the working folder too
        out_raw.setdefault(k, Output.model_fields[k].default.as_posix())
    output = _validated(Output, out_raw, "output", cwd=Path.cwd())
    scenarios = _scenarios(raw.get("scenarios", []), data_root)
    standards = None
    if "standards" in raw:
        standards = _validated(Standards, raw["standards"], "standards", **inputs)
        prof = standards.profile
        if prof.lower().endswith(".toml") and not Path(prof).is_absolute():
            standards = standards.model_copy(update={"profile": str(base_dir / prof)})
        if standards.district_code is None:
            standards = standards.model_copy(update={"district_code": study.district_code})
    accessibility = (_validated(Accessibility, raw["accessibility"], "accessibility")
                     if "accessibility" in raw else None)
    gap = (_validated(GapIndex, raw["gap_index"], "gap_index") if "gap_index" in raw
           else GapIndex() if standards or accessibility else None)
    joins = tuple(_validated(Join, j, f"joins[{k}]", **inputs)
                  for k, j in enumerate(raw.get("joins", [])))
    cfg = Config(study_area=study, network=network, walking=walking, analysis=analysis,
                 facilities=tuple(facilities), areas=areas, population=population,
                 output=output, data_root=data_root, scenarios=scenarios,
                 standards=standards, accessibility=accessibility, gap_index=gap,
                 source_file=source_file, raw=raw, joins=joins)
    _validate(cfg)
    return cfg
