"""``geoplan standards``: check the plans' supply standards per street and for the district.

:func:`check_config` needs no walking network: it reads the facility tables (every row, with
or without coordinates, inside the study area or not: the standards count the district's
whole stock), the admin tables and the elderly figures, and evaluates the profile.
:func:`write_standards_outputs` writes the table (CSV, XLSX, GeoPackage) and a manifest
atomically. :func:`quick_check` answers the district-level question without a config
("431,700 registered elderly: how many beds does the plan require?").
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geoplan.analysis.standards import (
    Profile,
    Units,
    check_standards,
    format_number,
    load_profile,
    standards_summary,
)
from geoplan.config import Config, FacilityLayer, Standards
from geoplan.errors import InputDataError
from geoplan.notes import Note, note_text
from geoplan.outputs.labels import column_label, value_label
from geoplan.outputs.manifest import RunManifest
from geoplan.outputs.tables import display_width
from geoplan.sources.admin import committee_counts, match_streets, read_elderly, read_streets
from geoplan.sources.facilities import load_facilities

log = logging.getLogger(__name__)

__all__ = ["StandardsResult", "build_units", "check_config", "district_key", "district_stock",
           "format_table", "quick_check", "standards_paths", "write_standards_outputs"]


@dataclass
class StandardsResult:
    """A standards check with everything it was computed from."""

    profile: Profile
    table: pd.DataFrame
    summary: pd.DataFrame
    units: Units
    inventory: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing: pd.DataFrame = field(default_factory=pd.DataFrame)


def build_units(cfg: Config, st: Standards) -> tuple[Units, list[str]]:
    """District and streets with elderly and committee counts, from the config's tables.

    Returns
    -------
    units : Units
    warnings : list of str
        Streets with 0 elderly, streets without counts, totals that disagree.
    """
    warnings: list[str] = []
    code = st.district_code or ""
    streets = (read_streets(cfg.areas.streets_file, code) if cfg.areas.streets_file
               else pd.DataFrame({"street_code": pd.Series([], dtype=object),
                                  "street_name": pd.Series([], dtype=object)}))
    elderly = None
    estimate_note = ""
    if st.elderly_file is not None:
        elderly = read_elderly(st.elderly_file, level=st.elderly_level,
                               code_column=st.elderly_code_column,
                               name_column=st.elderly_name_column,
                               elderly_column=st.residents_column or st.elderly_column,
                               streets=streets)
        if st.residents_column:  # residents of all ages: estimate the 60+ by census share
            from geoplan.sources.population import elderly_shares

            shares = elderly_shares(cfg.population)
            elderly["elderly"] = elderly["elderly"] * shares.share_60
            estimate_note = Note(f"street elderly estimated: {st.residents_column} × the 60+ "
                                 f"share {100 * shares.share_60:.2f} % ({shares.source})",
                                 f"街道老年人口为估算值：{st.residents_column} × 60岁以上人口"
                                 f"比例{100 * shares.share_60:.2f}%（{shares.source}）")
            log.info("standards: %s: %s", st.elderly_file, estimate_note)
        if streets.empty:
            streets = elderly[["street_code", "street_name"]].copy()
    streets = streets.copy()
    streets["elderly"] = np.nan
    if elderly is not None:
        streets["elderly"] = streets["street_code"].map(
            elderly.set_index("street_code")["elderly"]).astype(float)
        zero = streets[streets["elderly"] == 0]
        for name in zero["street_name"]:
            warnings.append(Note(f"{st.elderly_file}: street {name} has 0 elderly; its "
                                 "per-elderly standards are not checked (check the population "
                                 "table)",
                                 f"{st.elderly_file}：{name}的老年人口为0，未检查其按老年人口"
                                 "计算的标准（请检查人口表）"))
        missing = streets[streets["elderly"].isna()]
        if len(missing):
            listed = (f"{', '.join(missing['street_name'][:5])}"
                      f"{' …' if len(missing) > 5 else ''}")
            warnings.append(Note(f"{st.elderly_file}: no elderly count for {len(missing)} of "
                                 f"{len(streets)} streets ({listed})",
                                 f"{st.elderly_file}：{len(streets)}个街道中有{len(missing)}个"
                                 f"没有老年人口数（{listed}）"))
    committees = math.nan
    streets["committees"] = np.nan
    if st.committees_file is not None:
        counts = committee_counts(st.committees_file, code)
        streets["committees"] = streets["street_code"].map(counts).astype(float)
        committees = float(counts.sum())
    street_total = float(streets["elderly"].sum()) if streets["elderly"].notna().all() and len(
        streets) else math.nan
    if st.elderly_total is not None:
        district = float(st.elderly_total)
        if np.isfinite(street_total) and abs(street_total - district) > 0.005 * district:
            warnings.append(Note(f"standards.elderly_total = {district:,.0f} but the streets "
                                 f"sum to {street_total:,.0f}; the district row uses "
                                 "elderly_total",
                                 f"standards.elderly_total 为{district:,.0f}，但各街道合计为"
                                 f"{street_total:,.0f}；全区一行采用 elderly_total"))
    else:
        district = street_total
    source = st.elderly_basis or ("standards.elderly_total" if st.elderly_total else
                                  str(st.elderly_file or ""))
    if estimate_note:
        source = Note(f"{source}; {estimate_note}", f"{source}；{note_text(estimate_note)}")
    units = Units(district_code=code, district_name=st.district_name or code,
                  district_elderly=district, district_committees=committees,
                  streets=streets[["street_code", "street_name", "elderly", "committees"]],
                  elderly_source=source)
    return units, warnings


_DISTRICT_SUFFIX = re.compile(r"(新区|区|县|市|旗)$")


def district_key(name: object) -> str:
    """Normalised district name for matching: NFKC, no spaces, the suffix 区/新区/县/市/旗
    removed when a name of two or more characters remains (``"杨浦区"`` and ``" 杨浦 "`` ->
    ``"杨浦"``; ``"浦东新区"`` -> ``"浦东"``)."""
    text = "".join(unicodedata.normalize("NFKC", str(name)).split())
    short = _DISTRICT_SUFFIX.sub("", text)
    return short if len(short) >= 2 else text


def district_stock(inventory: pd.DataFrame, st: Standards,
                   layers: tuple[FacilityLayer, ...] | list[FacilityLayer] = ()
                   ) -> tuple[pd.DataFrame, list[str]]:
    """The rows of the inventory that are the district's stock.

    Rows of a layer with a ``district_column`` (a city-wide list) count only when their
    district is ``st.district_name`` (compared by :func:`district_key`) or a division code
    starting with ``st.district_code``; rows naming another district, and rows with no
    district (which district they belong to is unknown), are left out of the standards
    (they stay walking supply). Rows of other layers are the district's.

    Returns
    -------
    inventory : pandas.DataFrame
        The rows counted, index reset.
    notes : list of str
        How many rows were left out and why (empty when none).
    """
    city_wide = {layer.label or layer.path.stem for layer in layers
                 if layer.district_column is not None}
    if not city_wide or "district" not in inventory.columns:
        return inventory, []
    in_list = inventory["layer"].isin(city_wide).to_numpy()
    raw = inventory["district"]
    blank = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    text = raw.astype(object).where(~blank, "").astype(str).str.strip()
    ours = np.zeros(len(inventory), dtype=bool)
    if st.district_name:
        ours |= (text.map(district_key) == district_key(st.district_name)).to_numpy()
    code = (st.district_code or "").strip()
    if code:
        digits = text.str.fullmatch(r"\d{6,12}").to_numpy(dtype=bool)
        ours |= digits & text.str.startswith(code).to_numpy(dtype=bool)
    other = in_list & ~blank & ~ours
    unknown = in_list & blank
    notes = []
    which = st.district_name or code
    if other.any():
        counts = text[other].value_counts()
        listed = ", ".join(f"{k} {n}" for k, n in counts.head(4).items())
        more = " …" if len(counts) > 4 else ""
        lists = ", ".join(sorted(city_wide))
        notes.append(Note(f"{int(other.sum())} facilities of other districts in city-wide "
                          f"lists ({lists}) are walking supply only, not {which}'s stock in "
                          f"the standards ({listed}{more})",
                          f"全市名录（{lists}）中其他区的{int(other.sum())}处设施只作为步行可达"
                          f"的供给，不计入{which}的配建标准存量（{listed}{more}）"))
    if unknown.any():
        names = inventory.loc[unknown, "name"].astype(str)
        eg = ", ".join(names.head(3)) + (" …" if len(names) > 3 else "")
        notes.append(Note(f"{int(unknown.sum())} facilities of city-wide lists have no "
                          f"district; not counted in {which}'s standards (e.g. {eg})",
                          f"全市名录中有{int(unknown.sum())}处设施没有所属区，不计入{which}"
                          f"的配建标准（如{eg}）"))
    return inventory[~other & ~unknown].reset_index(drop=True), notes


def check_config(cfg: Config, *, lang: str | None = None,
                 inventory: pd.DataFrame | None = None) -> StandardsResult:
    """Check the config's ``[standards]`` against its facility tables.

    Parameters
    ----------
    cfg : Config
        A config with a ``[standards]`` section.
    lang : {"zh", "en"}, optional
        Language of the texts; default ``cfg.output.lang``.
    inventory : pandas.DataFrame, optional
        The facility inventory if already loaded (:attr:`FacilityLoad.inventory`).

    Raises
    ------
    InputDataError
        If the config has no ``[standards]`` section, or a table is unusable.
    """
    st = cfg.standards
    if st is None:
        raise InputDataError(f"{cfg.source_file or 'config'}: no [standards] section; add "
                             "one (profile = \"shanghai-yangpu-2016\", elderly_total = …)")
    lang = lang or cfg.output.lang
    profile = load_profile(st.profile)
    if st.only:
        profile = profile.select(st.only)
    units, warnings = build_units(cfg, st)
    inv = (inventory if inventory is not None
           else load_facilities(cfg.facilities, cfg.joins).inventory)
    inv, left_out = district_stock(inv, st, cfg.facilities)
    for note in left_out:
        log.info("standards: %s", note)
    inv = inv.copy()
    inv["street_code"] = (match_streets(inv["street"], units.streets, fallback=inv["name"])
                          if len(units.streets) else "")
    unmatched = inv[(inv["street_code"] == "")]
    if len(units.streets) and len(unmatched):
        eg = (", ".join(unmatched["name"].astype(str).head(3))
              + (" …" if len(unmatched) > 3 else ""))
        warnings.append(Note(f"{len(unmatched)} facilities match no street of the district "
                             f"(counted for the district only): {eg}",
                             f"{len(unmatched)}处设施未匹配到本区街道（只计入全区）：{eg}"))
    table = check_standards(profile, units, inv, configured_types=cfg.facility_types,
                            reported=st.reported.as_dict(), reported_source=st.reported.source,
                            lang=lang)
    missing = missing_attributes(profile, inv, cfg.facility_types)
    for s in profile.standards:
        if table.loc[table["standard_id"] == s.id, "check_status"].eq("no_data").all():
            warnings.append(Note(f"standard '{s.id}' needs facilities of type "
                                 f"{' or '.join(s.types)}; no [[facilities]] layer has that "
                                 "type, so it is reported as 'no data'",
                                 f"标准“{s.name('zh')}”需要"
                                 f"{'或'.join(value_label('type', t, 'zh') for t in s.types)}"
                                 "类设施；没有该类型的 [[facilities]] 图层，结果记为“无数据”"))
    for w in warnings:
        log.warning("standards: %s", w)
    basis_en = st.elderly_basis or profile.elderly_basis_en
    basis_zh = st.elderly_basis or profile.elderly_basis_zh
    notes = [Note(f"Standards profile: {profile.id} — {profile.name('en')}",
                  f"配建标准：{profile.id} — {profile.name('zh')}"),
             Note(f"Elderly basis: {basis_en}", f"老年人口基数：{basis_zh}"),
             *([Note(f"Street elderly (estimate): {units.elderly_source}",
                     f"街道老年人口（估算）：{note_text(units.elderly_source)}")]
               if st.residents_column else []),
             Note("A facility lacking the attribute a standard needs (beds, floor area, "
                  "public) counts as unknown, not zero: such a unit passes only if the known "
                  "supply already meets the requirement, else its result is 'unknown'.",
                  "缺少标准所需属性（床位数、建筑面积、是否公办）的设施按“未知”而非0计："
                  "只有已知供给已满足要求的单元才判为达标，否则结果为“未知”。"),
             Note("Requirements in whole units (beds) are rounded up: 431,700 × 2.5 % = "
                  "10,792.5 → 10,793.",
                  "以整数计的要求（床位）向上取整：431,700 × 2.5% = 10,792.5 → 10,793。"),
             *left_out,
             *warnings]
    return StandardsResult(profile=profile, table=table, summary=standards_summary(table),
                           units=units, inventory=inv, notes=notes, warnings=warnings,
                           missing=missing)


def missing_attributes(profile: Profile, inventory: pd.DataFrame,
                       configured_types: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Which facilities lack the attribute a standard needs (one row per standard and
    facility): ``standard_id``, ``fid``, ``layer``, ``source_row``, ``name``, ``type``,
    ``street``, ``attribute``. They count as unknown, not zero."""
    frames = []
    for s in profile.standards:
        attr = s.attribute
        if attr is None or not set(s.types) & set(configured_types):
            continue
        sel = inventory[inventory["type"].isin(s.types) & inventory[attr].isna()]
        cols = [c for c in ("fid", "layer", "source_row", "name", "type", "street")
                if c in sel.columns]
        frames.append(sel[cols].assign(standard_id=s.id, attribute=attr))
    if not frames:
        return pd.DataFrame(columns=["standard_id", "fid", "layer", "source_row", "name",
                                     "type", "street", "attribute"])
    out = pd.concat(frames, ignore_index=True)
    return out[["standard_id", *[c for c in out.columns if c != "standard_id"]]]


def quick_check(profile: str | Path, elderly: float, *, beds: float | None = None,
                nursing_beds: float | None = None, floor_area_m2: float | None = None,
                committees: float | None = None, lang: str = "zh",
                district_name: str = "") -> pd.DataFrame:
    """District-level requirement table from an elderly total, without a study area.

    Parameters
    ----------
    profile : str or Path
        Built-in profile id or profile TOML.
    elderly : float
        The district's elderly (e.g. 431,700 registered elderly).
    beds, nursing_beds, floor_area_m2 : float, optional
        Existing stock; without it the existing column stays empty.
    committees : float, optional
        Residents' committees of the district (for per-committee standards).
    lang : {"zh", "en"}
        Language of the texts.

    Returns
    -------
    pandas.DataFrame
        The district rows of :func:`~geoplan.analysis.standards.check_standards` for the
        standards that apply at district level.
    """
    if not elderly > 0:
        raise InputDataError(f"--elderly {elderly:g}: give the district's elderly, a "
                             "positive number (e.g. 431700)")
    prof = load_profile(profile)
    units = Units(district_code="", district_name=district_name or "district",
                  district_elderly=float(elderly),
                  district_committees=float(committees) if committees else math.nan)
    reported = {k: v for k, v in (("beds", beds), ("nursing_beds", nursing_beds),
                                  ("floor_area_m2", floor_area_m2)) if v is not None}
    for k, v in reported.items():
        if v < 0:
            raise InputDataError(f"--{k.replace('_m2', '').replace('_', '-')} {v:g} must not "
                                 "be negative")
    empty = pd.DataFrame({c: pd.Series([], dtype=float) for c in
                          ("beds", "nursing_beds", "floor_area_m2", "capacity", "public")})
    empty["type"] = pd.Series([], dtype=object)
    empty["street_code"] = pd.Series([], dtype=object)
    table = check_standards(prof, units, empty, configured_types=[], reported=reported,
                            reported_source="", lang=lang)
    table = table[table["unit_level"] == "district"].reset_index(drop=True)
    given = {s.id for s in prof.standards if s.kind == "per_elderly" and s.metric in reported}
    blank = ~table["standard_id"].isin(given)
    # no stock given for these: show the requirement only
    table.loc[blank, ["existing_amount", "shortfall", "shortfall_share"]] = np.nan
    table.loc[blank, ["check_status", "detail", "existing_source"]] = ""
    return table


_SHOW = ("standard", "required", "existing_amount", "shortfall", "std_unit", "check_status")


def format_table(table: pd.DataFrame, lang: str = "zh",
                 columns: tuple[str, ...] = _SHOW) -> str:
    """Plain-text table for the terminal (CJK-aware column widths)."""
    head = [column_label(c, lang) for c in columns]
    body = []
    for _, row in table.iterrows():  # a handful of rows, for printing only
        cells = []
        for c in columns:
            v = row[c]
            if c in ("required", "existing_amount", "shortfall"):
                cells.append(format_number(v))
            elif c == "check_status":
                cells.append(str(value_label(c, v, lang)) if v else "")
            else:
                cells.append("" if v is None or (isinstance(v, float) and math.isnan(v))
                             else str(v))
        body.append(cells)
    widths = [max(display_width(x) for x in col) for col in zip(head, *body, strict=False)]
    numeric = {i for i, c in enumerate(columns) if c in ("required", "existing_amount",
                                                         "shortfall")}

    def line(cells: list[str]) -> str:
        out = []
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            pad = " " * (w - display_width(cell))
            out.append(pad + cell if i in numeric else cell + pad)
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(r) for r in body)])


def standards_paths(cfg: Config) -> dict[str, Path]:
    """Where :func:`write_standards_outputs` puts each file."""
    folder = cfg.output.dir / "standards"
    base = f"{cfg.study_area.name}-standards"
    return {"gpkg": folder / f"{base}.gpkg", "tables": folder / base,
            "manifest": folder / f"{base}-manifest.json"}


def standards_sheets(res: StandardsResult) -> dict[str, pd.DataFrame]:
    """The tables of a check, keyed for the workbook and GeoPackage."""
    return {"standards": res.table, "standards_summary": res.summary,
            "street_bases": res.units.streets, "standards_missing": res.missing,
            "inventory": res.inventory}


def write_standards_outputs(cfg: Config, res: StandardsResult,
                            manifest: RunManifest) -> dict[str, Any]:
    """Write the standards tables (CSV, XLSX), GeoPackage and manifest atomically."""
    from geoplan.outputs.atomic import StagedOutputs
    from geoplan.outputs.gpkg import write_geopackage
    from geoplan.outputs.tables import write_area_tables

    paths = standards_paths(cfg)
    sheets = standards_sheets(res)
    with StagedOutputs({"data": paths["gpkg"].parent}) as staged:
        with manifest.step("write outputs"):
            write_geopackage(staged.path("data", paths["gpkg"].name), sheets)
            tables = write_area_tables(staged, ("data", paths["tables"].name), sheets,
                                       lang=cfg.output.lang,
                                       circle_minutes=cfg.analysis.circle_minutes,
                                       notes=res.notes)
        manifest.add_output(staged.path("data", paths["gpkg"].name), final=paths["gpkg"])
        for kind in ("csv", "xlsx"):
            manifest.add_output(tables[kind], final=paths["tables"].with_suffix(f".{kind}"))
        manifest.finish()
        manifest.write(staged.path("data", paths["manifest"].name))
    return paths


def run_standards(cfg: Config) -> tuple[StandardsResult, dict[str, Any]]:
    """Check the standards and write every output; returns the result and the paths."""
    manifest = RunManifest(config=cfg, seed=cfg.analysis.seed, command="standards")
    if cfg.source_file:
        manifest.add_input(cfg.source_file, "config")
    st = cfg.standards
    for layer in cfg.facilities:
        manifest.add_input(layer.path, "facilities:" + "+".join(layer.types))
    if st is not None:
        for p, role in ((cfg.areas.streets_file, "streets"), (st.elderly_file, "elderly"),
                        (st.committees_file, "committees")):
            if p is not None:
                manifest.add_input(p, role)
        prof = Path(st.profile)
        if prof.is_file():
            manifest.add_input(prof, "standards profile")
    with manifest.step("standards check"):
        res = check_config(cfg)
    counts = res.summary.set_index("standard_id").sum().to_dict() if len(res.summary) else {}
    manifest.set_counts(standards=len(res.profile.standards), rows=len(res.table),
                        profile=res.profile.id, **{k: int(v) for k, v in counts.items()})
    paths = write_standards_outputs(cfg, res, manifest)
    return res, paths
