"""``geoplan report`` on the real demo data: one HTML page, workbook and GeoPackage."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pyogrio
from openpyxl import load_workbook

from geoplan.cli import main
from tests.test_site import demo_config


def test_report_on_the_demo(demo_dir: Path, tmp_path: Path) -> None:
    cfg = demo_config(demo_dir, tmp_path)
    assert main(["report", str(cfg), "-q"]) == 0  # before any siting run
    page = (tmp_path / "data" / "yangpu-wujiaochang-report.html").read_text(encoding="utf-8")
    assert "输出目录中没有选址结果" in page
    assert main(["site", str(cfg), "--scenario", "canteens-7", "--method", "heuristic",
                 "-q"]) == 0
    assert main(["report", str(cfg), "-q"]) == 0
    page = (tmp_path / "data" / "yangpu-wujiaochang-report.html").read_text(encoding="utf-8")
    for text in ("研究范围概况", "缺口最大的区域", "选址方案", "canteens-7", "<svg",
                 "规划标准检查", "10,793", "<iframe", "srcdoc=", "方法与数据来源",
                 "OpenStreetMap", "估算", "公平性：规划前后", "最低区域覆盖率", "基尼系数"):
        assert text in page, text
    assert page.count("<html") == 1  # the map is escaped inside srcdoc, not nested raw
    # the embedded map carries the proposed sites, numbered, with before → after in popups
    srcdoc = re.search(r'srcdoc="([^"]*)"', page)
    assert srcdoc is not None
    frame = re.sub(r"\\u([0-9a-f]{4})", lambda x: chr(int(x.group(1), 16)),
                   html.unescape(srcdoc.group(1)))
    assert re.search(r'"建议新增长者食堂/社区助餐点（7处） · 方案 canteens-7" : '
                     r"(feature_group_\d+)", frame)
    assert frame.count("覆盖老人（新增前→后）") == 7
    wb = load_workbook(tmp_path / "data" / "yangpu-wujiaochang-report.xlsx")
    assert {"全区汇总", "区域指标", "规划标准检查", "说明"} <= set(wb.sheetnames)
    assert any(n.startswith("建议选址-canteens-7") for n in wb.sheetnames)
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
    layers = {n for n, _ in pyogrio.list_layers(tmp_path / "data" /
                                                "yangpu-wujiaochang-report.gpkg")}
    assert {"areas", "summary", "standards", "proposed_sites_canteens_7",
            "coverage_curve_canteens_7"} <= layers
    assert main(["report", str(tmp_path / "missing.toml")]) == 2
