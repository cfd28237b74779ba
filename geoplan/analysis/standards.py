"""Planning standards: profiles as data, and the check of each street and the district.

A *profile* (a TOML file; built-in ones in ``geoplan/data/standards``) lists the supply
standards a plan sets, each with its source, unit and the levels it applies to. Three kinds
of standard cover the plans in ``docs/domain.md``:

``per_elderly``
    The summed facility attribute ``metric`` (beds, nursing beds, floor area, capacity or
    a count) of the facilities of ``types`` must reach ``rate`` per ``per`` elderly
    (2.5 beds per 100 registered elderly; 40 m² per 1,000). ``rounding = "ceil"`` rounds
    the requirement up to whole units (431,700 × 2.5 % = 10,792.5 → 10,793 beds).
``min_count``
    At least ``count`` facilities of ``types`` per unit, optionally only public ones
    (``filter_public``) or only those of at least ``filter_min_floor_area_m2``.
``per_committees``
    One facility per ``committees_per_facility = [strict, lenient]`` residents'
    committees: the requirement is ``ceil(committees / lenient)``, and
    ``ceil(committees / strict)`` is shown as the strict end.

:func:`check_standards` evaluates a profile for the district and each street. A facility
whose attribute the standard needs is missing counts as *unknown*, never as zero: a unit
passes when the known supply already meets the requirement, fails when every facility is
known and the supply falls short, and is ``unknown`` otherwise (with the count of rows to
complete). Units without an elderly count (or with 0) are ``no_base``; a standard whose
facility types no layer provides and no reported figure covers is ``no_data``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geoplan.config import Range
from geoplan.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "KINDS",
    "METRICS",
    "STATUSES",
    "Profile",
    "Standard",
    "Units",
    "check_standards",
    "list_profiles",
    "load_profile",
    "required_amount",
]

KINDS = ("per_elderly", "min_count", "per_committees")
#: Facility attributes a ``per_elderly`` standard can sum ("count" counts facilities).
METRICS = ("beds", "nursing_beds", "floor_area_m2", "capacity", "count")
LEVELS = ("district", "street")
#: Check outcomes, worst first for sorting.
STATUSES = ("fail", "unknown", "no_base", "no_data", "pass")
#: Columns of the table :func:`check_standards` returns, in order.
RESULT_COLUMNS = ("unit_level", "unit_code", "unit_name", "standard_id", "standard",
                  "std_kind", "elderly", "committees", "required", "required_strict",
                  "existing_amount", "existing_source", "n_facilities", "unknown_rows",
                  "shortfall", "shortfall_share", "check_status", "std_unit", "detail",
                  "std_source")

_BUILTIN = "geoplan.data.standards"


@dataclass(frozen=True)
class Standard:
    """One planning standard of a profile (see the module docstring for the kinds)."""

    id: str
    kind: str
    name_zh: str
    name_en: str
    types: tuple[str, ...]
    unit_zh: str
    unit_en: str
    source: str
    levels: tuple[str, ...] = ("district", "street")
    note: str = ""
    metric: str | None = None
    rate: float | None = None
    per: float = 1.0
    rounding: str = "none"
    count: int = 1
    filter_public: bool | None = None
    filter_min_floor_area_m2: float | None = None
    committees_per_facility: tuple[int, int] | None = None

    def name(self, lang: str) -> str:
        """Display name in ``lang``."""
        return self.name_zh if lang == "zh" else self.name_en

    def unit(self, lang: str) -> str:
        """Unit label in ``lang``."""
        return self.unit_zh if lang == "zh" else self.unit_en

    @property
    def attribute(self) -> str | None:
        """The facility attribute the standard needs (None: a plain count)."""
        if self.kind == "per_elderly":
            return None if self.metric == "count" else self.metric
        if self.filter_min_floor_area_m2 is not None:
            return "floor_area_m2"
        if self.filter_public is not None:
            return "public"
        return None


@dataclass(frozen=True)
class Profile:
    """A named set of standards from one or more plans."""

    id: str
    name_zh: str
    name_en: str
    standards: tuple[Standard, ...]
    elderly_basis_zh: str = ""
    elderly_basis_en: str = ""
    path: Path | None = None

    def name(self, lang: str) -> str:
        """Display name in ``lang``."""
        return self.name_zh if lang == "zh" else self.name_en

    def select(self, ids: tuple[str, ...] | list[str]) -> Profile:
        """The profile restricted to the standards ``ids`` (in profile order).

        Raises
        ------
        ConfigError
            If an id is not in the profile.
        """
        known = [s.id for s in self.standards]
        for i in ids:
            if i not in known:
                raise ConfigError(f"standards.only lists '{i}', which profile '{self.id}' does "
                                  f"not have; use one of {', '.join(known)}")
        return Profile(self.id, self.name_zh, self.name_en,
                       tuple(s for s in self.standards if s.id in ids),
                       self.elderly_basis_zh, self.elderly_basis_en, self.path)


def list_profiles() -> list[str]:
    """Ids of the built-in profiles."""
    files = resources.files(_BUILTIN).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


#: Allowed values of the numeric keys of a profile's [[standards]] (checked before use).
PROFILE_RANGES: dict[str, Range] = {
    "rate": Range(0, 1e6, lo_open=True, advice="amount per `per` elderly, e.g. rate = 2.5, "
                                               "per = 100"),
    "per": Range(0, 1e9, lo_open=True, advice="the elderly the rate refers to, e.g. 100"),
    "count": Range(1, 10000, advice="facilities required per unit, e.g. 1"),
    "filter_min_floor_area_m2": Range(0, 1e6, advice="m² a facility needs to count"),
    "committees_per_facility": Range(1, 10000, advice="[strict, lenient], e.g. [4, 5]"),
}


def _standard(raw: Any, where: str) -> Standard:
    from geoplan.sources.facility_types import FACILITY_TYPES

    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    known = {f for f in Standard.__dataclass_fields__}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'; allowed: {', '.join(known)}")
    for key in ("id", "kind", "name_zh", "name_en", "types", "unit_zh", "unit_en", "source"):
        if key not in raw:
            raise ConfigError(f"{where}: missing key '{key}'")
    kw = dict(raw)
    kw["types"] = tuple(raw["types"]) if isinstance(raw["types"], list) else raw["types"]
    kw["levels"] = tuple(raw.get("levels", ("district", "street")))
    if "committees_per_facility" in raw:
        cpf = raw["committees_per_facility"]
        if (not isinstance(cpf, list) or len(cpf) != 2
                or not all(isinstance(v, int) and v >= 1 for v in cpf) or cpf[0] > cpf[1]):
            raise ConfigError(f"{where}.committees_per_facility must be [strict, lenient] "
                              f"whole numbers >= 1 with strict <= lenient, got {cpf!r}")
        kw["committees_per_facility"] = (cpf[0], cpf[1])
    for key in ("rate", "per", "filter_min_floor_area_m2"):
        if key in raw:
            if isinstance(raw[key], bool) or not isinstance(raw[key], int | float):
                raise ConfigError(f"{where}.{key} must be a number, got {raw[key]!r}")
            kw[key] = float(raw[key])
    if "count" in raw and (isinstance(raw["count"], bool) or not isinstance(raw["count"], int)):
        raise ConfigError(f"{where}.count must be a whole number >= 1, got {raw['count']!r}")
    for key, rng in PROFILE_RANGES.items():  # finite and in range (TOML allows nan, inf)
        if key in kw and kw[key] is not None:
            values = kw[key] if isinstance(kw[key], tuple) else (kw[key],)
            for v in values:
                msg = rng.message(f"{where}.{key}", v)
                if msg is not None:
                    raise ConfigError(msg)
    s = Standard(**kw)
    if s.kind not in KINDS:
        raise ConfigError(f"{where}.kind = '{s.kind}'; use one of {', '.join(KINDS)}")
    if not isinstance(s.types, tuple) or not s.types:
        raise ConfigError(f"{where}.types must list facility types")
    for t in s.types:
        if t not in FACILITY_TYPES:
            raise ConfigError(f"{where}.types: '{t}' is not a known facility type; use one "
                              f"of {', '.join(FACILITY_TYPES)}")
    bad = [v for v in s.levels if v not in LEVELS]
    if bad or not s.levels:
        raise ConfigError(f"{where}.levels must list 'district' and/or 'street'")
    if s.kind == "per_elderly":
        if s.metric not in METRICS:
            raise ConfigError(f"{where}.metric = {s.metric!r}; use one of {', '.join(METRICS)}")
        if s.rate is None or s.rate <= 0 or s.per <= 0:
            raise ConfigError(f"{where}: per_elderly needs a positive rate and per "
                              "(e.g. rate = 2.5, per = 100)")
        if s.rounding not in ("none", "ceil"):
            raise ConfigError(f"{where}.rounding = '{s.rounding}'; use 'none' or 'ceil'")
    if s.kind == "min_count" and (not isinstance(s.count, int) or s.count < 1):
        raise ConfigError(f"{where}.count must be a whole number >= 1")
    if s.kind == "per_committees" and s.committees_per_facility is None:
        raise ConfigError(f"{where}: per_committees needs committees_per_facility = "
                          "[strict, lenient], e.g. [4, 5]")
    return s


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a built-in profile by id, or a profile TOML file by path.

    Parameters
    ----------
    name_or_path : str or Path
        ``"shanghai-yangpu-2016"``, ``"hangzhou-xihu-2016"`` (see :func:`list_profiles`)
        or the path of a user's TOML file in the same format.

    Returns
    -------
    Profile

    Raises
    ------
    ConfigError
        If the profile is unknown or the file is invalid (the message names the file and
        the standard).
    """
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix.lower() == ".toml" or path.exists():
        if path.is_dir():
            raise ConfigError(f"standards profile {path} is a folder, not a file; give the "
                              "profile's TOML file")
        if not path.is_file():
            raise ConfigError(f"standards profile file not found: {path}")
        where, source = str(path), path.read_text(encoding="utf-8")
    else:
        if text not in list_profiles():
            raise ConfigError(f"unknown standards profile '{text}'; use one of "
                              f"{', '.join(list_profiles())} or the path of a profile TOML")
        res = resources.files(_BUILTIN).joinpath(f"{text}.toml")
        where, source, path = f"profile '{text}'", res.read_text(encoding="utf-8"), None
    try:
        raw = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    head = raw.get("profile")
    if not isinstance(head, dict) or "id" not in head:
        raise ConfigError(f"{where}: needs a [profile] table with id, name_zh, name_en")
    items = raw.get("standards", [])
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: needs at least one [[standards]] table")
    stds = tuple(_standard(s, f"{where} standards[{i}]") for i, s in enumerate(items))
    ids = [s.id for s in stds]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{where}: standard id '{dup[0]}' is used twice")
    return Profile(id=str(head["id"]), name_zh=str(head.get("name_zh", head["id"])),
                   name_en=str(head.get("name_en", head["id"])), standards=stds,
                   elderly_basis_zh=str(head.get("elderly_basis_zh", "")),
                   elderly_basis_en=str(head.get("elderly_basis_en", "")), path=path)


@dataclass
class Units:
    """The district and its streets, with the bases the standards are computed from.

    Attributes
    ----------
    district_code, district_name : str
        The district.
    district_elderly : float
        Elderly of the district (NaN: unknown).
    district_committees : float
        Residents' committees of the district (NaN: unknown).
    streets : pandas.DataFrame
        Columns ``street_code``, ``street_name``, ``elderly`` and ``committees`` (NaN:
        unknown); may be empty for a district-only check.
    elderly_source : str
        Where the elderly figures come from (shown in the table notes).
    """

    district_code: str
    district_name: str
    district_elderly: float = math.nan
    district_committees: float = math.nan
    streets: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"street_code": pd.Series([], dtype=object), "street_name": pd.Series([], dtype=object),
         "elderly": pd.Series([], dtype=float), "committees": pd.Series([], dtype=float)}))
    elderly_source: str = ""


def required_amount(std: Standard, elderly: float | np.ndarray,
                    committees: float | np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """What a standard requires for given bases.

    Parameters
    ----------
    std : Standard
        The standard.
    elderly, committees : float or array
        Elderly and committee counts of the units (NaN: unknown).

    Returns
    -------
    required, required_strict : numpy.ndarray
        The requirement in the standard's unit (NaN where the base is unknown or zero) and,
        for ``per_committees``, the strict end (NaN otherwise).

    Examples
    --------
    >>> p = load_profile("shanghai-yangpu-2016")
    >>> beds = next(s for s in p.standards if s.id == "care_home_beds")
    >>> float(required_amount(beds, 431_700)[0][0])
    10793.0
    """
    e = np.atleast_1d(np.asarray(elderly, dtype=np.float64))
    nan = np.full(e.shape, np.nan)
    if std.kind == "per_elderly":
        assert std.rate is not None
        # round away binary noise first: 431,700 × 2.5 / 100 is exactly 10,792.5
        raw = np.round(e * std.rate / std.per, 9)
        req = np.ceil(raw) if std.rounding == "ceil" else raw
        return np.where(e > 0, req, np.nan), nan
    if std.kind == "min_count":
        return np.full(e.shape, float(std.count)), nan
    assert std.committees_per_facility is not None
    c = np.atleast_1d(np.asarray(committees if committees is not None else np.nan,
                                 dtype=np.float64))
    c = np.broadcast_to(c, e.shape) if c.size == 1 else c
    strict, lenient = std.committees_per_facility
    ok = c > 0
    return (np.where(ok, np.ceil(np.round(c / lenient, 9)), np.nan),
            np.where(ok, np.ceil(np.round(c / strict, 9)), np.nan))


def _supply_values(std: Standard, inv: pd.DataFrame) -> np.ndarray:
    """Per facility row: its contribution (NaN: unknown, the attribute is missing)."""
    n = len(inv)
    if std.kind == "per_elderly":
        if std.metric == "count":
            return np.ones(n)
        return inv[std.metric].to_numpy(np.float64)
    ok = np.ones(n)
    if std.filter_public is not None:
        pub = inv["public"].to_numpy(np.float64)
        want = 1.0 if std.filter_public else 0.0
        ok = np.where(np.isnan(pub), np.nan, ok * (pub == want))
    if std.filter_min_floor_area_m2 is not None:
        area = inv["floor_area_m2"].to_numpy(np.float64)
        ok = np.where(np.isnan(area), np.nan, ok * (area >= std.filter_min_floor_area_m2))
    return ok


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}".rstrip("0").rstrip(".")


def check_standards(profile: Profile, units: Units, inventory: pd.DataFrame, *,
                    configured_types: tuple[str, ...] | list[str] | None = None,
                    reported: dict[str, float] | None = None, reported_source: str = "",
                    lang: str = "zh") -> pd.DataFrame:
    """Check every standard of a profile for the district and each street.

    Parameters
    ----------
    profile : Profile
        The standards.
    units : Units
        District and streets with their elderly and committee counts.
    inventory : pandas.DataFrame
        Existing facilities, one row each (located or not, inside the study area or not):
        columns ``type``, ``street_code`` ('' when unknown), ``beds``, ``nursing_beds``,
        ``floor_area_m2``, ``capacity`` (NaN: unknown) and ``public`` (1/0, NaN: unknown).
    configured_types : sequence of str, optional
        Facility types the config has layers for; a standard none of whose types is among
        them (and which no reported figure covers) is ``no_data``. Default: the types
        present in ``inventory``.
    reported : dict of str to float, optional
        District-level stock given directly, by metric (``beds``, ``nursing_beds``,
        ``floor_area_m2``, ``capacity``), e.g. from a plan's table; it replaces the sum of
        facility attributes for ``per_elderly`` standards at district level.
    reported_source : str
        Where the reported figures come from.
    lang : {"zh", "en"}
        Language of the ``standard``, ``unit`` and ``detail`` texts.

    Returns
    -------
    pandas.DataFrame
        One row per standard and unit (district first, then streets), columns
        :data:`RESULT_COLUMNS`. ``shortfall`` is what is missing in the standard's unit (0
        when met; an upper bound when ``check_status == "unknown"``); ``shortfall_share``
        is ``shortfall / required``.
    """
    inv = inventory
    conf = set(configured_types) if configured_types is not None else set(inv["type"])
    reported = {k: float(v) for k, v in (reported or {}).items() if v is not None}
    streets = units.streets
    codes = streets["street_code"].astype(str).to_numpy()
    zh = lang == "zh"
    rows: list[dict[str, Any]] = []
    for std in profile.standards:
        sel = inv["type"].isin(std.types).to_numpy()
        sub = inv[sel]
        vals = _supply_values(std, sub)
        unknown = np.isnan(vals)
        have_layer = bool(conf.intersection(std.types))
        by_metric = std.kind == "per_elderly" and std.metric in reported
        base = {"standard_id": std.id, "standard": std.name(lang), "std_kind": std.kind,
                "std_unit": std.unit(lang), "std_source": std.source}
        # units: district first, then streets
        unit_list: list[tuple[str, str, str, float, float, np.ndarray]] = []
        if "district" in std.levels:
            unit_list.append(("district", units.district_code, units.district_name,
                              units.district_elderly, units.district_committees,
                              np.ones(len(sub), dtype=bool)))
        if "street" in std.levels and len(streets):
            scode = sub["street_code"].astype(str).to_numpy()
            for k in range(len(streets)):
                unit_list.append(("street", codes[k], str(streets["street_name"].iloc[k]),
                                  float(streets["elderly"].iloc[k]),
                                  float(streets["committees"].iloc[k]), scode == codes[k]))
        elderly = np.array([u[3] for u in unit_list], dtype=np.float64)
        comm = np.array([u[4] for u in unit_list], dtype=np.float64)
        req, strict = required_amount(std, elderly, comm)
        for k, (level, code, name, e, c, mask) in enumerate(unit_list):
            n_fac = int(mask.sum())
            n_unknown = int(unknown[mask].sum())
            existing = float(np.nansum(vals[mask]))
            source = ((f"{n_fac} 处设施的属性" if zh else f"attributes of {n_fac} facilities")
                      if have_layer else "")
            if level == "district" and by_metric:
                existing, n_unknown = reported[std.metric], 0  # type: ignore[index]
                source = ("上报数" if zh else "reported") + (
                    f": {reported_source}" if reported_source else "")
            r = float(req[k])
            gap = math.nan
            share = math.nan
            details: list[str] = []
            if not have_layer and not (level == "district" and by_metric):
                status = "no_data"
                details.append(
                    f"配置中没有 {', '.join(std.types)} 类设施图层；添加该图层后可检查"
                     if zh else f"no facility layer of type {', '.join(std.types)} in the "
                     "config; add one to check this standard")
                existing = math.nan
            elif math.isnan(r):
                status = "no_base"
                if std.kind == "per_committees":
                    details.append("缺少居委会数" if zh else "no committee count for this unit")
                elif e == 0:
                    details.append("老年人口为0，请检查人口表" if zh else
                                   "0 elderly recorded; check the population table")
                else:
                    details.append("缺少老年人口数" if zh else "no elderly count for this unit")
            else:
                gap = max(r - existing, 0.0)
                share = gap / r if r > 0 else 0.0
                if existing >= r - 1e-9:
                    status = "pass"
                elif n_unknown:
                    status = "unknown"
                else:
                    status = "fail"
            if n_unknown and status != "no_data":
                attr = std.attribute or "?"
                details.append(f"{n_unknown} 处设施缺少 {attr}，按未知计（非0）" if zh else
                               f"{n_unknown} facilities lack {attr}; counted as unknown, "
                               "not zero")
            rows.append({**base, "unit_level": level, "unit_code": code, "unit_name": name,
                         "elderly": e, "committees": c, "required": r,
                         "required_strict": float(strict[k]), "existing_amount": existing,
                         "existing_source": source, "n_facilities": n_fac,
                         "unknown_rows": n_unknown, "shortfall": gap, "shortfall_share": share,
                         "check_status": status, "detail": "; ".join(details)})
    out = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    return out


def standards_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Counts of each status per standard (one row per standard)."""
    if table.empty:
        return pd.DataFrame(columns=["standard_id", *STATUSES])
    counts = pd.crosstab(table["standard_id"], table["check_status"])
    for s in STATUSES:
        if s not in counts:
            counts[s] = 0
    order = list(dict.fromkeys(table["standard_id"]))
    return counts[list(STATUSES)].reindex(order).reset_index()


def street_shortfall(table: pd.DataFrame) -> pd.DataFrame:
    """Mean shortfall share per street over the standards that could be checked.

    Returns
    -------
    pandas.DataFrame
        ``street_code``, ``standards_shortfall`` (mean of ``shortfall_share`` over the
        street-level rows with check_status pass, fail or unknown; 0 = all met),
        ``standards_checked`` and ``standards_failed``.
    """
    st = table[(table["unit_level"] == "street")
               & table["check_status"].isin(["pass", "fail", "unknown"])]
    g = st.groupby("unit_code")
    return pd.DataFrame({
        "standards_shortfall": g["shortfall_share"].mean(),
        "standards_checked": g.size(),
        "standards_failed": (st["check_status"] == "fail").groupby(st["unit_code"]).sum(),
    }).rename_axis("street_code").reset_index()


def format_number(v: float) -> str:
    """Thousands separators; no decimals for whole numbers; NaN as '–'."""
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else _fmt(float(v))
