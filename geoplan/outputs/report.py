"""One self-contained HTML report of a study area, and its workbook.

The report puts in one page what a planner pastes into a report to officials: summary
figures for the study area and per street, the worst-covered areas, the siting results
found in the output folder (coverage curve as a chart, proposed sites), the standards check,
the interactive map (embedded as an ``<iframe srcdoc>``, so the file stands alone), and the
method and data sources with the estimate labels. Tables are localised (zh default, en).
"""

from __future__ import annotations

import html
import io
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd

from geoplan.notes import Note, note_text
from geoplan.outputs.labels import (
    column_label,
    is_share_column,
    label_frame,
    sheet_name,
    value_label,
)

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

__all__ = ["ReportSection", "SitingSummary", "area_display_names", "cell_texts",
           "coverage_curve_svg", "render_report", "standards_digest", "table_html",
           "worst_areas"]

_T = {
    "zh": {"summary": "研究范围概况", "streets": "街道汇总", "worst": "缺口最大的区域",
           "siting": "选址方案", "standards": "规划标准检查", "map": "交互地图",
           "method": "方法与数据来源", "no_streets": "区域数据没有街道代码，未作街道汇总。",
           "no_siting": "输出目录中没有选址结果（先运行 geoplan site）。",
           "curve": "覆盖曲线", "sites": "建议选址", "new_sites": "新增设施数（个）",
           "share": "覆盖率", "inputs": "输入数据（SHA-256）", "generated": "生成于",
           "equity": "公平性：规划前后", "before": "规划前", "after": "规划后",
           "eq_share": "覆盖率", "eq_min": "最低区域覆盖率", "eq_below": "低于下限的区域比例",
           "eq_gini": "基尼系数",
           "estimate": "标注“估算”的人口数字由上级统计数推算，不是实际登记数。",
           "ledger": "人口与设施台账",
           "std_note": "每项标准一行（各街道达标、未达标、数据不全的个数及全区结果）；"
                       "逐街道明细见同名工作簿（XLSX）的“规划标准检查”表。",
           "ledger_note": "输入的老年人口 = 纳入计算 + 各项未纳入（按原因）；设施记录同理。",
           "osm": "地图与路网数据 © OpenStreetMap contributors（ODbL 1.0）。"},
    "en": {"summary": "Study area", "streets": "Streets", "worst": "Largest gaps",
           "siting": "Siting", "standards": "Planning standards", "map": "Interactive map",
           "method": "Method and data sources",
           "no_streets": "The areas carry no street codes: no street roll-up.",
           "no_siting": "No siting results in the output folder (run geoplan site first).",
           "curve": "Coverage curve", "sites": "Proposed sites", "new_sites": "New sites",
           "share": "Share covered", "inputs": "Input data (SHA-256)",
           "equity": "Equity before and after", "before": "Before", "after": "After",
           "eq_share": "Share covered", "eq_min": "Smallest area share",
           "eq_below": "Areas below the floor", "eq_gini": "Gini index",
           "generated": "Generated", "estimate": "Population figures marked 'estimate' are "
           "spread from higher-level totals, not counted.",
           "ledger": "Ledger of older residents and facilities",
           "std_note": "One row per standard (streets passing, failing or lacking data, "
                       "and the district result); the per-street details are in the "
                       "workbook (XLSX), sheet 'Planning standards'.",
           "ledger_note": "Older residents entered = scored + each exclusion by reason; "
           "the same for facility rows.",
           "osm": "Map and network data © OpenStreetMap contributors (ODbL 1.0)."},
}

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em auto;
max-width:1100px;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #444}h2{font-size:1.25em;margin-top:1.8em;
border-bottom:1px solid #bbb}table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef2f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.fig{display:flex;flex-wrap:wrap;gap:1em}.fig div{background:#f6f8fa;padding:.6em 1em;
border-radius:6px}.fig b{display:block;font-size:1.4em}iframe{width:100%;height:640px;
border:1px solid #aaa}.note{color:#555;font-size:.85em}
"""


@dataclass
class SitingSummary:
    """One siting scenario's results, as read back from its GeoPackage."""

    name: str
    scenario: pd.DataFrame
    #: the proposed sites with their points (the report's map draws them)
    sites_geo: gpd.GeoDataFrame
    curve: pd.DataFrame

    @property
    def sites(self) -> pd.DataFrame:
        """The proposed sites as a table (no geometry)."""
        return pd.DataFrame(self.sites_geo).drop(columns="geometry", errors="ignore")


@dataclass
class ReportSection:
    """A free section (heading and HTML body) appended before the method section."""

    title: str
    body: str
    notes: list[str] = field(default_factory=list)


def _fmt(value: object, col: str) -> tuple[str, bool]:
    if value is None or value is pd.NA or value is pd.NaT or (
            isinstance(value, float | np.floating) and np.isnan(value)):
        return "–", True
    if isinstance(value, bool | np.bool_):
        return str(value), False
    if isinstance(value, int | float | np.integer | np.floating):
        v = float(value)
        if is_share_column(col):
            return f"{100 * v:.1f}%", True
        return (f"{v:,.0f}" if v.is_integer() or abs(v) >= 100 else f"{v:,.2f}"), True
    return str(value), False


def cell_texts(df: pd.DataFrame, lang: str = "zh", circle_minutes: float = 15
               ) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Localised headers and cell texts of a table (shared by the HTML and Word report).

    Parameters
    ----------
    df : DataFrame
        A geoplan table (a ``geometry`` column is left out).
    lang : {"zh", "en"}
        Language of headers and coded values.
    circle_minutes : float
        Walking time of the service circle (in column labels).

    Returns
    -------
    headers : list of str
        Column labels.
    rows : list of list of (str, bool)
        Per cell its text (shares in %, counts with thousands separators, coded values
        translated, "–" for missing) and whether it is a number (right-aligned).
    """
    df = df.drop(columns=[c for c in ("geometry",) if c in df.columns])
    keys = list(df.columns)
    shown = label_frame(df, lang, circle_minutes)
    rows = []
    for raw, lab in zip(df.itertuples(index=False), shown.itertuples(index=False),
                        strict=True):  # report tables are short
        cells = []
        for k, r, v in zip(keys, raw, lab, strict=True):
            cells.append(_fmt(r, k) if not isinstance(v, str) or v == r else (str(v), False))
        rows.append(cells)
    return [str(h) for h in shown.columns], rows


def table_html(df: pd.DataFrame, lang: str = "zh", circle_minutes: float = 15,
               columns: Sequence[str] | None = None, max_rows: int = 50) -> str:
    """An HTML table with localised headers and values (shares in %)."""
    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    heads, cells = cell_texts(df.head(max_rows), lang, circle_minutes)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
    rows = ["<tr>" + "".join(f"<td class='num'>{html.escape(text)}</td>" if num else
                             f"<td>{html.escape(text)}</td>" for text, num in row) + "</tr>"
            for row in cells]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def key_value_html(row: pd.Series, lang: str = "zh", circle_minutes: float = 15) -> str:
    """A one-row table shown as label | value pairs (wide summaries read better so)."""
    cells = []
    for k, v in row.items():
        if k == "geometry":
            continue
        shown = value_label(str(k), v, lang)
        text = shown if isinstance(shown, str) and shown != v else _fmt(v, str(k))[0]
        cells.append(f"<tr><th>{html.escape(column_label(str(k), lang, circle_minutes))}</th>"
                     f"<td>{html.escape(str(text))}</td></tr>")
    return f"<table>{''.join(cells)}</table>"


def coverage_curve_svg(curve: pd.DataFrame, lang: str = "zh", title: str = "") -> str:
    """The coverage curve (share covered against new sites) as inline SVG.

    Text stays text in the SVG (``svg.fonttype = none``), so the browser renders Chinese
    labels with its own fonts.
    """

    t = _T[lang]
    ycol = next((c for c in ("share", "share_after") if c in curve), None)
    groups = (list(curve.groupby("type", sort=False)) if "type" in curve
              else [("", curve)])

    def draw(ax: Any) -> None:
        for key, part in groups:  # one line per facility type (multi-type plans)
            x = part["sites"].to_numpy(float) if "sites" in part else np.arange(len(part))
            y = part[ycol].to_numpy(float) * 100 if ycol else np.zeros(len(part))
            ax.plot(x, y, marker="o", label=value_label("type", key, lang) if key else None)
        if len(groups) > 1:
            ax.legend(fontsize=8)
        ax.set_xlabel(t["new_sites"])
        ax.set_ylabel(t["share"] + " (%)")
        ax.grid(alpha=0.3)

    return _chart_svg(draw, 3.2, title)


def _chart_svg(draw: Callable[[Any], None], height: float, title: str) -> str:
    """A 0–100 % chart as inline SVG whose text stays text (``svg.fonttype = none``).

    The browser renders the labels, Chinese included, with its own fonts; matplotlib only
    measures them, so a missing CJK font here costs layout precision, not glyphs.
    """
    from matplotlib.figure import Figure

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "geoplan"}), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(6, height))
        ax = fig.add_subplot()
        draw(ax)
        ax.set_ylim(0, 100)
        if title:
            ax.set_title(title)
        fig.tight_layout()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def equity_svg(row: pd.Series, lang: str = "zh", title: str = "") -> str | None:
    """Before/after bars of the equity figures of one scenario (inline SVG), or None.

    Bars: share covered, smallest area share, share of areas below the floor (all in %)
    and the population-weighted Gini index (0–1, drawn ×100 and labelled so).
    """
    t = _T[lang]
    keys = [("share", "eq_share"), ("min_area_share", "eq_min"),
            ("areas_below_floor", "eq_below"), ("gini", "eq_gini")]
    vals = [(t[lab] + (" ×100" if k == "gini" else ""), row.get(f"{k}_before"),
             row.get(f"{k}_after")) for k, lab in keys]
    vals = [(n, float(b), float(a)) for n, b, a in vals
            if b is not None and a is not None and np.isfinite(float(b))
            and np.isfinite(float(a))]
    if not vals:
        return None
    def draw(ax: Any) -> None:
        x = np.arange(len(vals))
        ax.bar(x - 0.2, [100 * b for _, b, _ in vals], 0.4, label=t["before"], color="#bbb")
        ax.bar(x + 0.2, [100 * a for _, _, a in vals], 0.4, label=t["after"], color="#2b6cb0")
        ax.set_xticks(x, [n for n, _, _ in vals], fontsize=8)
        ax.set_ylabel("%")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="y")

    return _chart_svg(draw, 3.0, title)


def _number(value: object) -> str:
    return _fmt(value, "")[0]


def standards_digest(table: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The standards check condensed to one row per standard, for reading.

    Parameters
    ----------
    table : DataFrame
        The check's table (:func:`geoplan.analysis.standards.check_standards`): one row
        per standard and unit (district, streets).
    lang : {"zh", "en"}
        Language of the district result text.

    Returns
    -------
    DataFrame
        Columns ``standard``, ``std_unit``, ``streets_pass``, ``streets_fail``,
        ``streets_unknown`` (unknown, no population base or no facility data) and
        ``district_result`` (the district row's result with existing / required, or
        "–" when the standard is not checked at district level), in the table's order.
    """
    cols = ["standard", "std_unit", "streets_pass", "streets_fail", "streets_unknown",
            "district_result"]
    if table is None or table.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for _, grp in table.groupby("standard_id", sort=False):
        first = grp.iloc[0]
        street = grp.loc[grp["unit_level"] == "street", "check_status"]
        district = grp[grp["unit_level"] == "district"]
        result = "–"
        if len(district):
            d = district.iloc[0]
            status = value_label("check_status", d["check_status"], lang)
            have = not pd.isna(d.get("existing_amount")) and not pd.isna(d.get("required"))
            if have:
                unit = "" if pd.isna(d.get("std_unit")) else f" {d['std_unit']}"
                detail = (f"现状 {_number(d['existing_amount'])} / 要求 "
                          f"{_number(d['required'])}{unit}" if lang == "zh" else
                          f"existing {_number(d['existing_amount'])} / required "
                          f"{_number(d['required'])}{unit}")
                result = f"{status}（{detail}）" if lang == "zh" else f"{status} ({detail})"
            else:
                result = str(status)
        rows.append({"standard": first["standard"], "std_unit": first.get("std_unit", ""),
                     "streets_pass": int((street == "pass").sum()),
                     "streets_fail": int((street == "fail").sum()),
                     "streets_unknown": int(street.isin(["unknown", "no_base",
                                                         "no_data"]).sum()),
                     "district_result": result})
    return pd.DataFrame(rows, columns=cols)


def area_display_names(areas: gpd.GeoDataFrame, lang: str = "zh") -> pd.Series:
    """A name for every area a reader can find: its name, else its kind, code and place.

    Unnamed compounds and grid cells are shown as e.g. ``"小区 way/123 (121.503, 31.295)"``
    or ``"Grid cell g12 (121.503, 31.295)"``: kind, code when there is one, and the
    longitude/latitude (WGS84, 3 decimals, about 100 m) of a point inside the area.

    Parameters
    ----------
    areas : GeoDataFrame
        Areas with ``name`` and optionally ``area_kind``, ``code`` / ``area_id``.
    lang : {"zh", "en"}
        Language of the kind label.

    Returns
    -------
    Series of str
        Aligned with ``areas``.
    """
    def blank(v: object) -> bool:
        return v is None or (isinstance(v, float) and np.isnan(v)) or str(v).strip() == ""

    n = len(areas)
    names = areas["name"] if "name" in areas else pd.Series([None] * n, index=areas.index)
    kinds = areas["area_kind"] if "area_kind" in areas else pd.Series([""] * n,
                                                                       index=areas.index)
    codes = next((areas[c] for c in ("code", "area_id") if c in areas),
                 pd.Series([""] * n, index=areas.index))
    need = names.map(blank).to_numpy(dtype=bool)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if need.any() and "geometry" in areas and areas.crs is not None:
        pts = areas.geometry[need].to_crs(4326).representative_point()
        lon[need], lat[need] = pts.x.to_numpy(), pts.y.to_numpy()
    out = []
    for i, (name, kind, code) in enumerate(zip(names, kinds, codes, strict=True)):
        if not need[i]:
            out.append(str(name))
            continue
        parts = [str(value_label("area_kind", kind, lang)) if not blank(kind) else
                 ("区域" if lang == "zh" else "Area")]
        if not blank(code):
            parts.append(str(code))
        if np.isfinite(lon[i]):
            parts.append(f"({lon[i]:.3f}, {lat[i]:.3f})")
        out.append(" ".join(parts))
    return pd.Series(out, index=areas.index, dtype=object)


def worst_areas(areas: pd.DataFrame, n: int = 15) -> pd.DataFrame:
    """The areas with the largest gaps, with the columns the report shows.

    Parameters
    ----------
    areas : DataFrame
        The areas table; ``display_name`` (:func:`area_display_names`) is shown in place
        of ``name`` when present.
    n : int, default 15
        Number of areas.

    Returns
    -------
    DataFrame
        The first ``n`` areas by gap-index rank (else by coverage gap rank).
    """
    rank = "gap_index_rank" if "gap_index_rank" in areas else "gap_rank"
    name = "display_name" if "display_name" in areas else "name"
    cols = [name, "area_kind", "street_name", "elderly_60", "circle_share", "uncovered_60",
            "gap_index", "gap_uncovered", "gap_access", "gap_standards", rank]
    top = areas.sort_values(rank).head(n) if rank in areas else areas.head(n)
    return top[[c for c in cols if c in top.columns]]


def render_report(title: str, *, lang: str, circle_minutes: float, summary: pd.DataFrame,
                  streets: pd.DataFrame, areas: pd.DataFrame, siting: Sequence[SitingSummary],
                  standards: pd.DataFrame | None, map_html: str | None,
                  notes: Sequence[str], inputs: Mapping[str, str], generated: str,
                  worst: int = 15, ledger: pd.DataFrame | None = None) -> str:
    """The report page as one HTML string (see the module docstring).

    ``ledger`` (:func:`geoplan.analysis.ledger.ledger_table`) is shown after the summary:
    every older resident and facility row that entered, scored or excluded by reason.
    """
    t = _T[lang]
    parts = [f"<!DOCTYPE html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head>"
             f"<meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class='note'>{t['generated']}: {html.escape(generated)}</p>"]
    s = summary.iloc[0] if len(summary) else pd.Series(dtype=object)
    figs = [c for c in ("elderly_60", "elderly_80", "circle_share", "uncovered_60") if c in s]
    parts.append(f"<h2>{t['summary']}</h2><div class='fig'>" + "".join(
        f"<div>{html.escape(column_label(c, lang, circle_minutes))}<b>"
        f"{html.escape(_fmt(s[c], c)[0])}</b></div>" for c in figs) + "</div>")
    if len(summary):
        parts.append(key_value_html(summary.iloc[0], lang, circle_minutes))
    if ledger is not None and len(ledger):
        parts.append(f"<h2>{t['ledger']}</h2><p class='note'>{t['ledger_note']}</p>"
                     + table_html(ledger, lang, circle_minutes, max_rows=200))
    parts.append(f"<h2>{t['streets']}</h2>")
    parts.append(table_html(streets, lang, circle_minutes) if len(streets)
                 else f"<p class='note'>{t['no_streets']}</p>")
    parts.append(f"<h2>{t['worst']}</h2>"
                 + table_html(worst_areas(areas, worst), lang, circle_minutes))
    parts.append(f"<h2>{t['siting']}</h2>")
    if not siting:
        parts.append(f"<p class='note'>{t['no_siting']}</p>")
    for sc in siting:
        parts.append(f"<h3>{html.escape(sc.name)}</h3>")
        if len(sc.scenario):
            parts.append(key_value_html(sc.scenario.iloc[0], lang, circle_minutes))
        if len(sc.curve):
            parts.append(f"<h4>{t['curve']}</h4>"
                         + coverage_curve_svg(sc.curve, lang, title=sc.name))
        chart = equity_svg(sc.scenario.iloc[0], lang, title=sc.name) if len(
            sc.scenario) else None
        if chart:
            parts.append(f"<h4>{t['equity']}</h4>" + chart)
        parts.append(f"<h4>{t['sites']}</h4>" + table_html(sc.sites, lang, circle_minutes))
    if standards is not None and len(standards):
        parts.append(f"<h2>{t['standards']}</h2><p class='note'>{t['std_note']}</p>"
                     + table_html(standards_digest(standards, lang), lang, circle_minutes,
                                  max_rows=200))
    if map_html is not None:
        parts.append(f"<h2>{t['map']}</h2><iframe title='map' srcdoc=\""
                     f"{html.escape(map_html, quote=True)}\"></iframe>")
    parts.append(f"<h2>{t['method']}</h2><ul>" + "".join(
        f"<li>{html.escape(note_text(n, lang))}</li>" for n in [*notes, t["estimate"], t["osm"]])
        + "</ul>")
    if inputs:
        parts.append(f"<h3>{t['inputs']}</h3><ul class='note'>" + "".join(
            f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>"
            for k, v in inputs.items()) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def report_sheets(summary: pd.DataFrame, streets: pd.DataFrame, areas: pd.DataFrame,
                  siting: Sequence[SitingSummary],
                  standards: pd.DataFrame | None,
                  ledger: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The report's tables for the workbook, one sheet each."""
    sheets: dict[str, pd.DataFrame] = {"summary": summary}
    if ledger is not None and len(ledger):
        sheets["ledger"] = ledger
    if len(streets):
        sheets["streets"] = streets
    sheets["areas"] = areas.drop(columns=[c for c in ("geometry",) if c in areas])
    if standards is not None and len(standards):
        sheets["standards"] = standards
    for sc in siting:
        sheets[f"{sheet_name('sites')}-{sc.name}"] = sc.sites
        if len(sc.curve):
            sheets[f"{sheet_name('curve')}-{sc.name}"] = sc.curve
    return sheets


def read_siting(folder: Path, area: str,
                skipped: list[tuple[Path, str]] | None = None) -> list[SitingSummary]:
    """Siting results written by ``geoplan site`` for ``area`` (sorted by scenario).

    A file that cannot be read (0 bytes, corrupt, not a GeoPackage, unreadable) or that
    lacks the ``scenario`` / ``proposed_sites`` layers is skipped with a warning naming
    it, so one damaged file does not stop the report.

    Parameters
    ----------
    folder : Path
        The ``siting`` folder of the outputs.
    area : str
        Study-area name (files are ``<area>-site-<scenario>.gpkg``).
    skipped : list, optional
        Receives ``(path, reason)`` of every skipped file.

    Returns
    -------
    list of SitingSummary
    """
    import geopandas as gpd
    import pyogrio

    errors = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
              pyogrio.errors.FieldError, pyogrio.errors.GeometryError,
              pyogrio.errors.CRSError, OSError, ValueError, KeyError)
    out = []
    prefix = f"{area}-site-"
    for gpkg in sorted(folder.glob(f"{prefix}*.gpkg")):
        def read(name: str, g: Path = gpkg) -> pd.DataFrame:
            return pd.DataFrame(gpd.read_file(g, layer=name)).drop(columns="geometry",
                                                                  errors="ignore")

        reason = None
        try:
            with warnings.catch_warnings():
                # GDAL's own warning on a damaged file ("bad application_id") adds nothing
                # to the one warning below
                warnings.simplefilter("ignore", RuntimeWarning)
                layers = {n for n, _ in pyogrio.list_layers(gpkg)} if gpkg.is_file() else set()
                if not {"scenario", "proposed_sites"} <= layers:
                    reason = Note("not a siting result of geoplan site (no scenario and "
                                  "proposed_sites layers)",
                                  "不是 geoplan site 的选址结果（没有 scenario 和 proposed_sites "
                                  "图层）")
                else:
                    table = read("scenario")
                    # the scenario's own name ("1+N"); the file stem is its safe form ("1_N")
                    named = ("scenario" in table.columns and len(table)
                             and isinstance(table["scenario"].iloc[0], str))
                    summary = SitingSummary(
                        name=(str(table["scenario"].iloc[0]) if named
                              else gpkg.stem.removeprefix(prefix)), scenario=table,
                        sites_geo=gpd.read_file(gpkg, layer="proposed_sites"),
                        curve=read("coverage_curve") if "coverage_curve" in layers
                        else pd.DataFrame())
                    if len(summary.scenario) == 0:
                        reason = Note("its scenario layer is empty", "其方案图层为空")
        except errors as exc:
            log.debug("reading %s failed: %s", gpkg, exc)
            if isinstance(exc, OSError):
                why = (exc.strerror or str(exc)).lower()
                reason = Note(f"it cannot be read ({why})", f"无法读取（{why}）")
            elif gpkg.is_file() and gpkg.stat().st_size == 0:
                reason = Note("it is empty (0 bytes; a run was probably cut short)",
                              "文件为空（0字节，可能是运行被中断）")
            else:
                reason = Note("it is not a readable GeoPackage (damaged or another format)",
                              "不是可读取的 GeoPackage 文件（已损坏或为其他格式）")
        if reason is not None:
            log.warning("siting result %s skipped: %s; run geoplan site again or remove "
                        "the file", gpkg, reason)
            if skipped is not None:
                skipped.append((gpkg, reason))
            continue
        out.append(summary)
    return out
