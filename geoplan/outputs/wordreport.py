"""The report as a Word document (``.docx``), in the layout district bureaus use.

``geoplan report`` writes ``<area>-report.docx`` beside the HTML page: a centred title,
sections numbered 一、二、三… (Heading 1), tables with Chinese (or English) headers whose
header row repeats on every page, the print map (the same drawing as the PNG/PDF map),
and the sources with the estimate label at the end. Built with python-docx; the tables
are the HTML report's (:mod:`geoplan.outputs.report`), cut to the columns that fit an
A4 page; the full tables are in the workbook.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from docx import Document
from docx.document import Document as DocumentType
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from geoplan.notes import note_text
from geoplan.outputs.atomic import atomic_write
from geoplan.outputs.labels import column_label
from geoplan.outputs.report import (
    _T,
    SitingSummary,
    cell_texts,
    standards_digest,
    worst_areas,
)

__all__ = ["NUMERALS", "section_number", "write_word_report"]

#: Chinese section numerals (一、二、三 …), as in official documents.
NUMERALS = "一二三四五六七八九十"

#: Fonts: SimSun (宋体) for the text, SimHei (黑体) for headings; Word and LibreOffice
#: substitute an installed CJK font where these are missing.
BODY_FONT_ZH, HEAD_FONT_ZH = "宋体", "黑体"
#: A4 with 2.5 cm margins: the width tables and text take.
TEXT_WIDTH_CM = 16.0

_W = {
    "zh": {"map": "覆盖图", "figure": "图{n}　{t}", "key": "指标", "value": "数值",
           "scenario": "方案 {s}", "more": "（仅列前 {n} 行，完整表格见工作簿 XLSX）",
           "sites_more": "（共 {n} 处，仅列前 {k} 处，完整名单见工作簿 XLSX）"},
    "en": {"map": "Coverage map", "figure": "Figure {n}. {t}", "key": "Item",
           "value": "Value", "scenario": "Scenario {s}",
           "more": "(first {n} rows; the full table is in the workbook, XLSX)",
           "sites_more": "({n} sites; the first {k} are listed, all in the workbook, XLSX)"},
}
_STREET_COLS = ("street_name", "n_areas", "elderly_60", "elderly_80", "circle_share",
                "circle_share80", "uncovered_60")
_SITE_COLS = ("rank", "type", "name", "street_name", "marginal", "cum_covered", "share_after")
_SUMMARY_COLS = ("elderly_60", "elderly_80", "circle_share", "circle_share80", "uncovered_60",
                 "uncovered_80", "n_areas", "n_facilities")


def section_number(i: int, lang: str = "zh") -> str:
    """The heading number of section ``i`` (1-based): ``"一、"`` … or ``"1. "``.

    Parameters
    ----------
    i : int
        Section number, 1 to 99 in Chinese.
    lang : {"zh", "en"}
        Numbering style.
    """
    if lang != "zh":
        return f"{i}. "
    if not 1 <= i <= 99:
        raise ValueError(f"section number {i} out of range 1-99")
    tens, ones = divmod(i, 10)
    text = ("" if tens <= 1 else NUMERALS[tens - 1]) + ("十" if tens else "") + (
        NUMERALS[ones - 1] if ones else "")
    return f"{text}、"


def _set_fonts(doc: DocumentType, lang: str) -> None:
    """Body and heading fonts, with the East Asian font set (python-docx sets only the
    Latin one)."""
    for name, east, size, bold in (("Normal", BODY_FONT_ZH, 10.5, None),
                                   ("Title", HEAD_FONT_ZH, 20, True),
                                   ("Heading 1", HEAD_FONT_ZH, 15, True),
                                   ("Heading 2", HEAD_FONT_ZH, 12, True)):
        style = doc.styles[name]
        style.font.size = Pt(size)
        style.font.color.rgb = RGBColor(0, 0, 0)  # black headings, as printed documents
        if bold is not None:
            style.font.bold = bold
        if lang == "zh":
            rpr = style.element.get_or_add_rPr()
            fonts = rpr.find(qn("w:rFonts"))
            if fonts is None:
                fonts = OxmlElement("w:rFonts")
                rpr.append(fonts)
            fonts.set(qn("w:eastAsia"), east)


def _repeat_header(row: object) -> None:
    """Mark a table row as the header repeated at the top of every page."""
    trpr = row._tr.get_or_add_trPr()  # type: ignore[attr-defined]
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _widths(heads: Sequence[str], rows: Sequence[Sequence[tuple[str, bool]]],
            total_cm: float) -> list[float]:
    """Column widths (cm) in proportion to each column's longest word-wrapped text,
    between a narrow number column and a third of the page: names get room, counts do
    not (Word and LibreOffice otherwise split the page evenly)."""
    from geoplan.outputs.webmap import _text_px

    need = []
    for j, head in enumerate(heads):
        cells = [_text_px(r[j][0], 9) for r in rows]
        longest = max([*cells, _text_px(head, 9) / 2, 1.0])  # headers may wrap to 2 lines
        need.append(min(max(longest, 42.0), 160.0))
    scale = total_cm / sum(need)
    return [n * scale for n in need]


def _table(doc: DocumentType, df: pd.DataFrame, lang: str, circle_minutes: float,
           columns: Sequence[str] | None = None, max_rows: int = 30,
           more_note: bool = True) -> None:
    """A grid table with localised headers (bold, repeated per page), numbers right-aligned.
    """
    if columns is not None:
        df = df[[c for c in columns if c in df.columns]]
    heads, rows = cell_texts(df.head(max_rows), lang, circle_minutes)
    table = doc.add_table(rows=1, cols=len(heads))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = [Cm(w) for w in _widths(heads, rows, TEXT_WIDTH_CM)]
    for col, width in zip(table.columns, widths, strict=True):
        col.width = width
    for cell, text, width in zip(table.rows[0].cells, heads, widths, strict=True):
        cell.width = width
        cell.text = ""
        run = cell.paragraphs[0].add_run(text)
        run.bold = True
        run.font.size = Pt(9)
    _repeat_header(table.rows[0])
    for row in rows:
        cells = table.add_row().cells
        for cell, (text, num), width in zip(cells, row, widths, strict=True):
            cell.width = width  # Word reads the cell widths, LibreOffice the grid
            cell.text = ""
            par = cell.paragraphs[0]
            par.add_run(text).font.size = Pt(9)
            if num:
                par.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if more_note and len(df) > max_rows:
        doc.add_paragraph(_W[lang]["more"].format(n=max_rows)).runs[0].font.size = Pt(9)


def _key_values(doc: DocumentType, row: pd.Series, lang: str, circle_minutes: float,
                keys: Sequence[str] | None = None) -> None:
    """A two-column table (item | value) of one summary row."""
    items = [k for k in (keys or row.index) if k in row.index and k != "geometry"]
    frame = pd.DataFrame({"key": [column_label(str(k), lang, circle_minutes) for k in items]})
    values = pd.DataFrame([row[items].to_list()], columns=items)
    _heads, cells = cell_texts(values, lang, circle_minutes)
    frame["value"] = [text for text, _num in cells[0]] if cells else []
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    head = table.add_row().cells
    for cell, text in zip(head, (_W[lang]["key"], _W[lang]["value"]), strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(text).bold = True
    _repeat_header(table.rows[0])
    for key, value in zip(frame["key"], frame["value"], strict=True):
        cells = table.add_row().cells
        cells[0].text = key
        cells[1].text = value
        cells[1].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT


def write_word_report(path: str | os.PathLike[str], title: str, *, lang: str,
                      circle_minutes: float, summary: pd.DataFrame, streets: pd.DataFrame,
                      areas: pd.DataFrame, siting: Sequence[SitingSummary],
                      standards: pd.DataFrame | None, map_png: bytes | None,
                      notes: Sequence[str], inputs: Mapping[str, str], generated: str,
                      ledger: pd.DataFrame | None = None, worst: int = 15) -> Path:
    """Write the Word report, atomically.

    Parameters
    ----------
    path : str or PathLike
        Target ``.docx`` file.
    title : str
        Document title (the study area's title).
    lang : {"zh", "en"}
        Language of headings and table headers.
    circle_minutes : float
        Walking time of the service circle (in column labels).
    summary, streets, areas : DataFrame
        The run's tables (``areas`` may carry ``display_name``, see
        :func:`geoplan.outputs.report.area_display_names`).
    siting : sequence of SitingSummary
        Siting results found in the output folder.
    standards : DataFrame or None
        The standards check table; shown condensed (:func:`standards_digest`).
    map_png : bytes or None
        The print map as PNG, placed full width.
    notes : sequence of str
        Method and data notes (the sources section).
    inputs : mapping of str to str
        Input files and their SHA-256.
    generated : str
        When the report was made.
    ledger : DataFrame, optional
        The ledger of older residents and facility rows.
    worst : int, default 15
        Rows of the largest-gaps table.

    Returns
    -------
    Path
        The written file.
    """
    t, w = _T[lang], _W[lang]
    doc = Document()
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin"):
        setattr(sec, side, Cm(2.5))
    sec.top_margin, sec.bottom_margin = Cm(2.5), Cm(2.2)
    _set_fonts(doc, lang)
    doc.core_properties.title = title
    doc.core_properties.author = "geoplan"

    heading = doc.add_heading(title, level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    stamp = doc.add_paragraph(f"{t['generated']}: {generated}")
    stamp.alignment = WD_ALIGN_PARAGRAPH.CENTER

    number = iter(range(1, 100))

    def section(key: str) -> None:
        doc.add_heading(section_number(next(number), lang) + t[key], level=1)

    section("summary")
    if len(summary):
        s = summary.iloc[0]
        keys = [c for c in _SUMMARY_COLS if c in s.index] or list(s.index)
        _key_values(doc, s, lang, circle_minutes, keys)
    if ledger is not None and len(ledger):
        section("ledger")
        doc.add_paragraph(t["ledger_note"])
        _table(doc, ledger, lang, circle_minutes, max_rows=40)
    section("streets")
    if len(streets):
        _table(doc, streets, lang, circle_minutes, _STREET_COLS, max_rows=40)
    else:
        doc.add_paragraph(t["no_streets"])
    section("worst")
    _table(doc, worst_areas(areas, worst), lang, circle_minutes,
           [c for c in ("display_name", "name", "street_name", "elderly_60", "circle_share",
                        "uncovered_60", "gap_index_rank", "gap_rank")],
           max_rows=worst, more_note=False)
    section("siting")
    if not siting:
        doc.add_paragraph(t["no_siting"])
    for sc in siting:
        doc.add_heading(w["scenario"].format(s=sc.name), level=2)
        sites = sc.sites
        if len(sites) > 20:
            doc.add_paragraph(w["sites_more"].format(n=len(sites), k=20))
        _table(doc, sites, lang, circle_minutes, _SITE_COLS, max_rows=20, more_note=False)
    if standards is not None and len(standards):
        section("standards")
        doc.add_paragraph(t["std_note"])
        _table(doc, standards_digest(standards, lang), lang, circle_minutes, max_rows=100)
    if map_png:  # on a landscape page of its own, as the print map is drawn
        land = doc.add_section(WD_SECTION.NEW_PAGE)
        land.orientation = WD_ORIENT.LANDSCAPE
        land.page_width, land.page_height = Cm(29.7), Cm(21.0)
        land.top_margin, land.bottom_margin = Cm(1.8), Cm(1.5)
        doc.add_heading(section_number(next(number), lang) + w["map"], level=1)
        doc.add_picture(io.BytesIO(map_png), width=Cm(21.0))  # 14.9 cm high: fits one page
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        cap = doc.add_paragraph(w["figure"].format(n=1, t=title))
        cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
        back = doc.add_section(WD_SECTION.NEW_PAGE)
        back.orientation = WD_ORIENT.PORTRAIT
        back.page_width, back.page_height = Cm(21.0), Cm(29.7)
        back.top_margin, back.bottom_margin = Cm(2.5), Cm(2.2)
    section("method")
    for note in [*notes, t["estimate"], t["osm"]]:
        doc.add_paragraph(note_text(note, lang), style="List Bullet")
    if inputs:
        doc.add_heading(t["inputs"], level=2)
        for k, v in inputs.items():
            par = doc.add_paragraph(f"{k}: {v}", style="List Bullet")
            par.runs[0].font.size = Pt(8)
    final = Path(path)
    buf = io.BytesIO()
    doc.save(buf)
    with atomic_write(final, "wb") as fh:
        fh.write(_fixed_zip_times(buf.getvalue()))
    return final


def _fixed_zip_times(data: bytes) -> bytes:
    """The same .docx package with every member dated 1980-01-01 (the zip epoch).

    python-docx stamps each zip member with the time of saving, so two runs on the same
    inputs gave different bytes; the run's own time is in the text and the manifest.
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info))
    return out.getvalue()
