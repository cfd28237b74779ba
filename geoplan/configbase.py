"""The light part of the config: allowed values and :class:`Range`, without pydantic.

The command-line parser needs the siting models and the ranges of the numbers it parses
before any config is read; importing :mod:`geoplan.config` (pydantic models) for that would
slow down ``geoplan --help``. Everything here is re-exported by :mod:`geoplan.config`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
LOW_QUALITY_ACTIONS = ("flag", "drop")
#: Base maps of the web map (no Amap/GaoDe: its tiles are in GCJ-02 and would sit
#: ~500 m off the WGS84 data layers).
BASEMAPS = ("osm", "tianditu", "none")
ACCESS_METHODS = ("2sfca", "e2sfca_step", "e2sfca_gaussian")
SUPPLY_ATTRIBUTES = ("capacity", "beds", "nursing_beds", "floor_area_m2", "count")
MISSING_SUPPLY = ("median", "count", "error")
SITING_MODELS = ("mclp", "lscp", "pmedian", "cmclp", "multi", "floors", "maximin", "wmclp")
#: Units over which equity models and figures are computed: analysis areas or streets.
EQUITY_LEVELS = ("area", "street")
SITING_METHODS = ("auto", "exact", "heuristic")
DEMAND_WEIGHTS = ("elderly_60", "elderly_80")
ELDERLY_LEVELS = ("street", "committee")
#: OSM ``building=*`` values taken as non-residential candidate buildings by default.
CANDIDATE_BUILDINGS: tuple[str, ...] = (
    "commercial", "retail", "office", "public", "civic", "government", "community_centre",
    "kindergarten", "service", "warehouse",
)

#: 80+ walking speed relative to the 60+ speed. Bohannon & Andrews (2011), "Normal walking
#: speed: a descriptive meta-analysis", Physiotherapy 97(3):182–189: comfortable gait speed
#: of men 1.34 m/s at 60–69 and 0.97 m/s at 80–99, of women 1.24 and 0.94 m/s; the mean
#: ratio (0.955 / 1.29) is 0.74. Applied to the planning value 3.6 km/h: 2.7 km/h for 80+.
SPEED_80_RATIO = 0.74


@dataclass(frozen=True)
class Range:
    """Allowed values of one numeric setting (always finite).

    In :mod:`geoplan.config` each numeric field is declared with its Range, which gives the
    field's pydantic constraints (``ge``/``gt``/``le``/``lt``), the range in the JSON Schema
    and docs/config.md, and the one-line message for a bad value.

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

    def bounds(self) -> dict[str, float]:
        """The pydantic/annotated-types constraints, e.g. ``{"gt": 0, "le": 120}``."""
        return {("gt" if self.lo_open else "ge"): self.lo,
                ("lt" if self.hi_open else "le"): self.hi}

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
