"""The report for reading: the Word report (read back with python-docx, and through
LibreOffice to PDF when ``soffice`` is installed), the condensed standards table and
names for unnamed areas."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from docx import Document
from PIL import Image
from shapely.geometry import box

from geoplan.cli import main
from geoplan.outputs.report import area_display_names, render_report, standards_digest
from geoplan.outputs.wordreport import section_number, write_word_report
from tests.smallcase import write_case

NUMBERED = ("一、", "二、", "三、", "四、", "五、", "六、", "七、", "八、")


def _standards() -> pd.DataFrame:
    """A check table as check_standards gives it: one standard with district and three
    street rows (pass, fail, no data), one checked per street only (all no data)."""
    base = {"std_kind": "per_elderly", "elderly": 1000.0, "committees": np.nan,
            "required_strict": np.nan, "existing_source": "facilities", "n_facilities": 2,
            "unknown_rows": 0, "shortfall_share": np.nan, "detail": "", "std_source": "x"}
    rows = [
        ("district", "310110", "杨浦区", "beds", "养老床位", 300.0, 120.0, 180.0, "fail", "张"),
        ("street", "s1", "甲街道", "beds", "养老床位", 100.0, 120.0, 0.0, "pass", "张"),
        ("street", "s2", "乙街道", "beds", "养老床位", 100.0, 0.0, 100.0, "fail", "张"),
        ("street", "s3", "丙街道", "beds", "养老床位", np.nan, np.nan, np.nan, "no_data", "张"),
        ("street", "s1", "甲街道", "canteen", "助餐点", np.nan, np.nan, np.nan, "no_data", "处"),
        ("street", "s2", "乙街道", "canteen", "助餐点", np.nan, np.nan, np.nan, "unknown", "处"),
    ]
    cols = ["unit_level", "unit_code", "unit_name", "standard_id", "standard", "required",
            "existing_amount", "shortfall", "check_status", "std_unit"]
    return pd.DataFrame([{**base, **dict(zip(cols, r, strict=True))} for r in rows])


def test_standards_digest_one_row_per_standard() -> None:
    d = standards_digest(_standards(), "zh")
    assert list(d["standard"]) == ["养老床位", "助餐点"]
    assert d.loc[0, ["streets_pass", "streets_fail", "streets_unknown"]].tolist() == [1, 1, 1]
    assert d.loc[1, ["streets_pass", "streets_fail", "streets_unknown"]].tolist() == [0, 0, 2]
    assert d.loc[0, "district_result"] == "未达标（现状 120 / 要求 300 张）"
    assert d.loc[1, "district_result"] == "–"
    en = standards_digest(_standards(), "en")
    assert en.loc[0, "district_result"] == "Fail (existing 120 / required 300 张)"
    assert standards_digest(_standards().iloc[0:0]).empty


def test_unnamed_areas_shown_with_kind_code_and_place() -> None:
    areas = gpd.GeoDataFrame(
        {"name": ["甲居委", None, "", np.nan], "area_kind": ["committee", "compound", "grid",
                                                            None],
         "code": ["310110012001", "way/123", "g7", None]},
        geometry=[box(121.50, 31.29, 121.51, 31.30), box(121.50, 31.29, 121.506, 31.30),
                  box(121.52, 31.28, 121.53, 31.29), box(121.53, 31.28, 121.54, 31.29)],
        crs=4326).to_crs(32651)  # a projected CRS: the place is still lon/lat
    zh = area_display_names(areas, "zh").tolist()
    assert zh == ["甲居委", "小区 way/123 (121.503, 31.295)", "网格 g7 (121.525, 31.285)",
                  "区域 (121.535, 31.285)"]
    en = area_display_names(areas, "en").tolist()
    assert en[2] == "Grid cell g7 (121.525, 31.285)"


def test_html_report_condenses_standards_and_names_unnamed_areas() -> None:
    areas = pd.DataFrame({"name": [None, "乙居委"], "display_name": ["小区 (121.503, 31.295)",
                                                                    "乙居委"],
                          "elderly_60": [100.0, 50.0], "circle_share": [0.1, 0.9],
                          "gap_rank": [1, 2]})
    page = render_report("测试", lang="zh", circle_minutes=15, summary=pd.DataFrame(),
                         streets=pd.DataFrame(), areas=areas, siting=[],
                         standards=_standards(), map_html=None, notes=[], inputs={},
                         generated="now")
    assert "小区 (121.503, 31.295)" in page
    std = page.split("<h2>规划标准检查</h2>")[1].split("<h2>")[0]
    assert std.count("<tr>") == 3  # header + one row per standard, not per street
    assert "达标街道（个）" in std and "全区结果" in std and "工作簿" in std
    assert "甲街道" not in std and "无设施数据" not in std


def test_section_numbers() -> None:
    assert [section_number(i) for i in (1, 2, 9, 10, 11, 20, 21)] == [
        "一、", "二、", "九、", "十、", "十一、", "二十、", "二十一、"]
    assert section_number(3, "en") == "3. "
    with pytest.raises(ValueError):
        section_number(0)


def _word_pages(docx: Path, tmp_path: Path) -> Image.Image:
    """Page 1 of ``docx`` converted with LibreOffice, as an image."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice is not None
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(docx)],
                   check=True, capture_output=True, timeout=180)
    pdf = tmp_path / docx.with_suffix(".pdf").name
    assert pdf.is_file() and pdf.stat().st_size > 1000
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True, capture_output=True, timeout=60)
    page = next(tmp_path.glob("page*.png"))
    return Image.open(page).convert("L")


def test_geoplan_report_writes_a_word_report(tmp_path: Path) -> None:
    """`geoplan report` writes <area>-report.docx beside the HTML: title, numbered
    sections, tables with Chinese headers, the print map inline, sources and the estimate
    label. With LibreOffice installed it also converts to PDF with a non-blank page 1."""
    cfg = write_case(tmp_path / "case")
    assert main(["report", str(cfg), "-q"]) == 0
    data = tmp_path / "case" / "out" / "data"
    docx = data / "small-report.docx"
    assert docx.is_file() and (data / "small-report.html").is_file()
    assert "small-report.docx" in (data / "small-report-manifest.json").read_text("utf-8")
    doc = Document(str(docx))
    heads = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    title = [p.text for p in doc.paragraphs if p.style.name == "Title"]
    assert title and title[0].strip()
    top = [h for h in heads if any(h.startswith(n) for n in NUMBERED)]
    assert [h[:2] for h in top] == list(NUMBERED[:len(top)]), top  # 一、二、三… in order
    assert len(top) >= 5
    for part in ("研究范围概况", "缺口最大的区域", "选址方案", "覆盖图", "方法与数据来源"):
        assert any(part in h for h in top), (part, top)
    headers = [[c.text for c in t.rows[0].cells] for t in doc.tables]
    assert ["指标", "数值"] in headers
    assert any("区域" in h and "60岁以上老人（人）" in " ".join(h) for h in headers), headers
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "估算" in body and "OpenStreetMap" in body
    # the print map, inline, as a PNG part of the package
    inline = doc.inline_shapes
    assert len(inline) == 1 and inline[0].width > 0
    blips = [r for r in doc.part.rels.values() if "image" in r.reltype]
    assert blips and blips[0].target_part.content_type == "image/png"
    with Image.open(io.BytesIO(blips[0].target_part.blob)) as im:
        assert im.size[0] > 1500  # print resolution


def test_word_report_converts_to_pdf(tmp_path: Path) -> None:
    """Through LibreOffice (when installed) the report becomes a PDF whose page 1 is not
    blank. Only this conversion is skipped without ``soffice``; the .docx itself is read
    back in every run by the tests above."""
    if not (shutil.which("soffice") or shutil.which("libreoffice")):
        pytest.skip("LibreOffice (soffice) not installed: PDF conversion not checked")
    from geoplan.outputs.staticmap import build_static_map, static_map_png
    from tests.test_outputs import _areas, _facilities, _iso_by_type

    png = static_map_png(build_static_map(_areas(), _facilities(), _iso_by_type(),
                                          title="杨浦区测试"), dpi=60)
    docx = write_word_report(tmp_path / "r.docx", "杨浦区十五分钟养老服务圈评估", lang="zh",
                             circle_minutes=15,
                             summary=pd.DataFrame({"elderly_60": [28586.0],
                                                   "circle_share": [0.434]}),
                             streets=pd.DataFrame(), areas=pd.DataFrame({"name": ["甲"]}),
                             siting=[], standards=_standards(), map_png=png, notes=["注"],
                             inputs={}, generated="2026-01-01")
    page = _word_pages(docx, tmp_path)
    dark = np.asarray(page) < 200
    assert dark.mean() > 0.01, "page 1 of the PDF looks blank"
    assert dark[: page.height // 4].mean() > 0.005, "no title or text at the top of page 1"


def test_word_report_english_and_siting(tmp_path: Path) -> None:
    """English headings numbered 1. 2. …, a scenario's sites table, no picture without a
    map, the standards section condensed."""
    from geoplan.outputs.report import SitingSummary

    sites = gpd.GeoDataFrame({"rank": [1, 2], "type": ["canteen", "canteen"],
                              "name": ["A", "B"], "marginal": [120.0, 80.0]},
                             geometry=gpd.points_from_xy([121.5, 121.51], [31.29, 31.3]),
                             crs=4326)
    sc = SitingSummary("canteens-2", pd.DataFrame({"model": ["mclp"]}), sites,
                       pd.DataFrame())
    path = write_word_report(tmp_path / "r.docx", "Test district", lang="en",
                             circle_minutes=15, summary=pd.DataFrame({"elderly_60": [10.0]}),
                             streets=pd.DataFrame(), areas=pd.DataFrame({"name": ["x"]}),
                             siting=[sc], standards=_standards(), map_png=None, notes=["n1"],
                             inputs={"areas: a.geojson": "ab" * 32}, generated="now")
    doc = Document(str(path))
    heads = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert heads[0] == "1. Study area" and heads[-1].startswith(f"{len(heads)}. ")
    assert any(h.endswith("Planning standards") for h in heads)
    assert "Scenario canteens-2" in [p.text for p in doc.paragraphs]
    headers = [[c.text for c in t.rows[0].cells] for t in doc.tables]
    assert any("Streets passing" in h for h in headers)
    std = next(t for t in doc.tables if "Streets passing" in [c.text for c in t.rows[0].cells])
    assert len(std.rows) == 3
    assert len(doc.inline_shapes) == 0


def test_word_report_bytes_do_not_depend_on_the_clock(tmp_path: Path, monkeypatch) -> None:
    """Same inputs, same bytes: python-docx's zip members carry the save time unless fixed."""
    import time
    import zipfile

    def write(name: str) -> bytes:
        path = write_word_report(tmp_path / name, "甲区", lang="zh", circle_minutes=15,
                                 summary=pd.DataFrame({"elderly_60": [10.0]}),
                                 streets=pd.DataFrame(), areas=pd.DataFrame({"name": ["x"]}),
                                 siting=[], standards=_standards(), map_png=None, notes=["n"],
                                 inputs={}, generated="2026-11-30")
        return path.read_bytes()

    first = write("a.docx")
    real = time.localtime
    monkeypatch.setattr(time, "localtime", lambda *a: real(time.time() + 86400 * 400))
    second = write("b.docx")
    assert first == second
    assert {i.date_time for i in zipfile.ZipFile(io.BytesIO(first)).infolist()} == {
        (1980, 1, 1, 0, 0, 0)}
    assert Document(io.BytesIO(first)).paragraphs  # still a valid package


def test_siting_results_keep_the_scenario_name_not_the_file_stem(tmp_path: Path) -> None:
    """A scenario named "1+N" is written to <area>-site-1_N.gpkg; the report says "1+N"."""
    from geoplan.outputs.report import read_siting

    sites = gpd.GeoDataFrame({"rank": [1]}, geometry=gpd.points_from_xy([121.5], [31.3]),
                             crs=4326)
    for stem, name in (("1_N", "1+N"), ("canteens-7", "canteens-7")):
        gpkg = tmp_path / f"d-site-{stem}.gpkg"
        gpd.GeoDataFrame({"scenario": [name], "model": ["mclp"]}, geometry=[None],
                         crs=4326).to_file(gpkg, layer="scenario")
        sites.to_file(gpkg, layer="proposed_sites")
    assert [s.name for s in read_siting(tmp_path, "d")] == ["1+N", "canteens-7"]
