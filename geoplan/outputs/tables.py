"""Area, street and summary tables as CSV (for any tool) and Excel (for planners).

The CSV holds the main area table, UTF-8 with a byte-order mark so that Excel on Chinese
Windows opens it without garbling the headers. The workbook holds one sheet per table
(areas, streets, summary, facilities, issues ...) with localised sheet names and headers,
a frozen header row, column widths fitted to the content (CJK characters count double),
shares as percent, estimated population figures in grey italics, and a final notes sheet
with the method notes, the estimate marker and the OpenStreetMap attribution.

Identical inputs give byte-identical files: the workbook's document dates and its zip
entries carry a fixed time (``SOURCE_DATE_EPOCH`` when set), not the time of the run
(which the manifest records).
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from geoplan.notes import note_text
from geoplan.outputs.atomic import StagedOutputs, atomic_write
from geoplan.outputs.labels import (
    KIND_COUNT,
    KIND_INDEX,
    KIND_METRES,
    KIND_MINUTES,
    KIND_PERSONS,
    KIND_SHARE,
    column_kind,
    estimate_note,
    format_minutes,
    label_frame,
    sheet_name,
)

log = logging.getLogger(__name__)

#: Attribution required by the ODbL for maps and data derived from OpenStreetMap.
OSM_ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"

_NUMBER_FORMATS = {
    KIND_SHARE: "0.0%",
    KIND_MINUTES: "0.0",
    KIND_PERSONS: "#,##0",
    KIND_METRES: "#,##0",
    KIND_COUNT: "#,##0",
    KIND_INDEX: "0.000",
}
_ESTIMATED_COLUMNS = ("elderly_60", "elderly_80", "uncovered_60", "uncovered_80")
_HEADER_FILL = PatternFill("solid", start_color="FFDDE6F0", end_color="FFDDE6F0")
_HEADER_FONT = Font(bold=True)
_ESTIMATE_FONT = Font(italic=True, color="FF7F7F7F")
_HEADER_ALIGNMENT = _WRAP_TOP = Alignment(wrap_text=True, vertical="top")
_MIN_WIDTH, _MAX_WIDTH, _MAX_HEADER_WIDTH = 6, 60, 28
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")

_NOTES_TITLE = {"zh": "说明", "en": "Notes"}
_STANDARD_NOTES = {
    "zh": (
        "覆盖率 = 步行时间在阈值以内的老年人口占比（按需求点人口加权）；"
        "{c}分钟服务圈完整率 = 在{c}分钟内可步行到达全部必需设施类型的60岁以上老人占比。",
        "步行时间按老年人步速在OpenStreetMap步行路网上计算；超过最大计算时间的显示为空，并计入未覆盖人口。",
        "“{est}”：该区域的老年人口由上级统计总数按建筑面积或面积分摊得到，并非实际登记数，仅供规划参考。",
        "缺口排名：1 = 缺口最大（服务圈外老年人口最多）。",
        "地图与路网数据：{osm}（https://www.openstreetmap.org/copyright）。",
    ),
    "en": (
        "Share = share of older residents (weighted by demand-point population) whose walking "
        "time is within the threshold; complete {c}-min service circle = share of 60+ who can "
        "walk to every required facility type within {c} minutes.",
        "Walking times are computed at an older person's walking speed on the OpenStreetMap "
        "walking network; times beyond the largest computed time are blank and counted as "
        "not covered.",
        "'{est}': the area's older population was spread from higher-level totals by floor "
        "area or land area; it is not a registered count and is for planning only.",
        "Gap rank: 1 = largest gap (most older residents outside the service circle).",
        "Map and network data: {osm} (https://www.openstreetmap.org/copyright).",
    ),
}


def display_width(text: Any) -> int:
    """Width of ``text`` in spreadsheet columns: wide (CJK) characters count double."""
    s = "" if text is None else str(text)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in s)


def drop_geometry(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` as a plain DataFrame without geometry columns."""
    geo_cols = [c for c in df.columns
                if str(getattr(df[c], "dtype", "")) == "geometry" or c == "geometry"]
    return pd.DataFrame(df.drop(columns=geo_cols))


def _round_for_export(df: pd.DataFrame) -> pd.DataFrame:
    """Round float columns by kind so CSV files stay readable (shares 4, others 2 decimals)."""
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_float_dtype(out[col]):
            continue
        digits = 4 if column_kind(str(col)) == KIND_SHARE else 2
        out[col] = out[col].round(digits)
    return out


def _target(staged: StagedOutputs | str | os.PathLike[str], filename: str,
            root: str | None) -> Path:
    """Where to write ``filename``: inside a staging folder or a plain folder."""
    if isinstance(staged, StagedOutputs):
        if staged.named:
            return staged.path(root or next(iter(staged.roots)), filename)
        return staged.path(filename)
    folder = Path(staged)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / filename


#: Time stamped into workbooks and GeoPackages when SOURCE_DATE_EPOCH is not set (the
#: earliest time a zip entry can carry).
FIXED_TIME = datetime(1980, 1, 1)


def reproducible_time() -> datetime:
    """The fixed time written into output files, as a naive UTC datetime.

    ``SOURCE_DATE_EPOCH`` (seconds since 1970, the reproducible-builds convention) when set
    to a time from 1980 on; otherwise :data:`FIXED_TIME`. Never the current time, so two
    identical runs write identical bytes.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        t = datetime.fromtimestamp(int(epoch), timezone.utc).replace(tzinfo=None)
        if t >= FIXED_TIME:
            return t
    return FIXED_TIME


def workbook_bytes(wb: Workbook) -> bytes:
    """Save a workbook as XLSX bytes that depend only on its content.

    openpyxl stamps the document's ``modified`` (and by default ``created``) time with the
    current time and the zip entries with the local time of saving; both are replaced by
    :func:`reproducible_time`. The zip is rewritten entry by entry, in openpyxl's order.
    """
    from openpyxl.xml.constants import ARC_CORE
    from openpyxl.xml.functions import tostring

    raw = io.BytesIO()
    wb.save(raw)
    stamp = reproducible_time()
    wb.properties.created = stamp
    wb.properties.modified = stamp
    core = tostring(wb.properties.to_tree())
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = core if info.filename == ARC_CORE else zin.read(info.filename)
            entry = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            entry.create_system = 3  # the same on every platform
            zout.writestr(entry, data)
    return out.getvalue()


def _cell_value(value: Any) -> Any:
    """Convert a pandas/numpy value to something openpyxl writes (NaN → empty)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if isinstance(value, (str, int, bool, datetime, date)):
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value.replace(tzinfo=None)
        return value
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().replace(tzinfo=None)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _safe_sheet_title(title: str, used: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("_", title).strip("'")[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
        n += 1
    used.add(name.lower())
    return name


def _write_sheet(wb: Workbook, title: str, df: pd.DataFrame, lang: str,
                 circle_minutes: float) -> None:
    """One table as a sheet of a write-only workbook (header styled, numbers formatted).

    Write-only mode streams each row to the file instead of keeping a cell object per
    value (about twice as fast for the tens of thousands of cells of a district): column
    widths, the header height and the frozen pane are set before the first row; a styled
    cell is a :class:`~openpyxl.cell.WriteOnlyCell`.
    """
    from openpyxl.cell import WriteOnlyCell

    ws = wb.create_sheet(title)
    keys = [str(c) for c in df.columns]
    labelled = label_frame(df, lang, circle_minutes)
    headers = [str(c) for c in labelled.columns]
    estimated = (df["pop_estimated"].fillna(False).astype(bool).to_numpy()
                 if "pop_estimated" in df.columns else np.zeros(len(df), dtype=bool))

    header_height = 1
    formats: list[str | None] = []
    for j, key in enumerate(keys, start=1):
        kind = column_kind(key)
        fmt = _NUMBER_FORMATS.get(kind or "")
        if key == "gap_rank" or key == "row":
            fmt = "0"
        formats.append(fmt)
        sample = labelled.iloc[:500, j - 1]
        if fmt == "0.0%":
            data_w = 7
        elif fmt is not None:
            nums = pd.to_numeric(sample, errors="coerce").abs()
            top = float(nums.max()) if nums.notna().any() else 0.0
            data_w = len(f"{top:,.1f}") + 1
        else:
            data_w = max((display_width(v) for v in sample if v is not None), default=0)
        head_w = display_width(headers[j - 1])
        width = max(_MIN_WIDTH, min(_MAX_WIDTH, max(data_w, min(head_w, _MAX_HEADER_WIDTH)) + 2))
        ws.column_dimensions[get_column_letter(j)].width = width
        header_height = max(header_height, math.ceil(head_w / max(width - 1, 1)))
    ws.row_dimensions[1].height = 15 * min(header_height, 5)
    ws.freeze_panes = "A2"
    if len(keys):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(keys))}{max(len(df) + 1, 1)}"

    head = []
    for text in headers:
        cell = WriteOnlyCell(ws, value=text)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = _HEADER_ALIGNMENT
        head.append(cell)
    ws.append(head)
    # Columns with a number format or the estimate marker get styled cells; the others
    # are written as plain values.
    styled = [j for j, key in enumerate(keys) if formats[j] is not None
              or key in _ESTIMATED_COLUMNS]
    marked = {j for j in styled if keys[j] in _ESTIMATED_COLUMNS}
    for i, row in enumerate(labelled.itertuples(index=False, name=None)):
        values: list[Any] = [_cell_value(v) for v in row]
        for j in styled:
            cell = WriteOnlyCell(ws, value=values[j])
            if formats[j] is not None:
                cell.number_format = formats[j]
            if j in marked and estimated[i]:
                cell.font = _ESTIMATE_FONT
            values[j] = cell
        ws.append(values)


def _write_notes(wb: Workbook, title: str, notes: Sequence[str], lang: str,
                 circle_minutes: float) -> None:
    from openpyxl.cell import WriteOnlyCell

    ws = wb.create_sheet(title)
    ws.column_dimensions["A"].width = 110
    ws.freeze_panes = "A2"
    head = WriteOnlyCell(ws, value=_NOTES_TITLE[lang])
    head.font = Font(bold=True, size=12)
    ws.append([head])
    fields = {"c": format_minutes(circle_minutes), "est": estimate_note(lang),
              "osm": OSM_ATTRIBUTION}
    lines = [*notes, *(s.format(**fields) for s in _STANDARD_NOTES[lang])]
    for line in lines:
        cell = WriteOnlyCell(ws, value=note_text(line, lang))
        cell.alignment = _WRAP_TOP
        ws.append([cell])


def write_area_tables(staged: StagedOutputs | str | os.PathLike[str],
                      basename: str | tuple[str, str],
                      sheets: Mapping[str, pd.DataFrame], lang: str = "zh",
                      circle_minutes: float = 15, notes: Sequence[str] = (),
                      root: str | None = None) -> dict[str, Path]:
    """Write the main area table as CSV and all tables as one Excel workbook.

    Parameters
    ----------
    staged : StagedOutputs or path
        Staging area (inside its ``with`` block) or a plain folder.
    basename : str or (root, str)
        File name without extension, e.g. ``"yangpu_areas"``; or a ``(root, name)`` pair
        naming the root of ``staged`` as well, e.g. ``("data", "yangpu-areas")``.
    sheets : mapping of str to DataFrame
        Tables in sheet order, keyed ``areas``, ``streets``, ``summary``, ``facilities``,
        ``issues`` (other keys are used as sheet names as given). Geometry columns are
        dropped. The CSV holds ``sheets["areas"]`` (or the first table).
    lang : {"zh", "en"}
        Language of headers, sheet names, coded values and notes.
    circle_minutes : float
        Walking time of the service circle (used in labels and notes).
    notes : sequence of str
        Method notes written first on the notes sheet (one per row).
    root : str, optional
        Named root of ``staged`` to write into; default its first root.

    Returns
    -------
    dict
        ``{"csv": path, "xlsx": path}`` (staging paths when ``staged`` is staging).
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    if isinstance(basename, tuple):
        root, basename = basename
    if not sheets:
        raise ValueError("write_area_tables needs at least one table")
    tables = {k: _round_for_export(drop_geometry(v)) for k, v in sheets.items()}
    main_key = "areas" if "areas" in tables else next(iter(tables))

    csv_path = _target(staged, f"{basename}.csv", root)
    with atomic_write(csv_path, "w", encoding="utf-8-sig", newline="") as fh:
        label_frame(tables[main_key], lang, circle_minutes).to_csv(fh, index=False)

    wb = Workbook(write_only=True)
    used: set[str] = set()
    for key, df in tables.items():
        _write_sheet(wb, _safe_sheet_title(sheet_name(key, lang), used), df, lang,
                     circle_minutes)
    _write_notes(wb, _safe_sheet_title(sheet_name("notes", lang), used), notes, lang,
                 circle_minutes)
    xlsx_path = _target(staged, f"{basename}.xlsx", root)
    data = workbook_bytes(wb)
    with atomic_write(xlsx_path, "wb") as fh:
        fh.write(data)
    log.info("wrote %s and %s (%d sheets)", csv_path.name, xlsx_path.name, len(tables) + 1)
    return {"csv": csv_path, "xlsx": xlsx_path}
