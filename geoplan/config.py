"""Typed configuration for a geoplan study area, read from one TOML file.

The TOML file is validated up front: unknown keys, wrong types, bad values and missing
input files are reported as one-line :class:`~geoplan.errors.ConfigError` messages that
name the setting. Every number is checked in one place against its range in
:data:`NUMERIC_RANGES` (finite: TOML accepts ``nan`` and ``inf``) before any work starts.
Code downstream receives frozen dataclasses, never raw dicts.

Path rules
----------
* ``[paths] data_root`` is resolved against the folder of the config file. It may use
  environment variables with defaults, e.g. ``"${GEOPLAN_DATA:-../../shared/data/yangpu-demo}"``.
* Input files (OSM, facilities, areas, census ...) are resolved against ``data_root``
  unless absolute.
* Output folders are resolved against the current working directory.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geoplan.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: Highway values a pedestrian may use (OSM ``highway=*``). Motorways and their links,
#: construction, proposed, raceways and bus guideways are excluded.
DEFAULT_WALKABLE_HIGHWAYS: tuple[str, ...] = (
    "footway", "pedestrian", "path", "steps", "living_street", "residential", "service",
    "unclassified", "tertiary", "tertiary_link", "secondary", "secondary_link", "primary",
    "primary_link", "trunk", "trunk_link", "track", "cycleway", "corridor", "road",
    "platform", "elevator",
)
#: Carriageway classes that the elevated/tunnel rule of the walking policy applies to.
DEFAULT_ELEVATED_HIGHWAYS: tuple[str, ...] = ("trunk", "trunk_link", "primary", "primary_link")
#: Major-road classes whose at-grade intersections cost ``walking.crossing_delay_s``.
DEFAULT_CROSSING_ROADS: tuple[str, ...] = ("trunk", "trunk_link", "primary", "primary_link",
                                           "secondary", "secondary_link")

COORDINATE_SYSTEMS = ("wgs84", "gcj02", "bd09")
AREA_SOURCES = ("file", "compounds", "grid", "compounds+grid", "osm_admin")
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class StudyArea:
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

    name: str
    title_zh: str = ""
    title_en: str = ""
    district_code: str | None = None
    boundary: Path | None = None
    boundary_crs: str | None = None
    boundary_code: str | None = None
    boundary_name: str | None = None
    boundary_code_column: str = "adcode"
    boundary_name_column: str = "name"
    osm_relation: int | None = None
    osm_name: str | None = None
    osm_admin_level: int | None = None

    def title(self, lang: str) -> str:
        """The map and report title in ``lang`` ("zh" or "en"), else the name."""
        return (self.title_zh if lang == "zh" else self.title_en) or self.name


@dataclass(frozen=True)
class NetworkSource:
    """Where the walking network comes from: local OSM files or a download.

    Exactly one of ``osm_files``, ``place``, ``polygon`` or ``bbox`` is set.
    ``bbox`` is ``[west, south, east, north]`` in WGS84 degrees. ``osm_files`` may be
    ``.osm.pbf``, ``.osm``, ``.osm.gz`` or ``.osm.bz2`` (told apart by content); they
    are cut while read to the study area (``[study_area] boundary`` or ``osm_relation``)
    plus the walking buffer.
    """

    osm_files: tuple[Path, ...] = ()
    place: str | None = None
    polygon: Path | None = None
    bbox: tuple[float, float, float, float] | None = None

    @property
    def is_download(self) -> bool:
        """True when the network is downloaded with osmnx rather than read from files."""
        return not self.osm_files


#: 80+ walking speed relative to the 60+ speed. Bohannon & Andrews (2011), "Normal walking
#: speed: a descriptive meta-analysis", Physiotherapy 97(3):182–189: comfortable gait speed
#: of men 1.34 m/s at 60–69 and 0.97 m/s at 80–99, of women 1.24 and 0.94 m/s; the mean
#: ratio (0.955 / 1.29) is 0.74. Applied to the planning value 3.6 km/h: 2.7 km/h for 80+.
SPEED_80_RATIO = 0.74


@dataclass(frozen=True)
class WalkingProfile:
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

    speed_kmh: float = 3.6
    speed_80_kmh: float | None = None
    steps_factor: float = 2.0
    walkable_highways: tuple[str, ...] = DEFAULT_WALKABLE_HIGHWAYS
    snap_max_m: float = 300.0
    exclude_motorroad: bool = True
    exclude_elevated: bool = True
    elevated_highways: tuple[str, ...] = DEFAULT_ELEVATED_HIGHWAYS
    elevated_min_length_m: float = 60.0
    crossing_delay_s: float = 0.0
    crossing_roads: tuple[str, ...] = DEFAULT_CROSSING_ROADS

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


@dataclass(frozen=True)
class Analysis:
    """Catchment thresholds and the definition of a complete service circle."""

    thresholds_min: tuple[float, ...] = (5.0, 10.0, 15.0)
    circle_minutes: float = 15.0
    required_types: tuple[str, ...] = ()
    walk_in_m: float = 40.0
    seed: int = 20240930
    sensitivity: bool = True

    @property
    def max_minutes(self) -> float:
        """Largest time any step needs (largest threshold or circle time)."""
        return max((*self.thresholds_min, self.circle_minutes))


LOW_QUALITY_ACTIONS = ("flag", "drop")


@dataclass(frozen=True)
class FacilityLayer:
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

    path: Path
    type: str = ""
    label: str = ""
    has_coordinates: bool = True
    x: str | None = "lon"
    y: str | None = "lat"
    crs: str = "wgs84"
    name_column: str | None = "name"
    address_column: str | None = None
    street_column: str | None = None
    district_column: str | None = None
    same_place_m: float = 0.0
    capacity_column: str | None = None
    beds_column: str | None = None
    nursing_beds_column: str | None = None
    floor_area_column: str | None = None
    public_column: str | None = None
    public_values: tuple[str, ...] = ("公办", "公建公营", "public", "yes", "true", "1", "是")
    sheet: str | None = None
    encoding: str | None = None
    category_column: str | None = None
    category_map: str | None = None
    categories: tuple[tuple[str, str], ...] = ()
    quality_column: str | None = None
    min_quality: float | None = None
    match_level_column: str | None = None
    bad_match_levels: tuple[str, ...] = ()
    low_quality: str = "flag"
    filter_column: str | None = None
    filter_values: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class Join:
    """Attach columns of another table to a facility layer by name (and street).

    For lists that share no id, e.g. planned beds per institution from a plan's table.
    ``layer`` is the label of the ``[[facilities]]`` layer; ``name_column`` (and
    ``street_column``) are the keys in ``path``; ``columns`` are attached as they are,
    ``beds_column`` (and capacity/nursing_beds/floor_area) fill the facility attribute
    where the layer has none. Names are compared exact, normalised (legal forms,
    brackets, widths, ``strip_prefixes`` such as ["上海市", "杨浦区"]) and fuzzy
    (score >= ``min_score``, 0-100); see :mod:`geoplan.sources.joins`.
    """

    layer: str
    path: Path
    name: str = ""
    name_column: str = "name"
    street_column: str | None = None
    columns: tuple[str, ...] = ()
    capacity_column: str | None = None
    beds_column: str | None = None
    nursing_beds_column: str | None = None
    floor_area_column: str | None = None
    min_score: float = 90.0
    strip_prefixes: tuple[str, ...] = ()
    sheet: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class Areas:
    """Analysis areas: a committee polygon file, OSM residential compounds, or a grid.

    ``source = "osm_admin"`` takes the boundary relations of ``admin_level`` (8: streets
    街道/镇; 9-10: committees 社区/居委会 where mapped) from the OSM files; codes come from
    ``admin_codes`` (a table with ``osm_relation_id`` and ``code``/``code_12``) or the
    relations' ``ref:NBS``/``ref`` tags.
    """

    source: str = "compounds+grid"
    path: Path | None = None
    code_column: str = "code"
    name_column: str = "name"
    street_code_column: str | None = None
    street_name_column: str | None = None
    elderly60_column: str | None = None
    elderly80_column: str | None = None
    grid_size_m: float = 300.0
    min_compound_m2: float = 2000.0
    streets_file: Path | None = None
    crs: str | None = None  # datum of the polygon file's coordinates (default: the file's)
    admin_level: int = 8
    admin_codes: Path | None = None


@dataclass(frozen=True)
class Population:
    """How elderly counts are estimated where committee counts are missing.

    ``census_file``: the national county table of the 2020 census
    (``census_county_2020_v1.xlsx``, any district of China by its 6-digit
    ``district_code``) or a small CSV (``adcode, pop_total, pop_60plus, pop_80plus``).
    The user's own ``share_60``/``share_80``, or counts ``elderly_60``/``elderly_80``
    (divided by ``residents`` or the census residents), override the census figures.
    """

    census_file: Path | None = None
    district_code: str | None = None
    share_60: float | None = None
    share_80: float | None = None
    residents: float | None = None
    elderly_60: float | None = None
    elderly_80: float | None = None
    m2_per_resident: float = 36.0
    default_levels: float = 6.0
    default_far: float = 1.8
    min_building_m2: float = 30.0


#: Base maps of the web map (no Amap/GaoDe: its tiles are in GCJ-02 and would sit
#: ~500 m off the WGS84 data layers).
BASEMAPS = ("osm", "tianditu", "none")


@dataclass(frozen=True)
class Output:
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

    dir: Path
    maps_dir: Path
    cache_dir: Path
    lang: str = "zh"
    basemap: str = "osm"
    tianditu_key: str = ""
    offline: bool = True
    embed: bool = False
    static_map: bool = True
    map_score: str = "circle_share"
    map_detail_limit: int = 2000

    def __post_init__(self) -> None:
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


@dataclass(frozen=True)
class ReportedStock:
    """District-level stock given directly (e.g. from a plan's table), by metric."""

    beds: float | None = None
    nursing_beds: float | None = None
    floor_area_m2: float | None = None
    capacity: float | None = None
    source: str = ""

    def as_dict(self) -> dict[str, float]:
        """The metrics that are set."""
        return {k: v for k, v in (("beds", self.beds), ("nursing_beds", self.nursing_beds),
                                  ("floor_area_m2", self.floor_area_m2),
                                  ("capacity", self.capacity)) if v is not None}


@dataclass(frozen=True)
class Standards:
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

    profile: str = "shanghai-yangpu-2016"
    only: tuple[str, ...] = ()
    district_code: str | None = None
    district_name: str = ""
    elderly_total: float | None = None
    elderly_basis: str = ""
    elderly_file: Path | None = None
    elderly_level: str = "street"
    elderly_code_column: str | None = "code"
    elderly_name_column: str | None = None
    elderly_column: str = "elderly"
    residents_column: str | None = None
    committees_file: Path | None = None
    reported: ReportedStock = field(default_factory=ReportedStock)


ACCESS_METHODS = ("2sfca", "e2sfca_step", "e2sfca_gaussian")
SUPPLY_ATTRIBUTES = ("capacity", "beds", "nursing_beds", "floor_area_m2", "count")
MISSING_SUPPLY = ("median", "count", "error")


@dataclass(frozen=True)
class Accessibility:
    """Capacity-aware accessibility (2SFCA / E2SFCA) of facility types.

    Supply is the facilities' ``supply`` attribute; facilities without it get the median of
    the known ones (``missing_supply = "median"``; with none known, each counts as 1),
    count as 1 (``"count"``) or stop the run (``"error"``). Results are in supply per
    ``per`` elderly (places per 1,000 by default).
    """

    types: tuple[str, ...] = ()
    methods: tuple[str, ...] = ACCESS_METHODS
    catchment_min: float | None = None
    step_minutes: tuple[float, ...] = ()
    step_weights: tuple[float, ...] = (1.0, 0.68, 0.22)
    gaussian_sigma_min: float | None = None
    supply: str = "capacity"
    missing_supply: str = "median"
    per: float = 1000.0
    weight: str = "elderly_60"


@dataclass(frozen=True)
class GapIndex:
    """Weights of the composite gap index and the accessibility it uses."""

    uncovered: float = 0.5
    access: float = 0.3
    standards: float = 0.2
    access_method: str = "e2sfca_step"
    access_reference: float | None = None


SITING_MODELS = ("mclp", "lscp", "pmedian", "cmclp", "multi", "floors", "maximin", "wmclp")
#: Units over which equity models and figures are computed: analysis areas or streets.
EQUITY_LEVELS = ("area", "street")
SITING_METHODS = ("auto", "exact", "heuristic")
DEMAND_WEIGHTS = ("elderly_60", "elderly_80")
#: OSM ``building=*`` values taken as non-residential candidate buildings by default.
CANDIDATE_BUILDINGS: tuple[str, ...] = (
    "commercial", "retail", "office", "public", "civic", "government", "community_centre",
    "kindergarten", "service", "warehouse",
)


@dataclass(frozen=True)
class Candidates:
    """Where candidate sites for new facilities come from (any combination).

    ``file``: points or polygons (CSV with x/y columns, GeoJSON, GPKG); polygons are
    represented by a point inside them. ``clusters``: that many k-means centres of the
    demand left uncovered (weighted by elderly). ``buildings``: street-facing
    non-residential OSM buildings. ``grid_m``: one network node per grid cell of this size.
    Candidates within ``exclude_existing_m`` of an existing facility of the same type are
    never proposed.
    """

    file: Path | None = None
    x: str | None = "lon"
    y: str | None = "lat"
    crs: str = "wgs84"
    name_column: str | None = "name"
    cost_column: str | None = None
    capacity_column: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    clusters: int = 0
    buildings: bool = False
    building_values: tuple[str, ...] = CANDIDATE_BUILDINGS
    street_facing_m: float = 30.0
    grid_m: float = 0.0
    exclude_existing_m: float = 50.0


@dataclass(frozen=True)
class TypeCount:
    """One facility type's part of a multi-type scenario."""

    type: str
    new: int
    cutoff_min: float | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class Link1N:
    """The 1+N rule: each new ``station`` within ``max_min`` of a ``centre``."""

    station: str
    centre: str
    max_min: float = 15.0


@dataclass(frozen=True)
class Scenario:
    """A named siting question: which model, how many sites or which target, candidates."""

    name: str
    model: str
    type: str = ""
    new: int = 0
    target: float = 0.95
    cutoff_min: float | None = None
    capacity: float | None = None
    existing_capacity: float | None = None
    weight: str = "elderly_60"
    method: str = "auto"
    time_limit_s: float = 300.0
    mip_gap: float = 1e-4
    budget: float | None = None
    min_spacing_m: float | None = None
    penalty_min: float | None = None
    curve_max: int = 0
    floor: float | None = None
    equity_weight: float = 0.0
    equity_level: str = "area"
    candidates: Candidates = field(default_factory=Candidates)
    plans: tuple[TypeCount, ...] = ()
    link: Link1N | None = None


@dataclass(frozen=True)
class Config:
    """A complete, validated study-area configuration."""

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
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    joins: tuple[Join, ...] = ()

    @property
    def facility_types(self) -> tuple[str, ...]:
        """Facility type keys in config order, without repeats."""
        return tuple(dict.fromkeys(t for layer in self.facilities for t in layer.types))


# ------------------------------------------------------------------ numeric ranges
#
# Every number in the config is checked against one table, in one place (:func:`_build`
# and :func:`check_numbers`), before any work starts. TOML accepts ``nan`` and ``inf``
# literals, so "finite" is part of every range. A numeric field without an entry here is
# a programming error (``TypeError``), and tests/test_bad_inputs_config.py walks every
# numeric field of every config dataclass, so a new field cannot go unchecked.

@dataclass(frozen=True)
class Range:
    """Allowed values of one numeric setting (always finite).

    Parameters
    ----------
    lo, hi : float
        Bounds.
    lo_open, hi_open : bool
        True when the bound itself is not allowed.
    advice : str
        What the setting means / what to give, shown after the allowed range.
    """

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    advice: str = ""

    def text(self) -> str:
        """The range as written in messages, e.g. ``(0, 120]``."""
        return (f"{'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}"
                f"{')' if self.hi_open else ']'}")

    def problem(self, value: float) -> str | None:
        """Why ``value`` is not allowed, or None when it is."""
        if isinstance(value, float) and math.isnan(value):
            return "is not a number"
        if isinstance(value, float) and math.isinf(value):
            return "is not a finite number"
        if value < self.lo or (self.lo_open and value == self.lo):
            if self.lo == 0:
                return "must be positive" if self.lo_open else "must not be negative"
            return "is too small"
        if value > self.hi or (self.hi_open and value == self.hi):
            return "is too large"
        return None

    def message(self, where: str, value: float) -> str | None:
        """One-line message for a bad ``value`` of setting ``where`` (None when fine)."""
        why = self.problem(value)
        if why is None:
            return None
        advice = f"; {self.advice}" if self.advice else ""
        return f"{where} = {value:g} {why}: give a value in {self.text()}{advice}"


_POS = {"lo": 0.0, "lo_open": True}
_MINUTES = Range(0, 120, lo_open=True, advice="walking minutes (more than 120 min is not a "
                                              "walking catchment)")
_SHARE = Range(0, 1, advice="a share, e.g. 0.25 for 25 %")
_STOCK = Range(0, 1e8, advice="a district total (beds, places or m²)")
_SEED_MAX = 2**32 - 1

#: (dataclass name, field) -> allowed range. For a tuple field, the range of each element.
NUMERIC_RANGES: dict[tuple[str, str], Range] = {
    ("StudyArea", "osm_relation"): Range(-2**53, 2**53, advice="the id of a boundary "
                                                               "relation in osm_files"),
    ("StudyArea", "osm_admin_level"): Range(1, 11, advice="OSM admin_level of the boundary "
                                                          "named by osm_name: 6 for a district "
                                                          "区/县, 8 for a street 街道/镇"),
    ("NetworkSource", "bbox"): Range(-180, 180, advice="[west, south, east, north] in WGS84 "
                                                       "degrees"),
    ("WalkingProfile", "speed_kmh"): Range(0.5, 10, advice="km/h; other speeds are "
                                                           "implausible (3.6 km/h is the usual "
                                                           "planning value for older people)"),
    ("WalkingProfile", "elevated_min_length_m"): Range(0, 5000, advice="metres; bridge runs "
                                                                 "shorter than this are kept"),
    ("FacilityLayer", "min_quality"): Range(0, 100, advice="geocoder confidence (0-100) below "
                                                           "which a row is flagged, e.g. 50"),
    ("FacilityLayer", "same_place_m"): Range(0, 200, advice="metres within which a same-type "
                                                        "row of an earlier layer is the same "
                                                        "facility, e.g. 30"),
    ("Join", "min_score"): Range(0, 100, advice="fuzzy name similarity (0-100), e.g. 90"),
    ("Population", "residents"): Range(0, 5e8, advice="residents of the district (persons)"),
    ("Population", "elderly_60"): Range(0, 5e8, advice="residents aged 60+ (persons)"),
    ("Population", "elderly_80"): Range(0, 5e8, advice="residents aged 80+ (persons)"),
    ("WalkingProfile", "speed_80_kmh"): Range(0.3, 10, advice="km/h of people aged 80+ "
                                                              "(default: speed_kmh × 0.74)"),
    ("WalkingProfile", "crossing_delay_s"): Range(0, 300, advice="seconds of waiting per "
                                                                 "major-road crossing (0: off; "
                                                                 "e.g. 30 as a sensitivity "
                                                                 "setting)"),
    ("WalkingProfile", "steps_factor"): Range(1, 10, advice="a time multiplier for steps "
                                                            "(e.g. 2)"),
    ("WalkingProfile", "snap_max_m"): Range(**_POS, hi=2000, advice="metres from a home or "
                                                                    "facility to the nearest "
                                                                    "walkable way (e.g. 300)"),
    ("Analysis", "thresholds_min"): _MINUTES,
    ("Analysis", "circle_minutes"): _MINUTES,
    ("Analysis", "walk_in_m"): Range(0, 500, advice="metres walked from the street into a "
                                                    "compound (e.g. 40)"),
    ("Analysis", "seed"): Range(0, _SEED_MAX, advice="any whole number >= 0"),
    ("Areas", "grid_size_m"): Range(50, 5000, advice="metres per grid cell (e.g. 300)"),
    ("Areas", "admin_level"): Range(4, 11, advice="8 for streets (街道/镇) or 9-10 for "
                                                  "committees (社区/居委会)"),
    ("Areas", "min_compound_m2"): Range(0, 1e6, advice="m² below which a residential "
                                                       "landuse polygon is ignored (e.g. 2000)"),
    ("Population", "share_60"): _SHARE,
    ("Population", "share_80"): _SHARE,
    ("Population", "m2_per_resident"): Range(5, 500, advice="floor area per resident in m² "
                                                            "(e.g. 36)"),
    ("Population", "default_levels"): Range(1, 200, advice="storeys of a building without a "
                                                           "levels tag (e.g. 6)"),
    ("Population", "default_far"): Range(**_POS, hi=20, advice="floor-area ratio of a compound "
                                                               "without mapped buildings "
                                                               "(e.g. 1.8)"),
    ("Population", "min_building_m2"): Range(0, 1e5, advice="m² below which a building is "
                                                            "ignored (e.g. 30)"),
    ("ReportedStock", "beds"): _STOCK,
    ("ReportedStock", "nursing_beds"): _STOCK,
    ("ReportedStock", "floor_area_m2"): _STOCK,
    ("ReportedStock", "capacity"): _STOCK,
    ("Standards", "elderly_total"): Range(**_POS, hi=1e8, advice="the district's elderly "
                                                                 "(e.g. 431700)"),
    ("Accessibility", "catchment_min"): _MINUTES,
    ("Accessibility", "step_minutes"): _MINUTES,
    ("Accessibility", "step_weights"): Range(0, 1, advice="distance-decay weights from 1 "
                                                          "(nearest zone) down, e.g. "
                                                          "[1.0, 0.68, 0.22]"),
    ("Accessibility", "gaussian_sigma_min"): _MINUTES,
    ("Accessibility", "per"): Range(1, 1e6, advice="results are per this many elderly "
                                                   "(e.g. 1000)"),
    ("GapIndex", "uncovered"): Range(0, 100, advice="a relative weight (e.g. 0.5)"),
    ("GapIndex", "access"): Range(0, 100, advice="a relative weight (e.g. 0.3)"),
    ("GapIndex", "standards"): Range(0, 100, advice="a relative weight (e.g. 0.2)"),
    ("GapIndex", "access_reference"): Range(**_POS, hi=1e6, advice="supply per "
                                                                   "accessibility.per elderly"),
    ("Candidates", "clusters"): Range(0, 10000, advice="number of k-means candidate sites "
                                                       "(0 = none)"),
    ("Candidates", "street_facing_m"): Range(0, 500, advice="metres from a building to a "
                                                            "street (e.g. 30)"),
    ("Candidates", "grid_m"): Range(0, 10000, advice="metres per candidate grid cell "
                                                     "(0 = none, e.g. 200)"),
    ("Candidates", "exclude_existing_m"): Range(0, 5000, advice="metres around existing "
                                                                "facilities (e.g. 50)"),
    ("TypeCount", "new"): Range(1, 10000, advice="number of new sites of this type"),
    ("TypeCount", "cutoff_min"): _MINUTES,
    ("TypeCount", "weight"): Range(0, 100, advice="a relative weight (e.g. 1)"),
    ("Link1N", "max_min"): _MINUTES,
    ("Scenario", "new"): Range(0, 10000, advice="number of new sites"),
    ("Scenario", "target"): Range(0, 1, lo_open=True, advice="a coverage share, e.g. 0.95 "
                                                             "for 95 %"),
    ("Scenario", "cutoff_min"): _MINUTES,
    ("Scenario", "capacity"): Range(1, 1e6, advice="places (persons) per new site, e.g. 40, "
                                                           "not below one person"),
    ("Scenario", "existing_capacity"): Range(0, 1e6, advice="places per existing facility "
                                                            "without a capacity"),
    ("Scenario", "time_limit_s"): Range(**_POS, hi=7 * 86400, advice="solver seconds "
                                                                     "(e.g. 300)"),
    ("Scenario", "mip_gap"): Range(0, 1, hi_open=True, advice="a relative gap, e.g. 1e-4"),
    ("Scenario", "budget"): Range(**_POS, hi=1e15, advice="total cost of the new sites, in "
                                                          "the unit of candidates.cost_column"),
    ("Scenario", "min_spacing_m"): Range(**_POS, hi=20000, advice="metres between new sites "
                                                                  "(e.g. 300)"),
    ("Scenario", "penalty_min"): Range(**_POS, hi=240, advice="minutes counted for elderly "
                                                              "beyond reach (p-median)"),
    ("Scenario", "curve_max"): Range(0, 10000, advice="sites on the coverage curve "
                                                      "(0 = automatic)"),
    ("Scenario", "floor"): Range(0, 1, lo_open=True, advice="the share every area must "
                                                            "reach, e.g. 0.6 for 60 %"),
    ("Output", "map_detail_limit"): Range(0, 1e9, advice="features (areas + facilities + "
                                                          "per-facility catchments) above which "
                                                          "the web map is aggregated, e.g. "
                                                          "2000 (0: always aggregated)"),
    ("Scenario", "equity_weight"): Range(0, 1e6, advice="weight of the areas' covered shares "
                                                        "against total coverage (0 = plain "
                                                        "MCLP)"),
}


def _is_number_type(tp: Any) -> bool:
    """True for float/int hints, also inside ``X | None`` and ``tuple[X, ...]``."""
    if tp in (float, int):
        return True
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType, tuple):
        return any(_is_number_type(a) for a in typing.get_args(tp) if a is not Ellipsis)
    return False


def numeric_fields(cls: type) -> tuple[str, ...]:
    """Names of the numeric fields (float/int, optional or tuples of them) of ``cls``."""
    hints = typing.get_type_hints(cls)
    return tuple(f.name for f in dataclasses.fields(cls) if _is_number_type(hints[f.name]))


def range_of(cls: type, name: str) -> Range:
    """The allowed range of numeric field ``name`` of config dataclass ``cls``."""
    try:
        return NUMERIC_RANGES[(cls.__name__, name)]
    except KeyError:  # programming error: every numeric field needs a range
        raise TypeError(f"config field {cls.__name__}.{name} has no entry in "
                        "NUMERIC_RANGES") from None


def check_numbers(obj: Any, where: str, sep: str = ".") -> None:
    """Check every numeric field of config dataclass ``obj`` against its range.

    Parameters
    ----------
    obj : dataclass instance
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


def _coerce(value: Any, tp: Any, where: str, base: Path | None) -> Any:
    """Check ``value`` against type hint ``tp`` and convert (paths, tuples, floats)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], where, base)
    if tp is Path:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: expected a file path (text), got {value!r}")
        p = Path(_expand(value, where)).expanduser()
        return p if p.is_absolute() or base is None else (base / p)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]", base) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_coerce(v, a, f"{where}[{i}]", base)
                     for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 1e4 in TOML is a float; a whole one is a whole number
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if tp is str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # codes such as 310110 written without quotes
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {where}")  # programming error


def _build(cls: type, data: Any, where: str, base: Path | None,
           skip: tuple[str, ...] = (), extra: dict[str, Any] | None = None) -> Any:
    """Build dataclass ``cls`` from a TOML table, rejecting unknown keys."""
    if not isinstance(data, dict):
        raise ConfigError(f"[{where}] must be a table of settings, got "
                          f"{type(data).__name__} {data!r}; write the keys below a "
                          f"[{where}] line (or as {{key = value}})")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"[{where}] unknown key '{unknown[0]}'; allowed keys: "
                          f"{', '.join(names)}")
    kwargs: dict[str, Any] = dict(extra or {})
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _coerce(data[f.name], hints[f.name], f"{where}.{f.name}", base)
        elif (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
              and f.name not in kwargs):
            raise ConfigError(f"[{where}] missing required key '{f.name}'")
    obj = cls(**kwargs)
    check_numbers(obj, where)
    return obj


_ARRAY_KEYS = ("facilities", "scenarios", "joins")
_TOP_KEYS = ("study_area", "paths", "network", "walking", "analysis", "facilities", "areas",
             "population", "output", "scenarios", "standards", "accessibility", "gap_index",
             "joins")


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
    if not 0.5 <= wk.speed_kmh <= 10:
        raise ConfigError(f"walking.speed_kmh = {wk.speed_kmh} is implausible; use 0.5-10 "
                          "(3.6 km/h is the usual planning value for older people)")
    if wk.steps_factor < 1:
        raise ConfigError("walking.steps_factor must be >= 1 (a time multiplier for steps)")
    if wk.speed_80_kmh is not None and wk.speed_80_kmh > wk.speed_kmh:
        logging.getLogger("geoplan.config").warning(
            "walking.speed_80_kmh = %g is above walking.speed_kmh = %g: people aged 80+ walk "
            "more slowly than the 60+; the two values are probably swapped",
            wk.speed_80_kmh, wk.speed_kmh)
    if wk.snap_max_m <= 0:
        raise ConfigError("walking.snap_max_m must be positive (metres)")
    unknown = [h for h in wk.crossing_roads if h not in wk.walkable_highways]
    if unknown and wk.crossing_roads != DEFAULT_CROSSING_ROADS:
        logging.getLogger("geoplan.config").warning(
            "walking.crossing_roads lists %s, not among walking.walkable_highways: no walkable "
            "way has that class (a typo?)", ", ".join(repr(h) for h in unknown))
    if wk.elevated_min_length_m < 0:
        raise ConfigError("walking.elevated_min_length_m must be >= 0 (metres; 0 leaves out "
                          "every bridge of walking.elevated_highways without a sidewalk)")
    an = cfg.analysis
    if not an.thresholds_min or any(t <= 0 or t > 120 for t in an.thresholds_min):
        raise ConfigError("analysis.thresholds_min must list minutes between 0 and 120, "
                          f"got {list(an.thresholds_min)}")
    if not 0 < an.circle_minutes <= 120:
        raise ConfigError("analysis.circle_minutes must be between 0 and 120")
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
    if ar.grid_size_m < 50:
        raise ConfigError("areas.grid_size_m must be at least 50 metres")
    pop = cfg.population
    _require_file(pop.census_file, "population.census_file")
    if pop.census_file is not None and not pop.district_code and pop.share_60 is None:
        raise ConfigError("population.census_file needs population.district_code "
                          "(e.g. '310110' for Yangpu)")
    _validate_census(pop)
    for key in ("share_60", "share_80"):
        v = getattr(pop, key)
        if v is not None and not 0 <= v <= 1:
            raise ConfigError(f"population.{key} = {v} must be a share between 0 and 1")
    if pop.m2_per_resident <= 0 or pop.default_levels <= 0 or pop.default_far <= 0:
        raise ConfigError("population.m2_per_resident, default_levels and default_far must "
                          "be positive")
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
        if g.access_reference is not None and g.access_reference <= 0:
            raise ConfigError("gap_index.access_reference must be positive (supply per "
                              "accessibility.per elderly)")


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
    if st.elderly_total is not None and st.elderly_total <= 0:
        raise ConfigError(f"standards.elderly_total = {st.elderly_total:g}: give the "
                          "district's elderly (e.g. 431700), or leave it out")
    if st.elderly_level not in ("street", "committee"):
        raise ConfigError(f"standards.elderly_level = '{st.elderly_level}'; use 'street' or "
                          "'committee'")
    _require_file(st.elderly_file, "standards.elderly_file")
    _require_file(st.committees_file, "standards.committees_file")
    if st.elderly_file is not None and not (st.elderly_code_column or st.elderly_name_column):
        raise ConfigError("standards.elderly_file needs elderly_code_column or "
                          "elderly_name_column to match the rows to streets")
    for k, v in st.reported.as_dict().items():
        if v < 0:
            raise ConfigError(f"standards.reported.{k} = {v:g} must not be negative")


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
    if acc.catchment_min is not None and not 0 < acc.catchment_min <= 120:
        raise ConfigError("accessibility.catchment_min must be between 0 and 120 minutes")
    if acc.step_minutes:
        if len(acc.step_minutes) != len(acc.step_weights) or any(
                b <= a for a, b in zip(acc.step_minutes, acc.step_minutes[1:], strict=False)):
            raise ConfigError("accessibility.step_minutes must increase and have one "
                              "step_weights entry each")
    elif len(acc.step_weights) != 3:
        raise ConfigError("accessibility.step_weights needs 3 weights for the default "
                          "three equal zones, or set step_minutes too")
    if any(w < 0 for w in acc.step_weights):
        raise ConfigError("accessibility.step_weights must not be negative")
    if acc.gaussian_sigma_min is not None and acc.gaussian_sigma_min <= 0:
        raise ConfigError("accessibility.gaussian_sigma_min must be positive (minutes)")
    if acc.per <= 0:
        raise ConfigError("accessibility.per must be positive (e.g. 1000)")
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
        extra: dict[str, Any] = {}
        cand = item.get("candidates", {})
        extra["candidates"] = _build(Candidates, cand, f"{where}.candidates", data_root)
        plans = item.get("plans", [])
        if not isinstance(plans, list):
            raise ConfigError(f"{where}.plans must be an array of tables: [[scenarios.plans]]")
        extra["plans"] = tuple(_build(TypeCount, p, f"{where}.plans[{k}]", None)
                               for k, p in enumerate(plans))
        if "link" in item:
            extra["link"] = _build(Link1N, item["link"], f"{where}.link", None)
        flat = {k: v for k, v in item.items() if k not in ("candidates", "plans", "link")}
        out.append(_build(Scenario, flat, where, None, skip=("candidates", "plans", "link"),
                          extra=extra))
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
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ConfigError(f"{key} must be an array of tables: write [[{key}]] above "
                                  f"each entry's keys (got {type(value).__name__} {value!r})")
        elif not isinstance(value, dict):
            raise ConfigError(f"{key} = {value!r} is a value, but [{key}] is a section: write "
                              f"[{key}] on its own line with its keys below it")
    if "study_area" not in raw:
        raise ConfigError("missing section [study_area] (with at least name = \"...\")")
    study = _build(StudyArea, raw["study_area"], "study_area", None)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", study.name):
        raise ConfigError(f"study_area.name = '{study.name}': use letters, digits, '-', '_' "
                          "(it names the output folder)")
    paths = raw.get("paths", {})
    if not isinstance(paths, dict) or set(paths) - {"data_root"}:
        raise ConfigError("[paths] allows only data_root")
    root_text = paths.get("data_root", "${GEOPLAN_DATA:-.}")
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

    if study.boundary is not None and not study.boundary.is_absolute():
        study = dataclasses.replace(study, boundary=data_root / study.boundary)
    network = _build(NetworkSource, raw.get("network", {}), "network", data_root)
    walking = _build(WalkingProfile, raw.get("walking", {}), "walking", None)
    analysis = _build(Analysis, raw.get("analysis", {}), "analysis", None)
    layers = raw.get("facilities", [])
    if not isinstance(layers, list):
        raise ConfigError("facilities must be an array of tables: write [[facilities]]")
    facilities = []
    for i, layer in enumerate(layers):
        extra: dict[str, Any] = {}
        if isinstance(layer, dict) and "categories" in layer:
            cats = layer["categories"]
            if not isinstance(cats, dict) or not all(isinstance(v, str)
                                                     for v in cats.values()):
                raise ConfigError(f"facilities[{i}].categories must be a table of category "
                                  "-> facility type, e.g. [facilities.categories] 1 = "
                                  "\"care_home\"")
            extra["categories"] = tuple((str(k), v) for k, v in cats.items())
            layer = {k: v for k, v in layer.items() if k != "categories"}
        fl = _build(FacilityLayer, layer, f"facilities[{i}]", data_root,
                    skip=("categories",) if extra else (), extra=extra)
        if not fl.label:
            fl = dataclasses.replace(fl, label=fl.path.stem)
        facilities.append(fl)
    areas = _build(Areas, raw.get("areas", {}), "areas", data_root)
    population = _build(Population, raw.get("population", {}), "population", data_root)
    out_raw = dict(raw.get("output", {}))
    if not isinstance(out_raw, dict):
        raise ConfigError("[output] must be a table")
    defaults = {"dir": f"data/processed/{study.name}", "maps_dir": "maps",
                "cache_dir": "data/processed/cache"}
    for k, v in defaults.items():
        out_raw.setdefault(k, v)
    output = _build(Output, out_raw, "output", Path.cwd())
    scenarios = _scenarios(raw.get("scenarios", []), data_root)
    standards = None
    if "standards" in raw:
        st_raw = raw["standards"]
        if not isinstance(st_raw, dict):
            raise ConfigError("[standards] must be a table")
        reported = _build(ReportedStock, st_raw.get("reported", {}), "standards.reported",
                          None)
        standards = _build(Standards, {k: v for k, v in st_raw.items() if k != "reported"},
                           "standards", data_root, skip=("reported",),
                           extra={"reported": reported})
        prof = standards.profile
        if prof.lower().endswith(".toml") and not Path(prof).is_absolute():
            standards = dataclasses.replace(standards, profile=str(base_dir / prof))
        if standards.district_code is None:
            standards = dataclasses.replace(standards, district_code=study.district_code)
    accessibility = (_build(Accessibility, raw["accessibility"], "accessibility", None)
                     if "accessibility" in raw else None)
    gap = (_build(GapIndex, raw["gap_index"], "gap_index", None) if "gap_index" in raw
           else GapIndex() if standards or accessibility else None)
    joins_raw = raw.get("joins", [])
    if not isinstance(joins_raw, list):
        raise ConfigError("joins must be an array of tables: write [[joins]]")
    joins = tuple(_build(Join, j, f"joins[{k}]", data_root) for k, j in enumerate(joins_raw))
    cfg = Config(study_area=study, network=network, walking=walking, analysis=analysis,
                 facilities=tuple(facilities), areas=areas, population=population,
                 output=output, data_root=data_root, scenarios=scenarios,
                 standards=standards, accessibility=accessibility, gap_index=gap,
                 source_file=source_file, raw=raw, joins=joins)
    _validate(cfg)
    return cfg
